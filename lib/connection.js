// connection: one socket to one server — a FIFO of requests in flight, the requests of one turn of the
// event loop written together (their gets as multi-key gets), replies read incrementally from Buffers, timeouts.
'use strict';

const net = require('net');
const tls = require('tls');
const { connectionError, serverError, socketError } = require('./errors');
const { GetBatch, batchEnd } = require('./get_batch');

// Past this many answered requests at the head of the FIFO, they are cut off the array.
const COMPACT_AT = 1024;
// The first this-many requests of a turn are written at once, the rest when the turn ends: the
// server starts on the first while the others are made, and its replies come back in two pieces.
// One write for all would make client and server take turns, each idle while the other works
// (against simplecached, 50 in flight: 0.45M ops/s; 0.80M with the first 24 written early).
const EARLY_WRITE_AT = 24;
// Gets answered one by one without an error line before a connection batches again, once a
// batch was lost (see onBatchLost): enough that a proxy with a server down rarely gets there.
const RESUME_BATCHES_AFTER = 1000;

function toBuffer(part) {
	return typeof part === 'string' ? Buffer.from(part) : part;
}

class Connection {
	// owner: {onConnect(conn), onDrop(conn, err), onReply(), onBatchLost(), onBatchesResumed()};
	// settings: {host, port, path (a Unix socket instead), protocol (module), encoding, typedValues,
	// timeout (ms per request, 0: none),
	// connectTimeout (ms, 0: none), batchGets (send a turn's gets as multi-key gets, where the
	// protocol has them), batchesSuspended (not yet: the server lost a batch lately)}.
	constructor(owner, settings) {
		this.owner = owner;
		this.label = settings.path || `${settings.host}:${settings.port}`;
		this.protocol = settings.protocol;
		this.encoding = settings.encoding;
		this.typed = settings.typedValues === true;
		this.timeout = settings.timeout;
		this._mayBatch = settings.batchGets !== false && settings.protocol.batchesGets === true;
		this.batchGets = this._mayBatch && !settings.batchesSuspended;
		this._cleanGets = 0;         // gets answered in a row without an error line, while not batching
		this.connected = false;
		this.closing = false;
		this.error = null;           // set once: the connection is unusable from then on
		this._queue = [];            // requests (and GetBatches) written, oldest at _head
		this._head = 0;
		this._unsent = [];           // requests of this turn, written by the next flush
		this._payloads = [];         // ... and their encoded bytes
		this._text = '';             // what a flush writes, while it is all strings
		this._parts = null;          // ... or as strings and Buffers once a Buffer is queued
		this._flushScheduled = false;
		this._wroteEarly = false;    // this turn's first EARLY_WRITE_AT requests are written
		this._chunks = [];           // received bytes not yet consumed by a reply reader
		this._buffered = 0;
		this._need = 0;              // bytes the oldest reply needs before it is worth reading again
		this._timer = null;
		this._turnEndBound = () => this._onTurnEnd();
		this._batchLostBound = () => this.owner.onBatchLost();
		this._timerBound = () => this._onTimer();
		// With tls, the connection is up once the handshake is done, not when TCP connects.
		const where = settings.path ? { path: settings.path } : { port: settings.port, host: settings.host };
		this._socket = settings.tls ? tls.connect({ ...settings.tls, ...where }) : net.connect(where);
		this._socket.setNoDelay(true);
		this._connectTimer = settings.connectTimeout > 0 ? setTimeout(() => this._connectTimedOut(settings.connectTimeout), settings.connectTimeout) : null;
		this._socket.on(settings.tls ? 'secureConnect' : 'connect', () => this._onConnect());
		this._socket.on('data', (chunk) => this._onData(chunk));
		this._socket.on('error', (err) => this._fail(socketError(err, this.label, this.connected)));
		this._socket.on('close', () => this._fail(connectionError(`connection to ${this.label} closed`, 'ECONNRESET')));
	}

	// Queues a request whose bytes the protocol encoded (a string, or strings and Buffers).
	send(request, payload) {
		if (this.error !== null) {
			process.nextTick(() => request.finish(this.error));
			return;
		}
		if (this.timeout > 0) {
			request.deadline = Date.now() + this.timeout;
			if (this._timer === null) this._armTimer(this.timeout);
		}
		this._unsent.push(request);
		this._payloads.push(payload);
		if (!this._flushScheduled) {
			this._flushScheduled = true;
			setImmediate(this._turnEndBound);
		}
		if (this._unsent.length === EARLY_WRITE_AT && !this._wroteEarly) {
			this._wroteEarly = true;
			this._flush();
		}
	}

	// Sends what is queued, lets the server answer every request already sent, then closes.
	close(done) {
		if (this._socket.destroyed) {
			process.nextTick(done);
			return;
		}
		this.closing = true;
		this._socket.once('close', () => done());
		this._flush();
		this._socket.end();
	}

	// Drops the connection now: every request in flight fails with `err`.
	destroy(err) {
		this._fail(err);
		this._socket.destroy();
	}

	_addPayload(payload) {
		if (typeof payload === 'string' && this._parts === null) {
			this._text += payload;
			return;
		}
		if (this._parts === null) this._parts = [];
		if (this._text !== '') {
			this._parts.push(this._text);
			this._text = '';
		}
		if (typeof payload === 'string') this._parts.push(payload);
		else for (let i = 0; i < payload.length; i++) this._parts.push(payload[i]);
	}

	// Requests made in one turn of the event loop go out together (but for the early first write)
	// — also those made in reply to several sockets read in one poll.
	_onTurnEnd() {
		this._flushScheduled = false;
		this._wroteEarly = false;
		this._flush();
	}

	// Writes the requests waiting (while connecting, they wait in the socket). Consecutive gets go
	// as one GetBatch: memcached answers each command with its own send, so batching saves both
	// sides a system call per get, and replies then arrive many to a read.
	_flush() {
		if (this.error !== null || this._unsent.length === 0) return;
		const requests = this._unsent;
		const payloads = this._payloads;
		this._unsent = [];
		this._payloads = [];
		for (let i = 0; i < requests.length;) {
			const end = this.batchGets ? batchEnd(requests, i) : i + 1;
			if (end - i === 1) {
				this._queue.push(requests[i]);
				this._addPayload(payloads[i]);
			} else {
				const batch = new GetBatch(requests.slice(i, end), this._batchLostBound);
				this._queue.push(batch);
				this._addPayload(this.protocol.encode(batch));
			}
			i = end;
		}
		if (this._parts !== null) {
			if (this._text !== '') this._parts.push(this._text);
			const data = Buffer.concat(this._parts.map(toBuffer));
			this._parts = null;
			this._text = '';
			this._socket.write(data);
		} else if (this._text !== '') {
			const text = this._text;
			this._text = '';
			this._socket.write(text);
		}
	}

	// Sends gets one by one until RESUME_BATCHES_AFTER of them were answered without an error.
	suspendBatches() {
		this.batchGets = false;
		this._cleanGets = 0;
	}

	// While batches are suspended: whether this answered get brings them back.
	_countGet(request) {
		if (request.error !== null) this._cleanGets = 0;
		else if (++this._cleanGets >= RESUME_BATCHES_AFTER) {
			this.batchGets = true;
			this.owner.onBatchesResumed();
		}
	}

	_onConnect() {
		this.connected = true;
		if (this._connectTimer !== null) clearTimeout(this._connectTimer);
		this._connectTimer = null;
		this.owner.onConnect(this);
	}

	_connectTimedOut(ms) {
		this._connectTimer = null;
		if (!this.connected) this.destroy(connectionError(`connect to ${this.label} timed out after ${ms} ms`, 'ETIMEDOUT'));
	}

	// One timer per connection, not per request: it wakes at the oldest request's deadline and
	// either drops the connection (a late reply would desynchronise the FIFO) or sleeps again.
	_armTimer(ms) {
		this._timer = setTimeout(this._timerBound, ms);
		this._timer.unref();
	}

	_onTimer() {
		this._timer = null;
		const oldest = this._head < this._queue.length ? this._queue[this._head] : this._unsent[0];
		if (oldest === undefined || this.error !== null) return;
		const left = oldest.deadline - Date.now();
		if (left > 0) this._armTimer(left);
		else this.destroy(connectionError(`request to ${this.label} timed out after ${this.timeout} ms`, 'ETIMEDOUT'));
	}

	// Received bytes, joined with what is left of earlier chunks: while a large value is still
	// arriving, chunks are only collected, so it is copied once rather than once per chunk.
	_onData(chunk) {
		let data = chunk;
		if (this._chunks.length > 0) {
			this._chunks.push(chunk);
			this._buffered += chunk.length;
			if (this._buffered < this._need) return;
			data = this._chunks.length === 2 ? Buffer.concat(this._chunks, this._buffered) : Buffer.concat(this._chunks);
		}
		this._chunks = [];
		this._buffered = 0;
		this._need = 0;
		const pos = this._readReplies(data);
		if (pos < data.length && this.error === null) {
			this._chunks.push(pos === 0 ? data : data.subarray(pos));
			this._buffered = data.length - pos;
			const oldest = this._queue[this._head];
			this._need = oldest === undefined ? 0 : oldest.need;
		}
	}

	// Hands the bytes to the reader of the oldest request until they run out; returns where it stopped.
	_readReplies(data) {
		let pos = 0;
		// Whether a request succeeded: proof the server works. An error line does not count — it
		// may be a refusal (too many connections) right before the server hangs up.
		let succeeded = false;
		while (pos < data.length) {
			const request = this._queue[this._head];
			if (request === undefined) {
				this._unexpected(data, pos);
				return data.length;
			}
			try {
				pos = this.protocol.read(request, data, pos, this.encoding, this.typed);
			} catch (err) {
				this.destroy(err);
				return data.length;
			}
			if (!request.complete) break;
			this._shift();
			if (request.error === null) succeeded = true;
			if (!this.batchGets && this._mayBatch && (request.op === 'get' || request.op === 'gets')) this._countGet(request);
			request.finish(request.error, request.result);
			if (this.error !== null) return data.length;
		}
		if (succeeded) this.owner.onReply();
		return pos;
	}

	_shift() {
		this._queue[this._head++] = undefined;
		if (this._head === this._queue.length) {
			this._queue.length = 0;
			this._head = 0;
		} else if (this._head >= COMPACT_AT) {
			this._queue = this._queue.slice(this._head);
			this._head = 0;
		}
	}

	// Bytes nobody asked for: a server error (e.g. too many connections) or garbage.
	_unexpected(data, pos) {
		const nl = data.indexOf(10, pos);
		const line = data.toString('latin1', pos, nl < 0 ? data.length : nl).trim();
		const err = this.protocol.isErrorLine(Buffer.from(line))
			? Object.assign(serverError(line), { message: `${this.label} said ${line}` })
			: connectionError(`unexpected reply from ${this.label}: ${line}`, 'EPROTO');
		this.destroy(err);
	}

	// Fails every request in flight; only the first error counts. Tells the owner once.
	_fail(err) {
		if (this.error !== null) return;
		if (err.server === undefined) err.server = this.label;
		this.error = err;
		if (this._connectTimer !== null) clearTimeout(this._connectTimer);
		if (this._timer !== null) clearTimeout(this._timer);
		this._connectTimer = null;
		this._timer = null;
		const queue = this._queue;
		const head = this._head;
		const unsent = this._unsent;
		this._queue = [];
		this._head = 0;
		this._unsent = [];
		this._payloads = [];
		this._text = '';
		this._parts = null;
		this._chunks = [];
		// A server that hangs up with a batch in flight may have been refusing it (a proxy's error
		// line is lost when it resets the connection): the next connection starts without batches.
		let batchLost = false;
		for (let i = head; i < queue.length; i++) {
			if (queue[i] instanceof GetBatch) batchLost = true;
			queue[i].finish(err);
		}
		for (const request of unsent) request.finish(err);
		if (batchLost && !this.closing) this.owner.onBatchLost();
		this.owner.onDrop(this, err);
	}
}

module.exports = Connection;

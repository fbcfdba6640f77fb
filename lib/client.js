// Client: a connection to a simplecached server with many requests in flight (pipelined).
// Requests queue in order; replies are matched to them in order, one complete reply at a time.
'use strict';

const net = require('net');
const { EventEmitter } = require('events');
const options = require('./options');
const protocol = require('./simple_protocol');
const { toKeyBuffer, toValueBuffer } = require('./keys');
const { protocolError, connectionError } = require('./errors');
const { callbackOrPromise } = require('./callback');

const DEFAULTS = { port: 11311, host: '127.0.0.1', encoding: 'utf8' };

class Client extends EventEmitter {
	// new Client(options | port, callback(err, client)): connects at once; requests made before
	// the connection is up are sent as soon as it is.
	constructor(opts, callback) {
		super();
		if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback must be a function');
		const o = options.normalize(opts);
		this.port = options.integer(o, 'port', DEFAULTS.port, 1, 65535);
		this.host = options.string(o, 'host', DEFAULTS.host);
		this.encoding = o.encoding === null ? null : options.string(o, 'encoding', DEFAULTS.encoding);
		if (this.encoding !== null && !Buffer.isEncoding(this.encoding)) throw new RangeError(`option encoding: unknown encoding ${this.encoding}`);
		this._pending = [];     // requests sent or queued, awaiting replies, oldest first
		this._outgoing = [];    // encoded chunks to write on the next flush
		this._flushScheduled = false;
		this._input = null;     // bytes received that do not yet form a complete line
		this._error = null;     // set once the connection is unusable
		this._closing = false;
		this._connectCallback = callback || null;
		this._socket = net.connect({ port: this.port, host: this.host });
		this._socket.setNoDelay(true);
		this._socket.on('connect', () => this._onConnect());
		this._socket.on('data', (chunk) => this._onData(chunk));
		this._socket.on('error', (err) => this._fail(err));
		this._socket.on('close', () => this._fail(connectionError('connection closed', 'ECONNRESET')));
	}

	get(key, callback) {
		return this._request('get', key, undefined, callback);
	}

	set(key, value, callback) {
		return this._request('set', key, value, callback);
	}

	delete(key, callback) {
		return this._request('delete', key, undefined, callback);
	}

	// Sends what is queued, waits for every pending reply, then closes the connection.
	close(callback) {
		return callbackOrPromise(callback, (done) => {
			if (this._socket.destroyed) return process.nextTick(done, null);
			this._closing = true;
			this._socket.once('close', () => done(null));
			this._flush();
			this._socket.end();
			return undefined;
		});
	}

	_request(op, key, value, callback) {
		return callbackOrPromise(callback, (done) => {
			let request;
			try {
				request = { op, key: toKeyBuffer(key), value: undefined, done };
				let chunks;
				if (op === 'set') {
					const bytes = toValueBuffer(value);
					protocol.checkValue(bytes);
					chunks = protocol.encodeSet(request.key, bytes);
				} else {
					chunks = op === 'get' ? protocol.encodeGet(request.key) : protocol.encodeDelete(request.key);
				}
				if (this._error || this._closing) throw this._error || connectionError('client is closed', 'ECLOSED');
				this._outgoing.push(...chunks);
			} catch (err) {
				return process.nextTick(done, err);
			}
			this._pending.push(request);
			this._scheduleFlush();
			return undefined;
		});
	}

	// Requests made in one tick go out in one write.
	_scheduleFlush() {
		if (this._flushScheduled) return;
		this._flushScheduled = true;
		process.nextTick(() => this._flush());
	}

	_flush() {
		this._flushScheduled = false;
		if (this._outgoing.length === 0 || this._socket.destroyed) return;
		const data = Buffer.concat(this._outgoing);
		this._outgoing = [];
		this._socket.write(data);
	}

	_onConnect() {
		const cb = this._connectCallback;
		this._connectCallback = null;
		this.emit('connect');
		if (cb) cb(null, this);
	}

	_onData(chunk) {
		let data = this._input ? Buffer.concat([this._input, chunk]) : chunk;
		let start = 0;
		for (;;) {
			const nl = data.indexOf(10, start);
			if (nl < 0) break;
			const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
			const line = data.subarray(start, end);
			start = nl + 1;
			if (!this._onLine(line)) return;
		}
		this._input = start < data.length ? data.subarray(start) : null;
	}

	// Returns false when the reply made the stream unusable.
	_onLine(line) {
		const request = this._pending[0];
		if (request === undefined) {
			this._destroy(protocol.isErrorLine(line) ? protocolError(line.toString()) : connectionError(`unexpected reply: ${line}`, 'EPROTO'));
			return false;
		}
		if (protocol.isErrorLine(line)) {
			this._pending.shift();
			request.done(protocolError(line.toString()));
			return true;
		}
		const reply = protocol.replies[request.op](request, line);
		if (reply === null) {
			this._destroy(connectionError(`unexpected reply to ${request.op}: ${line}`, 'EPROTO'));
			return false;
		}
		if (reply.done) {
			this._pending.shift();
			request.done(null, this._decode(reply.value));
		}
		return true;
	}

	_decode(value) {
		if (!Buffer.isBuffer(value)) return value;
		// Copy out of the socket's chunk so the caller does not pin it.
		return this.encoding === null ? Buffer.from(value) : value.toString(this.encoding);
	}

	_destroy(err) {
		this._fail(err);
		this._socket.destroy();
	}

	// Fails every pending request and the connect callback. Only the first error counts; it is
	// emitted as 'error' only to listeners, since each request already got it.
	_fail(err) {
		const first = this._error === null;
		if (first) this._error = err;
		const pending = this._pending;
		this._pending = [];
		this._outgoing = [];
		for (const request of pending) request.done(this._error);
		const connectCallback = this._connectCallback;
		this._connectCallback = null;
		if (connectCallback) connectCallback(this._error);
		else if (first && !this._closing && this.listenerCount('error') > 0) this.emit('error', err);
	}
}

module.exports = Client;

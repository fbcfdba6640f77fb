// Client: one connection to a simplecached server, in the seed protocol or memcached's text
// protocol, with many requests in flight: requests queue in order and replies match them in order.
'use strict';

const net = require('net');
const tls = require('tls');
const { EventEmitter } = require('events');
const options = require('./options');
const { toKeyBuffer, toValueBuffer } = require('./keys');
const { protocolError, connectionError } = require('./errors');
const { callbackOrPromise } = require('./callback');

const PROTOCOLS = {
	simple: { module: require('./simple_protocol'), port: 11311 },
	memcached: { module: require('./text_protocol'), port: 11211 },
};

const STORAGE = new Set(['set', 'add', 'replace', 'append', 'prepend', 'cas']);
const KEYED = new Set([...STORAGE, 'get', 'gets', 'delete', 'incr', 'decr', 'touch']);
const MAX_TTL = 2 ** 31 - 1;
const MAX_FLAGS = 2 ** 32 - 1;

// (…args, opts?, callback?) → [opts, callback], for methods whose options may be left out.
function optionsAndCallback(opts, callback) {
	if (typeof opts === 'function') return [{}, opts];
	return [opts || {}, callback];
}

function storageOptions(opts) {
	return {
		ttl: options.integer(opts, 'ttl', 0, -MAX_TTL, MAX_TTL),
		flags: options.integer(opts, 'flags', 0, 0, MAX_FLAGS),
	};
}

function casToken(cas) {
	const text = typeof cas === 'bigint' || typeof cas === 'number' ? String(cas) : cas;
	if (typeof text !== 'string' || !/^\d{1,20}$/.test(text)) throw new TypeError('cas must be the unique from gets(): a string, BigInt or integer');
	return text;
}

function deltaToken(delta) {
	if (delta === undefined) return '1';
	if ((typeof delta === 'number' && Number.isSafeInteger(delta) && delta >= 0) || (typeof delta === 'bigint' && delta >= 0n && delta < 2n ** 64n)) {
		return String(delta);
	}
	throw new RangeError('delta must be a non-negative integer below 2^64');
}

class Client extends EventEmitter {
	// new Client(options | port, callback(err, client)): connects at once; requests made before
	// the connection is up are sent as soon as it is.
	// options: {port, host, protocol: 'simple' | 'memcached', encoding: 'utf8' | null (Buffers)}
	constructor(opts, callback) {
		super();
		if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback must be a function');
		const o = options.normalize(opts);
		const protocolName = options.string(o, 'protocol', 'simple');
		if (!PROTOCOLS[protocolName]) throw new RangeError(`option protocol must be 'simple' or 'memcached', got ${protocolName}`);
		this.protocol = protocolName;
		this._protocol = PROTOCOLS[protocolName].module;
		this.port = options.integer(o, 'port', PROTOCOLS[protocolName].port, 1, 65535);
		this.host = options.string(o, 'host', '127.0.0.1');
		this.encoding = o.encoding === null ? null : options.string(o, 'encoding', 'utf8');
		if (this.encoding !== null && !Buffer.isEncoding(this.encoding)) throw new RangeError(`option encoding: unknown encoding ${this.encoding}`);
		this._pending = [];     // requests sent or queued, awaiting replies, oldest first
		this._outgoing = [];    // encoded chunks to write on the next flush
		this._flushScheduled = false;
		this._input = null;     // received bytes not yet consumed by a reply reader
		this._error = null;     // set once the connection is unusable
		this._closing = false;
		this._connectCallback = callback || null;
		// tls: true, or an object of tls.connect options (ca, rejectUnauthorized, servername, cert, key, ...).
		this._socket = o.tls ? tls.connect({ ...(o.tls === true ? {} : o.tls), port: this.port, host: this.host })
			: net.connect({ port: this.port, host: this.host });
		this._socket.setNoDelay(true);
		this._socket.on(o.tls ? 'secureConnect' : 'connect', () => this._onConnect());
		this._socket.on('data', (chunk) => this._onData(chunk));
		this._socket.on('error', (err) => this._fail(err));
		this._socket.on('close', () => this._fail(connectionError('connection closed', 'ECONNRESET')));
	}

	// The value, or null when the key is absent.
	get(key, callback) {
		return this._request({ op: 'get', key }, callback, (r) => (r.values ? this._decodeFirst(r.values) : this._decode(r.value)));
	}

	// {value, cas, flags}, or null (memcached protocol).
	gets(key, callback) {
		return this._request({ op: 'gets', key }, callback, (r) => {
			const hit = r.values[0];
			return hit ? { value: this._decode(hit.value), cas: hit.cas, flags: hit.flags } : null;
		});
	}

	// {key: value} for the keys present, in one request (memcached protocol).
	getMulti(keys, callback) {
		return this._request({ op: 'getMulti', keys }, callback, (r) => {
			const result = {};
			for (const hit of r.values) result[r.names.get(hit.key)] = this._decode(hit.value);
			return result;
		});
	}

	// true once stored. options: {ttl (seconds), flags} (memcached protocol).
	set(key, value, opts, callback) {
		return this._store('set', key, value, opts, callback);
	}

	// true if stored, false if the key exists already.
	add(key, value, opts, callback) {
		return this._store('add', key, value, opts, callback);
	}

	// true if stored, false if the key is absent.
	replace(key, value, opts, callback) {
		return this._store('replace', key, value, opts, callback);
	}

	append(key, value, callback) {
		return this._store('append', key, value, {}, callback);
	}

	prepend(key, value, callback) {
		return this._store('prepend', key, value, {}, callback);
	}

	// true if stored; false if the item changed since gets() returned `cas`, or is gone.
	cas(key, value, cas, opts, callback) {
		[opts, callback] = optionsAndCallback(opts, callback);
		return this._request({ op: 'cas', key, value, cas, ...opts }, callback);
	}

	// true if deleted, false if absent.
	delete(key, callback) {
		return this._request({ op: 'delete', key }, callback);
	}

	// The new value (a Number, or a BigInt past 2^53), or null when the key is absent.
	incr(key, delta, callback) {
		if (typeof delta === 'function') [delta, callback] = [undefined, delta];
		return this._request({ op: 'incr', key, delta }, callback);
	}

	decr(key, delta, callback) {
		if (typeof delta === 'function') [delta, callback] = [undefined, delta];
		return this._request({ op: 'decr', key, delta }, callback);
	}

	// true if the key's expiry was set, false if absent.
	touch(key, ttl, callback) {
		return this._request({ op: 'touch', key, ttl }, callback);
	}

	// Invalidates every item, now or after `delay` seconds.
	flushAll(delay, callback) {
		if (typeof delay === 'function') [delay, callback] = [undefined, delay];
		return this._request({ op: 'flushAll', delay }, callback);
	}

	// The server's counters ({pid, uptime, curr_items, ...}); group: 'settings', 'items', 'slabs'.
	stats(group, callback) {
		if (typeof group === 'function') [group, callback] = [undefined, group];
		return this._request({ op: 'stats', group }, callback);
	}

	version(callback) {
		return this._request({ op: 'version' }, callback);
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

	_store(op, key, value, opts, callback) {
		[opts, callback] = optionsAndCallback(opts, callback);
		return this._request({ op, key, value, ...opts }, callback);
	}

	// Validates and encodes a request, queues it, and settles through `shape` once read.
	_request(fields, callback, shape = (r) => r.value) {
		return callbackOrPromise(callback, (done) => {
			let request;
			try {
				request = this._prepare(fields);
				const chunks = this._protocol.encode(request);
				if (this._error || this._closing) throw this._error || connectionError('client is closed', 'ECLOSED');
				this._outgoing.push(...chunks);
			} catch (err) {
				return process.nextTick(done, err);
			}
			request.done = (err, r) => (err ? done(err) : done(null, shape(r)));
			this._pending.push(request);
			this._scheduleFlush();
			return undefined;
		});
	}

	// Checks every argument before anything is queued, so a bad call never desynchronises the stream.
	_prepare(fields) {
		const request = { op: fields.op, complete: false };
		if (KEYED.has(fields.op)) request.key = toKeyBuffer(fields.key);
		if (fields.op === 'getMulti') {
			if (!Array.isArray(fields.keys) || fields.keys.length === 0) throw new TypeError('keys must be a non-empty array');
			request.keys = fields.keys.map(toKeyBuffer);
			request.names = new Map(request.keys.map((k, i) => [k.toString('latin1'), String(fields.keys[i])]));
		}
		if ('value' in fields) request.value = toValueBuffer(fields.value);
		if (STORAGE.has(fields.op)) Object.assign(request, storageOptions(fields));
		if (fields.op === 'cas') request.cas = casToken(fields.cas);
		if (fields.op === 'incr' || fields.op === 'decr') request.delta = deltaToken(fields.delta);
		if (fields.op === 'touch') request.ttl = options.integer(fields, 'ttl', undefined, -MAX_TTL, MAX_TTL);
		if (fields.op === 'touch' && request.ttl === undefined) throw new TypeError('touch needs a ttl in seconds');
		if (fields.op === 'flushAll') request.delay = options.integer(fields, 'delay', 0, 0, MAX_TTL);
		if (fields.op === 'stats' && fields.group !== undefined) {
			if (!['settings', 'items', 'slabs'].includes(fields.group)) throw new RangeError("stats group must be 'settings', 'items' or 'slabs'");
			request.group = fields.group;
		}
		return request;
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

	// Hands received bytes to the reader of the oldest request until they run out.
	_onData(chunk) {
		const data = this._input ? Buffer.concat([this._input, chunk]) : chunk;
		let pos = 0;
		while (pos < data.length) {
			const request = this._pending[0];
			if (request === undefined) {
				// Nothing was asked: a server error (e.g. too many connections) or garbage.
				const line = data.toString('latin1', pos, data.indexOf(10, pos) < 0 ? data.length : data.indexOf(10, pos)).trim();
				const err = this._protocol.isErrorLine(Buffer.from(line)) ? protocolError(line) : connectionError(`unexpected reply: ${line}`, 'EPROTO');
				this._destroy(err);
				return;
			}
			let next;
			try {
				next = this._protocol.read(request, data, pos);
			} catch (err) {
				this._destroy(err);
				return;
			}
			if (!request.complete) {
				pos = next;
				break;
			}
			pos = next;
			this._pending.shift();
			request.done(request.error || null, request);
		}
		this._input = pos < data.length ? data.subarray(pos) : null;
	}

	_decode(value) {
		if (!Buffer.isBuffer(value)) return value;
		// Copy out of the socket's chunk so the caller does not pin it.
		return this.encoding === null ? Buffer.from(value) : value.toString(this.encoding);
	}

	_decodeFirst(values) {
		return values.length ? this._decode(values[0].value) : null;
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

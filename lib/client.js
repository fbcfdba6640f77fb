// Client: simplecached's and memcached's client — one server or many (ketama, as nutcracker), in the
// seed protocol or memcached's text protocol, many requests in flight per connection, failover.
'use strict';

const { EventEmitter } = require('events');
const options = require('./options');
const Request = require('./request');
const Backend = require('./backend');
const { Continuum } = require('./ketama');
const { clientSettings, serverLabel } = require('./client_options');
const { checkKey, checkValue } = require('./keys');
const { connectionError, serverError, argumentError, SimplecachedError, typeError, rangeError } = require('./errors');
const { encodeTyped } = require('./typed_values');
const { callbackOrPromise } = require('./callback');

const MAX_TTL = 2 ** 31 - 1;
const MAX_FLAGS = 2 ** 32 - 1;
const STATS_GROUPS = ['settings', 'items', 'slabs'];
const STORAGE_OPTIONS = ['ttl', 'expires', 'flags'];
const NO_ARGS = Object.freeze({});   // no arguments besides the key (get, delete; incr by 1)
// Bytes of keys in one getMulti request to one server: its get line stays far below any server's
// limit, and a request of this size is a few round trips' worth of work.
const GET_LINE_BUDGET = 64 * 1024;

function casToken(cas) {
	const text = typeof cas === 'bigint' || typeof cas === 'number' ? String(cas) : cas;
	if (typeof text !== 'string' || !/^\d{1,20}$/.test(text)) throw typeError('cas must be the unique from gets(): a string, BigInt or integer');
	return text;
}

function deltaToken(delta) {
	if (delta === undefined) return '1';
	if ((typeof delta === 'number' && Number.isSafeInteger(delta) && delta >= 0) || (typeof delta === 'bigint' && delta >= 0n && delta < 2n ** 64n)) {
		return String(delta);
	}
	throw rangeError('delta must be a non-negative integer below 2^64');
}

function checkCallback(callback) {
	if (callback !== undefined && typeof callback !== 'function') throw typeError('callback must be a function');
}

// A refused call answers as the call would have: through its callback on the next tick, or a rejection.
function refuse(err, callback) {
	if (callback === undefined) return Promise.reject(err);
	process.nextTick(callback, err);
	return undefined;
}

class Client extends EventEmitter {
	// new Client(options | port, callback(err, client)): connects at once; requests made before
	// the connections are up are sent as soon as they are. The callback gets an error only when
	// no server could be reached. See README.md for every option.
	constructor(opts, callback) {
		super();
		checkCallback(callback);
		const { servers, many, settings } = clientSettings(opts);
		this.protocol = settings.protocolName;
		this.encoding = settings.encoding;
		if (!many) {
			this.port = servers[0].port;
			this.host = servers[0].host;
			this.path = servers[0].path;
		}
		this.servers = servers.map(serverLabel);
		this.closing = false;
		this._many = many;
		this._settings = settings;
		this._protocol = settings.protocol;
		this._connectCallback = callback || null;
		this._firstOutcomes = 0;
		this._firstError = null;
		this._anyConnected = false;
		this._rebuildTimer = null;
		const owner = {
			onFirstOutcome: (backend, err) => this._firstOutcome(err),
			onConnectionError: (backend, err) => this._connectionError(err),
			onDead: (backend, err, wasDead) => this._backendDead(backend, err, wasDead),
			onAlive: (backend) => this._backendAlive(backend),
		};
		this._backends = servers.map((address) => new Backend(address, settings, owner));
		this._ring = null;           // {continuum, backends}: the servers keys are hashed onto
		if (this._backends.length > 1) this._rebuildRing();
	}

	// The value, or null when the key is absent.
	get(key, callback) {
		return this._call('get', key, NO_ARGS, callback);
	}

	// {value, cas, flags}, or null (memcached protocol).
	gets(key, callback) {
		return this._call('gets', key, NO_ARGS, callback);
	}

	// {key: value} for the keys present: one request per server holding some of them (memcached protocol).
	getMulti(keys, callback) {
		checkCallback(callback);
		let groups;
		try {
			if (!Array.isArray(keys) || keys.length === 0) throw typeError('keys must be a non-empty array');
			groups = this._groupKeys(keys.map(checkKey), keys);
			for (const group of groups) group.payload = this._protocol.encode(group.request);
			if (this.closing) throw connectionError('client is closed', 'ECLOSED');
		} catch (err) {
			return refuse(err, callback);
		}
		return callbackOrPromise(callback, (done) => this._getMulti(groups, done));
	}

	// true once stored. options: {ttl (seconds; memjs's `expires` too), flags}, or the ttl as a
	// number (npm memcached's lifetime) — memcached protocol only: the seed protocol has no expiry.
	set(key, value, opts, callback) {
		if (typeof opts === 'function') return this._call('set', key, { value }, opts);
		return this._call('set', key, { value, opts }, callback);
	}

	// true if stored, false if the key exists already.
	add(key, value, opts, callback) {
		if (typeof opts === 'function') return this._call('add', key, { value }, opts);
		return this._call('add', key, { value, opts }, callback);
	}

	// true if stored, false if the key is absent.
	replace(key, value, opts, callback) {
		if (typeof opts === 'function') return this._call('replace', key, { value }, opts);
		return this._call('replace', key, { value, opts }, callback);
	}

	append(key, value, callback) {
		return this._call('append', key, { value }, callback);
	}

	prepend(key, value, callback) {
		return this._call('prepend', key, { value }, callback);
	}

	// true if stored; false if the item changed since gets() returned `cas`, or is gone.
	cas(key, value, cas, opts, callback) {
		if (typeof opts === 'function') return this._call('cas', key, { value, cas }, opts);
		return this._call('cas', key, { value, cas, opts }, callback);
	}

	// true if deleted, false if absent.
	delete(key, callback) {
		return this._call('delete', key, NO_ARGS, callback);
	}

	// The new value (a Number, or a BigInt past 2^53), or null when the key is absent.
	incr(key, delta, callback) {
		if (typeof delta === 'function') return this._call('incr', key, NO_ARGS, delta);
		return this._call('incr', key, { delta }, callback);
	}

	decr(key, delta, callback) {
		if (typeof delta === 'function') return this._call('decr', key, NO_ARGS, delta);
		return this._call('decr', key, { delta }, callback);
	}

	// true if the key's expiry was set, false if absent.
	touch(key, ttl, callback) {
		return this._call('touch', key, { ttl }, callback);
	}

	// Invalidates every item (on every server), now or after `delay` seconds.
	flushAll(delay, callback) {
		if (typeof delay === 'function') [delay, callback] = [undefined, delay];
		return this._everyServer('flushAll', delay, callback, () => true);
	}

	// The server's counters ({pid, uptime, curr_items, ...}); group: 'settings', 'items', 'slabs'.
	// With option `servers`: {'host:port': counters} for each server.
	stats(group, callback) {
		if (typeof group === 'function') [group, callback] = [undefined, group];
		return this._everyServer('stats', group, callback, null);
	}

	// The version string; with option `servers`: {'host:port': version}.
	version(callback) {
		return this._everyServer('version', undefined, callback, null);
	}

	// 'host:port' of the server `key` goes to now (ketama over the live servers), or null if none.
	serverFor(key) {
		const checked = checkKey(key);
		const backend = this._backends.length === 1 ? this._backends[0] : this._locate(checked);
		return backend === null ? null : backend.label;
	}

	// Sends what is queued, waits for every pending reply, then closes every connection.
	close(callback) {
		return callbackOrPromise(callback, (done) => {
			this.closing = true;
			if (this._rebuildTimer !== null) clearTimeout(this._rebuildTimer);
			this._rebuildTimer = null;
			let open = this._backends.length;
			for (const backend of this._backends) {
				backend.close(() => {
					if (--open === 0) done(null);
				});
			}
		});
	}

	// Checks every argument, then routes the request to its server. Nothing is queued when a
	// check fails, so a bad call never desynchronises a connection. args: what the operation
	// takes besides the key, by name: {value, opts: {ttl, flags}, cas, delta, ttl}.
	_call(op, key, args, callback) {
		checkCallback(callback);
		const request = new Request(op, null);
		let payload;
		try {
			request.key = checkKey(key);
			this._prepare(request, args);
			payload = this._protocol.encode(request);
			if (this.closing) throw connectionError('client is closed', 'ECLOSED');
		} catch (err) {
			return refuse(err, callback);
		}
		if (callback !== undefined) {
			request.callback = callback;
			this._route(request, payload);
			return undefined;
		}
		return new Promise((resolve, reject) => {
			request.resolve = resolve;
			request.reject = reject;
			this._route(request, payload);
		});
	}

	_prepare(request, args) {
		const { op } = request;
		if (op === 'get' || op === 'gets' || op === 'delete') return;
		if (op === 'incr' || op === 'decr') {
			request.delta = deltaToken(args.delta);
		} else if (op === 'touch') {
			request.ttl = options.integer(args, 'ttl', undefined, -MAX_TTL, MAX_TTL);
			if (request.ttl === undefined) throw typeError('touch needs a ttl in seconds');
		} else {
			if (this._settings.typedValues && op !== 'append' && op !== 'prepend') {
				({ value: request.value, flags: request.flags } = encodeTyped(args.value));
			} else {
				request.value = checkValue(args.value);
			}
			// A value no server with the default item size takes fails here, alone, rather than
			// after travelling; the server's own answer is the same.
			const size = Buffer.isBuffer(request.value) ? request.value.length : Buffer.byteLength(request.value, this.encoding || 'utf8');
			if (size > this._settings.maxValueSize) throw serverError('SERVER_ERROR object too large for cache');
			if (args.opts !== undefined && args.opts !== null) this._storageOptions(request, args.opts);
			if (op === 'cas') request.cas = casToken(args.cas);
		}
	}

	// The options of a storage command: {ttl | expires, flags}, or the ttl as a number. Refused
	// rather than ignored when unknown or when the protocol cannot store them.
	_storageOptions(request, opts) {
		const given = typeof opts === 'number' ? { ttl: opts } : opts;
		if (typeof given !== 'object') throw argumentError(`options of ${request.op}() must be an object or a ttl in seconds`, 'ERR_INVALID_ARG_TYPE');
		options.checkKeys(given, STORAGE_OPTIONS, `option of ${request.op}()`);
		if (given.ttl !== undefined && given.expires !== undefined) throw argumentError(`${request.op}(): give ttl or expires, not both`);
		const ttl = options.integer(given, given.expires !== undefined ? 'expires' : 'ttl', null, -MAX_TTL, MAX_TTL);
		const flags = options.integer(given, 'flags', null, 0, MAX_FLAGS);
		// 0 asks for nothing the seed protocol lacks (no expiry, no flags), so code written for
		// both protocols may pass it.
		if (this.protocol === 'simple' && (ttl || flags)) {
			throw connectionError(`${request.op}(): the seed protocol stores no ${ttl ? 'expiry' : 'flags'}; use protocol 'memcached'`, 'ENOTSUP');
		}
		if (flags !== null && this._settings.typedValues) throw argumentError(`${request.op}(): option typedValues sets the flags; flags cannot be given too`);
		request.ttl = ttl === null ? 0 : ttl;
		if (flags !== null) request.flags = flags;
	}

	_route(request, payload) {
		const backend = this._backends.length === 1 ? this._backends[0] : this._locate(request.key);
		if (backend === null) process.nextTick(() => request.finish(this._noServer()));
		else backend.send(request, payload);
	}

	// The server a key hashes to, or null when `remove` took every server out of the ring.
	_locate(key) {
		const ring = this._ring;
		if (ring.backends.length === 0) return null;
		if (ring.backends.length === 1) return ring.backends[0];
		return ring.backends[ring.continuum.locate(key)];
	}

	_noServer() {
		return connectionError(`every server is marked dead: ${this._backends.map((b) => b.label).join(', ')}`, 'ESERVERDEAD');
	}

	// [{backend, request}]: per server, getMulti requests of at most GET_LINE_BUDGET bytes of keys
	// each, so that no get line passes what a server accepts (simplecached and memcached take any
	// length, twemproxy less); request.names maps each key as the server will send it back to the
	// caller's key.
	_groupKeys(checked, given) {
		const groups = [];
		const open = new Map();   // backend -> its group being filled
		checked.forEach((key, i) => {
			const backend = this._backends.length === 1 ? this._backends[0] : this._locate(key);
			const bytes = Buffer.byteLength(key) + 1;
			let group = open.get(backend);
			if (!group || group.bytes + bytes > GET_LINE_BUDGET) {
				const request = new Request('getMulti', null);
				request.keys = [];
				request.names = new Map();
				group = { backend, request, payload: null, bytes: 0 };
				open.set(backend, group);
				groups.push(group);
			}
			group.bytes += bytes;
			group.request.keys.push(key);
			group.request.names.set(Buffer.from(key).toString('latin1'), String(given[i]));
		});
		return groups;
	}

	// Sends each server its get; the results merge. If a server fails, the call fails with its
	// error (a copy: a connection's error is shared by all its requests), and err.partial holds
	// what the other servers answered.
	_getMulti(groups, done) {
		const merged = {};
		let waiting = groups.length;
		let failure = null;
		for (const { backend, request, payload } of groups) {
			request.callback = (err, result) => {
				if (err) failure = failure || err;
				else Object.assign(merged, result);
				if (--waiting > 0) return;
				if (failure) done(Object.assign(new SimplecachedError(failure.code, failure.message), failure, { partial: merged }));
				else done(null, merged);
			};
			if (backend === null) process.nextTick(() => request.finish(this._noServer()));
			else backend.send(request, payload);
		}
	}

	// A request to every server: the one result, or {'host:port': result} with option servers.
	// `shape` turns the results into one (flushAll: true) when given.
	_everyServer(op, arg, callback, shape) {
		checkCallback(callback);
		const request = new Request(op, null);
		try {
			if (op === 'flushAll') request.arg = options.integer({ delay: arg }, 'delay', 0, 0, MAX_TTL);
			if (op === 'stats' && arg !== undefined) {
				if (!STATS_GROUPS.includes(arg)) throw rangeError("stats group must be 'settings', 'items' or 'slabs'");
				request.arg = arg;
			}
			this._protocol.encode(request);
			if (this.closing) throw connectionError('client is closed', 'ECLOSED');
		} catch (err) {
			return refuse(err, callback);
		}
		return callbackOrPromise(callback, (done) => {
			const results = {};
			let waiting = this._backends.length;
			let failure = null;
			for (const backend of this._backends) {
				const each = new Request(op, null);
				each.arg = request.arg;
				each.callback = (err, result) => {
					if (err) failure = failure || err;
					else results[backend.label] = result;
					if (--waiting > 0) return;
					if (failure) done(failure);
					else if (shape) done(null, shape(results));
					else done(null, this._many ? results : results[backend.label]);
				};
				backend.send(each, this._protocol.encode(each));
			}
		});
	}

	// Builds the ring over the servers not marked dead — or all of them, unless `remove` is on —
	// and wakes up to put a dead server back when its retry time comes.
	_rebuildRing() {
		if (this._rebuildTimer !== null) clearTimeout(this._rebuildTimer);
		this._rebuildTimer = null;
		const now = Date.now();
		const remove = this._settings.remove;
		const live = this._backends.filter((b) => !remove || !b.dead || b.retryAt <= now);
		const nextRetry = Math.min(...this._backends.filter((b) => !live.includes(b)).map((b) => b.retryAt));
		this._ring = { backends: live, continuum: live.length > 1 ? new Continuum(live) : null };
		if (Number.isFinite(nextRetry) && !this.closing) {
			this._rebuildTimer = setTimeout(() => this._rebuildRing(), Math.max(0, nextRetry - now));
			this._rebuildTimer.unref();
		}
	}

	// The outcome of each server's first connection attempt. The connect callback runs once every
	// server has one: with an error only if none could be reached.
	_firstOutcome(err) {
		if (err === null) this._anyConnected = true;
		else this._firstError = this._firstError || err;
		if (++this._firstOutcomes < this._backends.length) {
			if (err !== null && this._connectCallback === null) this._emitError(err);
			return;
		}
		const callback = this._connectCallback;
		this._connectCallback = null;
		const failed = this._anyConnected ? null : this._firstError;
		if (!failed) this.emit('connect');
		if (callback) callback(failed, failed ? undefined : this);
		else if (err !== null) this._emitError(err);
	}

	_connectionError(err) {
		if (!this.closing) this._emitError(err);
	}

	// 'error' only reaches listeners: every request already got its own error.
	_emitError(err) {
		if (this.listenerCount('error') > 0) this.emit('error', err);
	}

	_backendDead(backend, err, wasDead) {
		if (!wasDead) this.emit('dead', backend.label, err);
		if (this._settings.remove && this._backends.length > 1) this._rebuildRing();
	}

	_backendAlive(backend) {
		this.emit('alive', backend.label);
		if (this._settings.remove && this._backends.length > 1) this._rebuildRing();
	}
}

module.exports = Client;

// engine: the C store in-process — a cache without a server, shared by every thread of the
// process (handle()/attach()), and what a Server serves. Also speaks the wire protocol (feed()).
'use strict';

const native = require('./native');
const options = require('./options');
const { protocolError } = require('./errors');
const { callbackOrPromise } = require('./callback');

// The native engine, kept off the public surface: lib/'s servers reach it through nativeEngine().
const NATIVE = Symbol('native engine');
const ENCODING = Symbol('encoding');

// Engine.set's failures as the protocols word them: 'TOO_LARGE' and 'NO_MEMORY' to their reply lines.
const SET_ERRORS = native.constants.SET_ERRORS;
const ARITH_ERRORS = native.constants.ARITH_ERRORS;
// store_status_t's names by number: what the native store and delete return.
const STATUS = native.constants.STORE_STATUSES;

// Where get copies a value: straight into a pool whose views it returns, as Node's own Buffer
// pool does (a Buffer kept keeps its pool's memory), a fresh pool once less than POOL_ROOM is left
// (so that values up to POOL_ROOM always land in one). One per thread, as each thread loads its
// own copy of this module. A value that does not fit comes back as a Buffer of its own.
const POOL_SIZE = 16 * 1024;
const POOL_ROOM = 4 * 1024;
let pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let poolMemory = pool.buffer; // kept: reading .buffer is a call into V8's runtime
let poolUsed = 0;

// The value's length once it lies at pool[poolUsed...], or null, or a Buffer of its own.
function getIntoPool(native, key) {
	if (POOL_SIZE - poolUsed < POOL_ROOM) {
		pool = Buffer.allocUnsafeSlow(POOL_SIZE);
		poolMemory = pool.buffer;
		poolUsed = 0;
	}
	return native.getInto(key, poolMemory, poolUsed);
}

// store_mode_t (csrc/store_types.h).
const MODE = { set: 0, add: 1, replace: 2, append: 3, prepend: 4, cas: 5 };
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT64_MAX = (1n << 64n) - 1n;
// How long getOrSet waits for another thread computing the same key before computing it too.
const DEFAULT_WAIT_MS = 5000;

// null: Buffers; 'utf8': strings made in C; any other Buffer encoding: Buffers turned to strings.
function checkEncoding(encoding) {
	if (encoding === undefined || encoding === null || encoding === 'buffer') return null;
	if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) throw new TypeError(`unknown encoding ${String(encoding)}`);
	return encoding === 'utf8' || encoding === 'utf-8' ? 'utf8' : encoding;
}

// memcached's exptime: seconds up to 30 days, a unix time past that, negative: already expired.
function checkTtl(ttl) {
	if (ttl === undefined || ttl === null) return 0;
	if (!Number.isInteger(ttl)) throw new TypeError('ttl must be an integer number of seconds');
	if (ttl < INT32_MIN || ttl > INT32_MAX) throw new RangeError(`ttl must be a 32-bit integer, got ${ttl}`);
	return ttl;
}

function checkFlags(flags) {
	if (flags === undefined || flags === null) return 0;
	if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) throw new RangeError('flags must be an integer from 0 to 2^32-1');
	return flags;
}

// A cas unique or a delta: a non-negative integer below 2^64 (Number, BigInt or decimal string).
function checkU64(value, name) {
	if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
	let n;
	try {
		n = typeof value === 'bigint' ? value : typeof value === 'string' && /^\d{1,20}$/.test(value) ? BigInt(value) : -1n;
	} catch (err) {
		n = -1n;
	}
	if (n < 0n || n > UINT64_MAX) throw new TypeError(`${name} must be an integer from 0 to 2^64-1 (Number, BigInt or string)`);
	return n;
}

function checkValue(value) {
	if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
	if (typeof value === 'number' || typeof value === 'boolean') return String(value);
	throw new TypeError('value must be a string, a Buffer, a number or a boolean');
}

function stored(code) {
	const status = STATUS[code];
	if (status === 'OK') return true;
	if (status === 'TOO_LARGE' || status === 'NO_MEMORY') throw protocolError(SET_ERRORS[status]);
	return false;
}

class Engine {
	// options: memoryLimit, maxItemSize, shards (locks: more let threads work side by side),
	// encoding (what get returns: Buffers by default, or strings of this encoding).
	constructor(options = {}) {
		if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
		const memoryLimit = integerOption(options, 'memoryLimit', 64 * 1024 * 1024, 1024);
		const maxItemSize = integerOption(options, 'maxItemSize', 1024 * 1024, 1, 1 << 30);
		// auth: [[user, password], ...] makes memcached-protocol sessions authenticate first (lib/auth.js).
		// restartFile: "stats" lists what the restart file loaded and how its saves go. enableShutdown:
		// memcached's -A; only a Server acts on a client's "shutdown" (lib/server.js). disableFlushAll:
		// memcached's -F, clients' flush_all refused (engine.flush() still works in-process).
		// disableEvictions: memcached's -M, a write that finds the cache full fails instead of evicting.
		this[NATIVE] = new native.Engine({
			memoryLimit, maxItemSize, shards: integerOption(options, 'shards', defaultShards(memoryLimit, maxItemSize), 1, 64),
			auth: options.auth || undefined, snapshots: Boolean(options.restartFile),
			enableShutdown: options.enableShutdown === true,
			disableFlushAll: options.disableFlushAll === true,
			disableEvictions: options.disableEvictions === true,
			// sasl: memcached's -S; the memcached protocol is then binary, opened by SASL PLAIN with auth's users.
			sasl: options.sasl === true,
		});
		this[ENCODING] = checkEncoding(options.encoding);
	}

	// An Engine over the store that another Engine's handle() names, in this thread or any other.
	// Fails with code ERR_ENGINE_GONE once every user of that store has closed or ended.
	static attach(handle, { encoding } = {}) {
		if (typeof handle !== 'bigint') throw new TypeError('handle must be the BigInt from engine.handle()');
		const engine = Object.create(Engine.prototype);
		engine[NATIVE] = new native.Engine({ attach: handle });
		engine[ENCODING] = checkEncoding(encoding);
		return engine;
	}

	// A BigInt naming this store, to post to a worker (postMessage, workerData) for Engine.attach().
	handle() {
		return this[NATIVE].handle();
	}

	// Gives this Engine's reference to the store back: its calls then throw ERR_ENGINE_CLOSED. The
	// store is freed once no Engine (in any thread) and no Server uses it. A worker's Engines close
	// by themselves when it ends. Idempotent.
	close() {
		this[NATIVE].close();
	}

	// Whether this Engine came from attach().
	get attached() {
		return this[NATIVE].attached;
	}

	// The value (a Buffer, or a string with an encoding), or null when the key is absent.
	get(key, opts) {
		const encoding = opts === undefined ? this[ENCODING] : checkEncoding(opts.encoding);
		if (encoding === 'utf8') return this[NATIVE].get(key, true);
		const value = getIntoPool(this[NATIVE], key);
		if (typeof value !== 'number') return value === null || encoding === null ? value : value.toString(encoding);
		if (encoding !== null) return pool.toString(encoding, poolUsed, poolUsed + value);
		const out = Buffer.from(poolMemory, poolUsed, value);
		poolUsed += (value + 7) & ~7; // aligned, as Node's pool keeps its views
		return out;
	}

	// {value, flags, cas (a BigInt for cas())}, or null.
	gets(key, opts) {
		const encoding = opts === undefined ? this[ENCODING] : checkEncoding(opts.encoding);
		const item = this[NATIVE].gets(key, encoding === 'utf8');
		if (item !== null && encoding !== null && encoding !== 'utf8') item.value = item.value.toString(encoding);
		return item;
	}

	// {key: value} for the keys present.
	getMulti(keys, opts) {
		if (!Array.isArray(keys)) throw new TypeError('keys must be an array');
		const out = {};
		for (const key of keys) {
			const value = this.get(key, opts);
			if (value !== null) out[key] = value;
		}
		return out;
	}

	// Whether the key is present, without copying its value or counting a get.
	has(key) {
		return this[NATIVE].has(key);
	}

	// The storage commands: true once stored, false when not (add: present; replace, append,
	// prepend: absent). Too large or no room: throws memcached's SERVER_ERROR (code on the error).
	// opts: {ttl (memcached's exptime), flags}; append and prepend keep the item's own.
	set(key, value, opts) {
		return this._store(MODE.set, key, value, opts);
	}

	add(key, value, opts) {
		return this._store(MODE.add, key, value, opts);
	}

	replace(key, value, opts) {
		return this._store(MODE.replace, key, value, opts);
	}

	append(key, value, opts) {
		return this._store(MODE.append, key, value, opts);
	}

	prepend(key, value, opts) {
		return this._store(MODE.prepend, key, value, opts);
	}

	// true if stored; false if the item changed since gets() returned `cas`, or is gone.
	cas(key, value, cas, opts) {
		const unique = checkU64(cas, 'cas');
		return stored(this[NATIVE].store(MODE.cas, key, checkValue(value), opts ? checkFlags(opts.flags) : 0,
			opts ? checkTtl(opts.ttl) : 0, unique));
	}

	_store(mode, key, value, opts) {
		if (opts === undefined) return stored(this[NATIVE].store(mode, key, checkValue(value), 0, 0));
		return stored(this[NATIVE].store(mode, key, checkValue(value), checkFlags(opts.flags), checkTtl(opts.ttl)));
	}

	// true if deleted, false if absent (or, with opts.cas, if the item changed since).
	delete(key, opts) {
		const cas = opts && opts.cas !== undefined ? checkU64(opts.cas, 'cas') : 0;
		return STATUS[this[NATIVE].delete(key, cas)] === 'OK';
	}

	// The new value (a Number, or a BigInt past 2^53), or null when absent; memcached's 64-bit
	// wrap on incr, floor of 0 on decr. A value that is no decimal number throws CLIENT_ERROR.
	incr(key, delta = 1) {
		return this._arith(true, key, delta);
	}

	decr(key, delta = 1) {
		return this._arith(false, key, delta);
	}

	_arith(incr, key, delta) {
		const result = this[NATIVE].arith(incr, key, checkU64(delta, 'delta'));
		if (typeof result === 'string') throw protocolError(ARITH_ERRORS[result]);
		return result;
	}

	// true if the key's expiry was set, false if absent.
	touch(key, ttl) {
		return this[NATIVE].touch(key, checkTtl(ttl));
	}

	// Invalidates every item, now or (memcached's flush_all <delay>) after delay seconds.
	flush(delay = 0) {
		this[NATIVE].flush(checkTtl(delay));
		return true;
	}

	// The value present, else compute(key)'s, stored with ttl (a string, Buffer, number or boolean;
	// null or undefined is returned and not stored). Single flight across threads: while one thread
	// computes a missing key, the others that ask for it wait (blocking, up to opts.wait ms,
	// default 5000) and then return what it stored; past the wait, or when the waiting thread is
	// itself inside a compute, they compute too. compute must be synchronous.
	getOrSet(key, ttl, compute, opts) {
		const encoding = opts === undefined || opts.encoding === undefined ? this[ENCODING] : checkEncoding(opts.encoding);
		const wait = opts && opts.wait !== undefined ? integerOption(opts, 'wait', DEFAULT_WAIT_MS, 0, INT32_MAX) : DEFAULT_WAIT_MS;
		const value = this[NATIVE].getOrSet(key, checkTtl(ttl), compute, encoding === 'utf8', wait);
		if (value === null || value === undefined) return value;
		if (typeof value === 'object' && typeof value.then === 'function') throw new TypeError('compute must return its value synchronously');
		if (encoding === null) return typeof value === 'string' ? Buffer.from(value) : value;
		if (Buffer.isBuffer(value)) return value.toString(encoding);
		return encoding === 'utf8' ? value : Buffer.from(value).toString(encoding);
	}

	// Protocol bytes in, reply bytes out; a command cut short waits for the rest in the next call.
	// protocol: 'simple' (default) or 'memcached'; each has its own session.
	feed(data, { protocol = 'simple' } = {}) {
		return this[NATIVE].feed(Buffer.isBuffer(data) ? data : Buffer.from(data), { protocol });
	}

	// The pairs of a memcached stats group ('' or none: "stats"; 'settings', 'items', 'slabs',
	// 'sizes'), under memcached's names: numbers where the value is one. The same figures the
	// memcached port's "stats" commands print, from the same code.
	stats(group = '') {
		const pairs = this[NATIVE].stats(String(group));
		if (pairs === undefined) throw new RangeError(`unknown stats group ${JSON.stringify(group)}`);
		return pairs;
	}

	// Writes every live item to a snapshot file at path (beside it first, then renamed into place)
	// while the store keeps serving. Resolves {items, bytes, seconds}. options.idle: run at idle CPU
	// priority, so that requests keep their latency (the save may then wait on a busy machine).
	save(path, options, callback) {
		if (typeof options === 'function') return this._snapshot(path, 'save', options);
		return this._snapshot(path, options && options.idle ? 'idle' : 'save', callback);
	}

	// Loads a snapshot file written by save(), on top of what the store holds: items expired since
	// are skipped and, when not all fit, the most recently used are kept. Resolves {items, expired,
	// dropped, bytes, seconds}. A missing file fails with code ENOENT, a damaged, truncated or
	// foreign one with code EBADSNAPSHOT (nothing is loaded from it), others with EIO.
	load(path, callback) {
		return this._snapshot(path, 'load', callback);
	}

	_snapshot(path, kind, callback) {
		if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
		return callbackOrPromise(callback, (done) => {
			this[NATIVE].snapshot(path, kind, (report) => {
				if (report.status === 'ok') {
					const { status, error, ...figures } = report;
					return done(null, kind === 'load' ? figures : { items: figures.items, bytes: figures.bytes, seconds: figures.seconds });
				}
				const err = new Error(report.error);
				err.code = { missing: 'ENOENT', invalid: 'EBADSNAPSHOT', io: 'EIO' }[report.status];
				err.path = path;
				return done(err);
			});
		});
	}
}

function integerOption(opts, name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
	return options.integer(opts, name, fallback, min, max);
}

// Several locks by default, so that threads sharing the store rarely wait on each other; each
// shard evicts within its share of memory, so it must hold a few of the largest items.
function defaultShards(memoryLimit, maxItemSize) {
	return Math.max(1, Math.min(16, Math.floor(memoryLimit / (4 * maxItemSize))));
}

// For the listeners that serve an Engine (lib/server.js, lib/tls_server.js).
function nativeEngine(engine) {
	return engine[NATIVE];
}

module.exports = { Engine, nativeEngine, liveStores: native.liveStores, storeUsers: native.storeUsers };

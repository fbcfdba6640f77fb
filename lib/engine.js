// engine: the in-process face of the C store that a Server serves — the same items, no socket.
// Also speaks the wire protocol through feed(), with its own session, for tests and embedding.
'use strict';

const native = require('./native');
const { toKeyBuffer, toValueBuffer } = require('./keys');
const { protocolError } = require('./errors');
const { callbackOrPromise } = require('./callback');

// The native engine, kept off the public surface: lib/'s servers reach it through nativeEngine().
const NATIVE = Symbol('native engine');

// Engine.set's failures as the protocols word them: 'TOO_LARGE' and 'NO_MEMORY' to their reply lines.
const SET_ERRORS = native.constants.SET_ERRORS;

class Engine {
	constructor(options = {}) {
		// auth: [[user, password], ...] makes memcached-protocol sessions authenticate first (lib/auth.js).
		// restartFile: "stats" lists what the restart file loaded and how its saves go. enableShutdown:
		// memcached's -A; only a Server acts on a client's "shutdown" (lib/server.js).
		this[NATIVE] = new native.Engine({
			memoryLimit: options.memoryLimit, maxItemSize: options.maxItemSize, shards: options.shards,
			auth: options.auth || undefined, snapshots: Boolean(options.restartFile),
			enableShutdown: options.enableShutdown === true,
			// sasl: memcached's -S; the memcached protocol is then binary, opened by SASL PLAIN with auth's users.
			sasl: options.sasl === true,
		});
	}

	// Returns the value as a Buffer, or null when the key is absent.
	get(key) {
		return this[NATIVE].get(toKeyBuffer(key));
	}

	set(key, value) {
		const status = this[NATIVE].set(toKeyBuffer(key), toValueBuffer(value));
		if (status !== 'OK') throw protocolError(SET_ERRORS[status]);
		return true;
	}

	delete(key) {
		return this[NATIVE].delete(toKeyBuffer(key));
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

// For the listeners that serve an Engine (lib/server.js, lib/tls_server.js).
function nativeEngine(engine) {
	return engine[NATIVE];
}

module.exports = { Engine, nativeEngine };

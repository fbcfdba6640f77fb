// engine: the in-process face of the C store that a Server serves — the same items, no socket.
// Also speaks the wire protocol through feed(), with its own session, for tests and embedding.
'use strict';

const native = require('./native');
const { toKeyBuffer, toValueBuffer } = require('./keys');
const { protocolError } = require('./errors');

// The native engine, kept off the public surface: lib/'s servers reach it through nativeEngine().
const NATIVE = Symbol('native engine');

// Engine.set's failures as the protocols word them: 'TOO_LARGE' and 'NO_MEMORY' to their reply lines.
const SET_ERRORS = native.constants.SET_ERRORS;

class Engine {
	constructor(options = {}) {
		// auth: [[user, password], ...] makes memcached-protocol sessions authenticate first (lib/auth.js).
		// enableShutdown: memcached's -A; only a Server acts on a client's "shutdown" (lib/server.js).
		this[NATIVE] = new native.Engine({
			memoryLimit: options.memoryLimit, maxItemSize: options.maxItemSize, shards: options.shards,
			auth: options.auth || undefined, enableShutdown: options.enableShutdown === true,
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
}

// For the listeners that serve an Engine (lib/server.js, lib/tls_server.js).
function nativeEngine(engine) {
	return engine[NATIVE];
}

module.exports = { Engine, nativeEngine };

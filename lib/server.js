// Server: a simplecached server whose listeners run in C on Node's own event loop.
// JavaScript only starts, observes and stops it; requests never enter JavaScript.
'use strict';

const dns = require('dns');
const { EventEmitter } = require('events');
const native = require('./native');
const Engine = require('./engine');
const options = require('./options');
const { callbackOrPromise } = require('./callback');
const { connectionError } = require('./errors');

const DEFAULTS = {
	port: 11311,
	memcachedPort: null,
	host: '127.0.0.1',
	memoryLimit: 64 * 1024 * 1024,
	maxConnections: 1024,
	maxItemSize: 1024 * 1024,
};

// A port option may be false (or null for memcachedPort, its default) to turn that listener off.
function port(opts, name) {
	if (opts[name] === false || (opts[name] === null && name === 'memcachedPort')) return null;
	return options.integer(opts, name, DEFAULTS[name], 0, 65535);
}

function validate(raw) {
	const opts = options.normalize(raw);
	const memoryLimit = options.integer(opts, 'memoryLimit', DEFAULTS.memoryLimit, 1024, Number.MAX_SAFE_INTEGER);
	const validated = {
		port: port(opts, 'port'),
		memcachedPort: port(opts, 'memcachedPort'),
		host: options.string(opts, 'host', DEFAULTS.host),
		memoryLimit,
		maxConnections: options.integer(opts, 'maxConnections', DEFAULTS.maxConnections, 1, 1 << 24),
		maxItemSize: options.integer(opts, 'maxItemSize', DEFAULTS.maxItemSize, 1, 1 << 30),
	};
	if (validated.port === null && validated.memcachedPort === null) {
		throw new RangeError('options port and memcachedPort are both off: nothing to listen on');
	}
	return validated;
}

class Server extends EventEmitter {
	// new Server(options | port, callback(err, server)): starts listening at once.
	constructor(opts, callback) {
		super();
		if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback must be a function');
		this.options = validate(opts);
		this.engine = new Engine(this.options);
		this.listening = false;
		this._listeners = {};   // protocol name -> native listener
		this._closing = null;
		this._listen(callback);
	}

	_listen(callback) {
		const fail = (err) => {
			if (callback) callback(err);
			if (!callback || this.listenerCount('error') > 0) this.emit('error', err);
		};
		// Resolving here keeps names like "localhost" working while C only parses numeric addresses.
		dns.lookup(this.options.host, (err, address) => {
			if (err) return fail(err);
			if (this._closing) {
				// close() came first: the server never listens, and the callback must still hear of it.
				if (callback) callback(connectionError('server closed before it could listen', 'ECLOSED'));
				return undefined;
			}
			const wanted = [['simple', this.options.port], ['memcached', this.options.memcachedPort]];
			for (const [protocol, portNumber] of wanted) {
				if (portNumber === null) continue;
				try {
					this._listeners[protocol] = new native.NativeServer(this.engine._native, {
						...this.options, host: address, port: portNumber, protocol,
					});
				} catch (listenError) {
					listenError.address = address;
					listenError.port = portNumber;
					this._closeListeners();
					return fail(listenError);
				}
			}
			this.listening = true;
			this.emit('listening');
			if (callback) callback(null, this);
			return undefined;
		});
	}

	// {address, family, port} of the listener for a protocol ('simple' or 'memcached'; by default
	// the seed protocol's, or the memcached one's when that is the only one), or null.
	address(protocol) {
		const listener = protocol ? this._listeners[protocol] : this._listeners.simple || this._listeners.memcached;
		return listener ? listener.address() : null;
	}

	// Closes every native listener; resolves once all their connections are closed.
	_closeListeners() {
		const listeners = Object.values(this._listeners);
		this._listeners = {};
		return Promise.all(listeners.map((listener) => new Promise((resolve) => listener.close(resolve))));
	}

	// Stops accepting, sends replies already due, closes every connection; then 'close'.
	close(callback) {
		return callbackOrPromise(callback, (done) => {
			if (!this._closing) {
				this._closing = this._closeListeners().then(() => {
					this.listening = false;
					this.emit('close');
				});
			}
			this._closing.then(() => done(null), done);
		});
	}

	// Counters of the store and of every listener: friendly names first, then every counter under
	// the name memcached's "stats" command gives it (cmd_get, curr_items, ...).
	stats() {
		const s = this.engine.stats();
		return {
			items: s.curr_items,
			bytes: s.bytes,
			connections: s.curr_connections,
			totalConnections: s.total_connections,
			rejectedConnections: s.rejected_connections,
			gets: s.cmd_get,
			hits: s.get_hits,
			misses: s.get_misses,
			sets: s.cmd_set,
			deletes: s.delete_hits + s.delete_misses,
			deleteHits: s.delete_hits,
			deleteMisses: s.delete_misses,
			evictions: s.evictions,
			totalItems: s.total_items,
			memoryLimit: s.limit_maxbytes,
			...s,
		};
	}
}

module.exports = Server;

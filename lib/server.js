// Server: a simplecached server whose listeners run in C on Node's own event loop.
// JavaScript only starts, observes and stops it; requests never enter JavaScript.
'use strict';

const dns = require('dns');
const tls = require('tls');
const { EventEmitter } = require('events');
const native = require('./native');
const { Engine, nativeEngine } = require('./engine');
const options = require('./options');
const auth = require('./auth');
const TlsListener = require('./tls_server');
const MetricsListener = require('./metrics_listener');
const { restore, removeAbandonedSaves, Snapshots } = require('./restart');
const { callbackOrPromise } = require('./callback');
const { connectionError } = require('./errors');

const DEFAULTS = {
	port: 11311,
	memcachedPort: null,
	host: '127.0.0.1',
	memoryLimit: 64 * 1024 * 1024,
	maxItemSize: 1024 * 1024,
	threads: 1,
	idleTimeout: 0,
	writeTimeout: 30,
	verbose: 0,
	tlsPort: null,
	metricsPort: null,
	snapshotInterval: 0,
	socketMode: 0o700,
};

// Every option a Server reads: any other key is refused (a typo would otherwise be ignored).
const KNOWN_OPTIONS = [...Object.keys(DEFAULTS), 'maxConnections', 'restartFile', 'enableShutdown', 'disableFlushAll', 'disableEvictions',
	'authFile', 'allowUnauthenticatedSeed', 'tls', 'socketPath', 'seedSocketPath', 'sasl', 'engine'];

// Descriptors left for everything but connections: Node itself (stdio, its loop, its thread pool),
// the listeners, the application's own files, and each I/O thread's loop.
const RESERVED_FDS = 64;
const FDS_PER_THREAD = 4;
const MAX_CONNECTIONS = 1 << 24;
// The connection's clock is 32-bit milliseconds; its differences stay meaningful below 2^31 ms.
const MAX_TIMEOUT = 2000000;

// How many connections the open-files limit leaves room for. Past it accept() would fail with
// EMFILE, so the limit is enforced as max-connections instead, with memcached's answer.
function connectionsAllowed(threads) {
	const allowed = native.openFilesLimit() - RESERVED_FDS - FDS_PER_THREAD * (threads > 1 ? threads : 0);
	return Math.max(1, Math.min(MAX_CONNECTIONS, allowed));
}

// By default as many as the descriptors allow; more than that cannot be honoured, so it is refused
// (memcached, likewise, will not start when it cannot raise its limit).
function maxConnections(opts, threads) {
	const allowed = connectionsAllowed(threads);
	const value = options.integer(opts, 'maxConnections', allowed, 1, MAX_CONNECTIONS);
	if (value > allowed) {
		throw new RangeError(`option maxConnections: ${value} is more than the open-files limit (${native.openFilesLimit()}) ` +
			`leaves room for (${allowed}); raise it (ulimit -n) or ask for fewer`);
	}
	return value;
}

// Threads share the store through shards with a lock each. More shards mean less waiting, but each
// evicts by its own clock within its share of the memory, so a shard must hold several of the
// largest items: up to 64, at least 4 max-size items each, and one when there are no threads.
function shardsFor({ threads, memoryLimit, maxItemSize }) {
	if (threads <= 1) return 1;
	return Math.max(1, Math.min(64, threads * 8, Math.floor(memoryLimit / (4 * maxItemSize))));
}

// A port option may be false (or null for a port off by default) to turn that listener off.
function port(opts, name) {
	if (opts[name] === false || (opts[name] === null && DEFAULTS[name] === null)) return null;
	return options.integer(opts, name, DEFAULTS[name], 0, 65535);
}

function validate(raw) {
	const opts = options.normalize(raw);
	options.checkKeys(opts, KNOWN_OPTIONS, 'Server option');
	const memoryLimit = options.integer(opts, 'memoryLimit', DEFAULTS.memoryLimit, 1024, Number.MAX_SAFE_INTEGER);
	const validated = {
		port: port(opts, 'port'),
		memcachedPort: port(opts, 'memcachedPort'),
		host: options.string(opts, 'host', DEFAULTS.host),
		memoryLimit,
		maxItemSize: options.integer(opts, 'maxItemSize', DEFAULTS.maxItemSize, 1, 1 << 30),
		threads: options.integer(opts, 'threads', DEFAULTS.threads, 1, 64),
		idleTimeout: options.integer(opts, 'idleTimeout', DEFAULTS.idleTimeout, 0, MAX_TIMEOUT),
		writeTimeout: options.integer(opts, 'writeTimeout', DEFAULTS.writeTimeout, 0, MAX_TIMEOUT),
		// metricsPort: an HTTP listener serving /metrics in Prometheus's format (lib/metrics.js).
		metricsPort: port(opts, 'metricsPort'),
		// restartFile: the cache is saved there on close() and loaded from it at start (lib/restart.js);
		// snapshotInterval: seconds between background saves too (0: only on close).
		restartFile: options.string(opts, 'restartFile', null),
		snapshotInterval: options.integer(opts, 'snapshotInterval', DEFAULTS.snapshotInterval, 0, MAX_TIMEOUT),
		enableShutdown: options.boolean(opts, 'enableShutdown', false),
		// disableFlushAll: memcached's -F, clients' flush_all refused.
		disableFlushAll: options.boolean(opts, 'disableFlushAll', false),
		// disableEvictions: memcached's -M, a write that finds the cache full fails instead.
		disableEvictions: options.boolean(opts, 'disableEvictions', false),
		// socketPath / seedSocketPath: the memcached / seed protocol on a Unix domain socket too,
		// its file's permissions socketMode (memcached's -a, 0o700 by default).
		socketPath: options.string(opts, 'socketPath', null),
		seedSocketPath: options.string(opts, 'seedSocketPath', null),
		socketMode: options.integer(opts, 'socketMode', DEFAULTS.socketMode, 0, 0o777),
		// sasl: the binary protocol asks for SASL PLAIN with authFile's users (memcached's -S).
		sasl: options.boolean(opts, 'sasl', false),
		verbose: options.integer(opts, 'verbose', DEFAULTS.verbose, 0, 2),
	};
	if (validated.snapshotInterval > 0 && validated.restartFile === null) {
		throw new RangeError('option snapshotInterval needs option restartFile');
	}
	validated.maxConnections = maxConnections(opts, validated.threads);
	Object.assign(validated, validateSecurity(opts, validated));
	if (validated.port === null && validated.memcachedPort === null && validated.tlsPort === null &&
		validated.socketPath === null && validated.seedSocketPath === null) {
		throw new RangeError('options port, memcachedPort, tlsPort, socketPath and seedSocketPath are all off: nothing to listen on');
	}
	for (const name of ['socketPath', 'seedSocketPath']) {
		// sun_path's 108 bytes, with the terminating NUL.
		if (validated[name] !== null && Buffer.byteLength(validated[name]) > 107) throw new RangeError(`option ${name}: a Unix socket's path can be at most 107 bytes`);
	}
	if (validated.socketPath !== null && validated.socketPath === validated.seedSocketPath) {
		throw new RangeError('options socketPath and seedSocketPath must be different files');
	}
	return validated;
}

// authFile: memcached's -Y file; every memcached-protocol connection (plain or TLS) must then
// authenticate first. The seed protocol has no authentication: with an auth file its port is off
// unless given explicitly together with allowUnauthenticatedSeed. tlsPort + tls (the options of
// tls.createServer, at least cert and key) add a TLS listener speaking memcached's text protocol.
function validateSecurity(opts, validated) {
	const authFile = options.string(opts, 'authFile', null);
	const out = { authFile, tlsPort: port(opts, 'tlsPort'), tls: null };
	if (validated.sasl && authFile === null) throw new RangeError('option sasl needs option authFile (its users)');
	if (authFile !== null && validated.seedSocketPath !== null && opts.allowUnauthenticatedSeed !== true) {
		throw new RangeError('option authFile: the simplecached protocol (option seedSocketPath) has no authentication; leave it out or set allowUnauthenticatedSeed: true');
	}
	if (authFile !== null && validated.port !== null) {
		if (opts.port === undefined) validated.port = null;
		else if (opts.allowUnauthenticatedSeed !== true) {
			throw new RangeError('option authFile: the simplecached protocol (option port) has no authentication; turn it off (port: false) or set allowUnauthenticatedSeed: true');
		}
	}
	if (opts.tls !== undefined && opts.tls !== null) {
		if (typeof opts.tls !== 'object') throw new TypeError('option tls must be an object of tls.createServer options (cert, key, ...)');
		if (out.tlsPort === null) throw new RangeError('option tls needs option tlsPort');
		if (!(opts.tls.cert && opts.tls.key) && !opts.tls.pfx) throw new TypeError('option tls must hold cert and key (PEM)');
		try {
			tls.createSecureContext(opts.tls);
		} catch (err) {
			throw new TypeError(`option tls: ${err.message}`);
		}
		out.tls = opts.tls;
	} else if (out.tlsPort !== null) {
		throw new TypeError('option tlsPort needs option tls with cert and key (PEM)');
	}
	return out;
}

// An Engine to serve, made in this thread: a Server counts on Node's loop in the engine's own
// counters, which only its creating thread writes (an attached Engine counts in a block of its own).
function givenEngine(opts, validated) {
	const engine = opts !== null && typeof opts === 'object' ? opts.engine : undefined;
	if (engine === undefined || engine === null) return null;
	if (!(engine instanceof Engine)) throw new TypeError('option engine must be an Engine');
	if (engine.attached) throw new RangeError('option engine: serve an Engine from the thread that created it, not one from Engine.attach()');
	if (validated.authFile !== null) throw new RangeError('option engine: an auth file needs the Server to create its engine');
	// What the C engine holds as its own settings: given here, they would be silently ignored.
	for (const name of ['enableShutdown', 'disableFlushAll', 'disableEvictions']) {
		if (validated[name]) throw new RangeError(`option engine: ${name} is an option of the Engine given (new Engine({ ${name}: true }))`);
	}
	return engine;
}

class Server extends EventEmitter {
	// new Server(options | port, callback(err, server)): starts listening at once.
	constructor(opts, callback) {
		super();
		if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback must be a function');
		this.options = validate(opts);
		// The credentials go to the engine only, not into this.options.
		const credentials = this.options.authFile === null ? null : auth.load(this.options.authFile);
		// engine: serve an existing Engine (its memory options are its own) instead of a new one.
		const given = givenEngine(opts, this.options);
		this.engine = given || new Engine({ ...this.options, shards: shardsFor(this.options), auth: credentials });
		this.listening = false;
		this._nativeServer = null;
		this._tls = null;
		this._metrics = null;
		this._snapshots = this.options.restartFile === null ? null : new Snapshots(this.engine, this.options.restartFile);
		this._restored = Promise.resolve();
		this._protocols = [];   // protocol name of each native listener, in order
		this._local = [];       // ... and whether it is a Unix socket
		this._closing = null;
		this._listen(callback);
	}

	_listen(callback) {
		const fail = (err) => {
			if (this._snapshots) this._snapshots.stop(); // a server that never served saves nothing more
			if (callback) callback(err);
			if (!callback || this.listenerCount('error') > 0) this.emit('error', err);
		};
		// Resolving here keeps names like "localhost" working while C only parses numeric addresses.
		dns.lookup(this.options.host, (err, address) => {
			if (err) return fail(err);
			return this._restore((restoreError) => (restoreError ? fail(restoreError) : this._listenAt(address, fail, callback)));
		});
	}

	// The restart file's items, before any client can see the store; 'restore' tells what came of it,
	// and a 'warning' each partial save left by a process that died while saving, removed first.
	_restore(callback) {
		if (this._snapshots === null) return callback(null);
		const file = this.options.restartFile;
		this._restored = removeAbandonedSaves(file).then((removed) => {
			for (const abandoned of removed) this.emit('warning', new Error(`removed ${abandoned}: a save its process did not finish`));
			return restore(this.engine, file);
		}).then((report) => {
			if (report) this.emit('restore', report);
			if (this.options.snapshotInterval > 0) {
				this._snapshots.every(this.options.snapshotInterval, (err) => this.emit('warning', err));
			}
			callback(null);
		}, (err) => {
			// The file is there but unreadable: never overwrite it.
			this._snapshots = null;
			callback(err);
		});
		return undefined;
	}

	// Saves the store to restartFile now, in the background at idle CPU priority (resolves {items,
	// bytes, seconds}).
	snapshot(callback) {
		return callbackOrPromise(callback, (done) => {
			if (!this._snapshots) return done(new Error('this server has no restartFile'));
			return this._snapshots.save({ idle: true }).then((report) => done(null, report), done);
		});
	}

	_listenAt(address, fail, callback) {
		if (this._closing) {
			// close() came first: the server never listens, and the callback must still hear of it.
			if (callback) callback(connectionError('server closed before it could listen', 'ECLOSED'));
			return undefined;
		}
		// TCP first, so that address(protocol) finds a protocol's TCP listener before its Unix socket.
		const listeners = [['simple', this.options.port], ['memcached', this.options.memcachedPort]]
			.filter(([, port]) => port !== null)
			.map(([protocol, port]) => ({ host: address, port, protocol }))
			.concat([['simple', this.options.seedSocketPath], ['memcached', this.options.socketPath]]
				.filter(([, path]) => path !== null)
				.map(([protocol, path]) => ({ host: address, path, mode: this.options.socketMode, protocol })));
		try {
			if (listeners.length > 0) {
				this._nativeServer = new native.NativeServer(nativeEngine(this.engine), {
					listeners,
					maxConnections: this.options.maxConnections,
					idleTimeout: this.options.idleTimeout,
					writeTimeout: this.options.writeTimeout,
					verbose: this.options.verbose,
					// One thread means Node's own loop; more means that many native I/O threads.
					threads: this.options.threads > 1 ? this.options.threads : 0,
					onShutdown: (graceful) => this._shutdown(graceful),
				});
			}
		} catch (listenError) {
			const failed = listeners[listenError.listener || 0];
			listenError.address = failed.path || address;
			listenError.port = failed.port;
			if (failed.path) listenError.path = failed.path;
			return fail(listenError);
		}
		this._protocols = listeners.map((l) => l.protocol);
		this._local = listeners.map((l) => l.path !== undefined);
		const listening = () => {
			this.listening = true;
			this.emit('listening');
			if (callback) callback(null, this);
		};
		return this._listenHttp(address, (httpError) => {
			if (!httpError) return listening();
			httpError.address = address;
			return this.close(() => fail(httpError));
		});
	}

	// The listeners Node itself serves, one after the other: TLS, then metrics. An error names the
	// port that failed; the ones already open are left for close().
	_listenHttp(address, callback) {
		const metrics = () => {
			if (this.options.metricsPort === null) return callback(null);
			this._metrics = new MetricsListener(nativeEngine(this.engine));
			return this._metrics.listen(address, this.options.metricsPort, (err) => {
				if (err) {
					err.port = this.options.metricsPort;
					this._metrics = null;
				}
				callback(err);
			});
		};
		if (this.options.tlsPort === null) return metrics();
		return this._listenTls(address, (err) => {
			if (!err) return metrics();
			err.port = this.options.tlsPort;
			this._tls = null;
			return callback(err);
		});
	}

	// The TLS listener serves memcached's text protocol, as memcached's own TLS (-Z) does.
	_listenTls(address, callback) {
		this._tls = new TlsListener(nativeEngine(this.engine), {
			protocol: 'memcached', maxConnections: this.options.maxConnections, tls: this.options.tls,
			idleTimeout: this.options.idleTimeout, writeTimeout: this.options.writeTimeout,
		});
		this._tls.listen(address, this.options.tlsPort, callback);
	}

	// {address, family, port} of the listener for a protocol ('simple', 'memcached', 'tls' or
	// 'metrics'; by default the seed protocol's, or else the memcached one's, or else the TLS one's),
	// or null. Only TCP listeners: the Unix sockets are where the options say.
	address(protocol) {
		if (protocol === 'metrics') return this._metrics ? this._metrics.address() : null;
		if (protocol === 'tls' || (!protocol && !this._nativeServer)) return this._tls ? this._tls.address() : null;
		if (!this._nativeServer) return null;
		const index = protocol ? this._protocols.indexOf(protocol) : 0;
		if (index < 0 || this._local[index]) return null;
		return this._nativeServer.address(index);
	}

	// A client sent "shutdown" (enableShutdown): 'shutdown' ({graceful}), then the server closes as
	// close() does and emits 'close'. The process is left alone: bin/server.js exits once closed.
	_shutdown(graceful) {
		if (this._closing) return;
		this.emit('shutdown', { graceful });
		this.close().catch((err) => this.emit('warning', err));
	}

	// Stops accepting, sends replies already due, closes every connection, saves to restartFile if
	// there is one; then 'close'.
	close(callback) {
		return callbackOrPromise(callback, (done) => {
			if (!this._closing) {
				const nativeServer = this._nativeServer;
				const tlsListener = this._tls;
				const metricsListener = this._metrics;
				this._closing = Promise.all([
					new Promise((resolve) => (nativeServer ? nativeServer.close(resolve) : resolve())),
					new Promise((resolve) => (tlsListener ? tlsListener.close(resolve) : resolve())),
					new Promise((resolve) => (metricsListener ? metricsListener.close(resolve) : resolve())),
				]).then(() => this._saveOnClose()).finally(() => {
					this._nativeServer = null;
					this._tls = null;
					this._metrics = null;
					this.listening = false;
					this.emit('close');
				});
			}
			this._closing.then(() => done(null), done);
		});
	}

	// With restartFile: once no client can write any more, the store goes to the file. A failed save
	// fails close() (after closing everything), so the loss is not silent.
	async _saveOnClose() {
		if (!this._snapshots) return;
		this._snapshots.stop();
		await this._restored.catch(() => {});
		if (this._snapshots) await this._snapshots.save();
	}

	// Reads authFile again and swaps in its users (memcached does so on SIGHUP). Connections already
	// authenticated stay so. Throws (keeping the old users) if the file cannot be read or is malformed.
	reloadAuth() {
		if (this.options.authFile === null) throw new Error('this server was started without authFile');
		nativeEngine(this.engine).setAuth(auth.load(this.options.authFile));
	}

	// Counters of the store and of every listener: friendly names first, then every numeric pair of
	// memcached's "stats" under its name (cmd_get, curr_items, ...). With a group ('settings',
	// 'items', 'slabs', 'sizes'): that group's pairs, as engine.stats(group).
	stats(group) {
		if (group) return this.engine.stats(group);
		const s = Object.fromEntries(Object.entries(this.engine.stats()).filter(([, v]) => typeof v === 'number'));
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

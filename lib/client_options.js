// client_options: checks the Client's options — one server (`port`, `host`) or many (`servers`),
// protocol, encoding, timeouts, failure handling and pool size — throwing errors that name the option.
'use strict';

const options = require('./options');
const { argumentError, typeError, rangeError } = require('./errors');

const PROTOCOLS = {
	simple: { module: require('./simple_protocol'), port: 11311 },
	memcached: { module: require('./text_protocol'), port: 11211 },
};

const DAY_MS = 24 * 3600 * 1000;
const KNOWN_OPTIONS = ['port', 'host', 'path', 'servers', 'protocol', 'encoding', 'typedValues', 'timeout', 'connectTimeout',
	'reconnect', 'failures', 'retry', 'poolSize', 'remove', 'batchGets', 'tls', 'maxValueSize'];
const SERVER_KEYS = ['host', 'port', 'path', 'weight', 'name'];
// Without option protocol, servers all on memcached's port speak memcached; any other the seed protocol.
const MEMCACHED_PORT = PROTOCOLS.memcached.port;

// "host:port", "host:port:weight" or "host:port:weight name" (nutcracker's form), or
// {host, port, weight, name}; IPv6 hosts go in brackets: "[::1]:11211". A path (starting with
// "/", as twemproxy and libmemcached take it, "/path[:weight] [name]" or {path}) is a Unix socket.
function parseServer(entry, defaultPort) {
	if (typeof entry === 'string' && entry.trim().startsWith('/')) return parsePath(entry);
	if (entry !== null && typeof entry === 'object') {
		options.checkKeys(entry, SERVER_KEYS, 'key of a servers entry');
		if (entry.path !== undefined) {
			if (entry.host !== undefined || entry.port !== undefined) throw typeError('option servers: give a server either path or host/port, not both');
			return { host: null, port: null, path: options.string(entry, 'path', null), weight: options.integer(entry, 'weight', 1, 1, 1e6), name: entry.name === undefined ? null : options.string(entry, 'name', null) };
		}
		const host = options.string(entry, 'host', '127.0.0.1');
		const port = options.integer(entry, 'port', defaultPort, 1, 65535);
		const weight = options.integer(entry, 'weight', 1, 1, 1e6);
		const name = entry.name === undefined ? null : options.string(entry, 'name', null);
		return { host, port, path: null, weight, name };
	}
	if (typeof entry !== 'string') throw typeError('option servers: each server must be a string "host:port[:weight]" or an object {host, port, weight}');
	const match = /^(\[[^\]]+\]|[^:\s]+)(?::(\d+))?(?::(\d+))?(?:\s+(\S+))?$/.exec(entry.trim());
	if (!match) throw typeError(`option servers: cannot read "${entry}" as host:port[:weight] [name]`);
	const host = match[1].replace(/^\[(.*)\]$/, '$1');
	const port = match[2] === undefined ? defaultPort : Number(match[2]);
	const weight = match[3] === undefined ? 1 : Number(match[3]);
	if (port < 1 || port > 65535) throw rangeError(`option servers: port of "${entry}" must be between 1 and 65535`);
	if (weight < 1 || weight > 1e6) throw rangeError(`option servers: weight of "${entry}" must be between 1 and 1000000`);
	return { host, port, path: null, weight, name: match[4] || null };
}

function parsePath(entry) {
	const match = /^(\/[^\s:]*)(?::(\d+))?(?:\s+(\S+))?$/.exec(entry.trim());
	if (!match) throw typeError(`option servers: cannot read "${entry}" as /path[:weight] [name]`);
	const weight = match[2] === undefined ? 1 : Number(match[2]);
	if (weight < 1 || weight > 1e6) throw rangeError(`option servers: weight of "${entry}" must be between 1 and 1000000`);
	return { host: null, port: null, path: match[1], weight, name: match[3] || null };
}

// How a server is named in errors, stats and `servers`: host:port, or a Unix socket's path.
function serverLabel({ host, port, path }) {
	return path || `${host}:${port}`;
}

function booleanOption(o, name, fallback) {
	if (o[name] === undefined || o[name] === null) return fallback;
	if (typeof o[name] !== 'boolean') throw typeError(`option ${name} must be true or false`);
	return o[name];
}

// tls: true, or an object of tls.connect options (ca, rejectUnauthorized, servername, cert, ...).
function tlsOption(value) {
	if (value === undefined || value === null || value === false) return null;
	if (value === true) return {};
	if (typeof value !== 'object') throw typeError('option tls must be true or an object of tls.connect options');
	return value;
}

// [{host, port, path, weight, name}] from option servers, or from path, or from port and host.
function serverList(o, defaultPort) {
	if (o.servers === undefined && o.path !== undefined) {
		// path: the server's Unix domain socket (its socketPath / memcached -s).
		if (o.port !== undefined || o.host !== undefined) throw typeError('give either option path or port/host, not both');
		return [{ host: null, port: null, path: options.string(o, 'path', null), weight: 1, name: null }];
	}
	if (o.servers === undefined) {
		return [{ host: options.string(o, 'host', '127.0.0.1'), port: options.integer(o, 'port', defaultPort, 1, 65535), path: null, weight: 1, name: null }];
	}
	if (o.port !== undefined || o.host !== undefined || o.path !== undefined) throw typeError('give either option servers or port/host/path, not both');
	if (!Array.isArray(o.servers) || o.servers.length === 0) throw typeError('option servers must be a non-empty array');
	const servers = o.servers.map((entry) => parseServer(entry, defaultPort));
	const labels = new Set(servers.map(serverLabel));
	if (labels.size !== servers.length) throw rangeError('option servers: a server is listed twice');
	return servers;
}

// Every option, checked once; the result is what connections and backends read.
function clientSettings(opts) {
	const o = options.normalize(opts);
	options.checkKeys(o, KNOWN_OPTIONS, 'Client option');
	const given = options.string(o, 'protocol', null);
	if (given !== null && !PROTOCOLS[given]) throw rangeError(`option protocol must be 'simple' or 'memcached', got ${given}`);
	const servers = serverList(o, PROTOCOLS[given || 'simple'].port);
	const protocolName = given || (servers.every((s) => s.port === MEMCACHED_PORT) ? 'memcached' : 'simple');
	const encoding = o.encoding === null ? null : options.string(o, 'encoding', 'utf8');
	if (encoding !== null && !Buffer.isEncoding(encoding)) throw rangeError(`option encoding: unknown encoding ${encoding}`);
	const typedValues = booleanOption(o, 'typedValues', false);
	if (typedValues && protocolName === 'simple') {
		throw argumentError("option typedValues needs protocol 'memcached': the seed protocol stores no flags");
	}
	const settings = {
		protocolName,
		typedValues,
		protocol: PROTOCOLS[protocolName].module,
		encoding,
		timeout: options.integer(o, 'timeout', 5000, 0, DAY_MS),
		connectTimeout: options.integer(o, 'connectTimeout', 5000, 0, DAY_MS),
		reconnect: options.integer(o, 'reconnect', 100, 0, DAY_MS),
		failures: options.integer(o, 'failures', 3, 1, 1e6),
		retry: options.integer(o, 'retry', 10000, 0, DAY_MS),
		poolSize: options.integer(o, 'poolSize', 1, 1, 1024),
		remove: booleanOption(o, 'remove', false),
		batchGets: booleanOption(o, 'batchGets', true),
		tls: tlsOption(o.tls),
		// The servers' item size limit (their -I / maxItemSize): larger values are refused unsent.
		maxValueSize: options.integer(o, 'maxValueSize', 1024 * 1024, 1, 2 ** 31),
	};
	return { servers, many: o.servers !== undefined, settings };
}

module.exports = { clientSettings, parseServer, serverLabel, PROTOCOLS };

// ketama: consistent hashing of keys onto servers, built point for point as twemproxy (nutcracker)
// builds its `distribution: ketama` continuum with `hash: md5`, so this client and nutcracker agree.
'use strict';

const crypto = require('crypto');

const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;     // one md5 digest gives four 32-bit points
// libmemcached left the port out of the hashed name on its default port; twemproxy kept that.
const DEFAULT_PORT = 11211;

// crypto.hash (Node >= 20.12) is one call without a Hash object; createHash is the fallback.
const md5 = typeof crypto.hash === 'function'
	? (data) => crypto.hash('md5', data, 'buffer')
	: (data) => crypto.createHash('md5').update(data).digest();

// The string whose md5 places a server's points: its configured name, else `host` on port 11211,
// else `host:port` — what twemproxy's conf parser stores as the server's name; a Unix socket's path.
function ketamaName({ host, port, path, name }) {
	if (name) return name;
	if (path) return path;
	return port === DEFAULT_PORT ? host : `${host}:${port}`;
}

// The 32-bit point of a key: the first four bytes of its md5, little-endian (twemproxy's hash_md5).
function hashKey(key) {
	return md5(key).readUInt32LE(0);
}

// Points per server as twemproxy computes them, in single-precision float like its C code:
// floorf(pct * 160 / 4 * live + 1e-10) * 4 with pct = weight / total weight as a float.
function pointsFor(weight, totalWeight, liveCount) {
	const f = Math.fround;
	const pct = f(weight / totalWeight);
	const scaled = f(f(f(pct * POINTS_PER_SERVER) / 4) * liveCount);
	return Math.floor(f(scaled + 0.0000000001)) * 4;
}

// A continuum over `servers` ([{host, port, weight, name?}]); lookups return an index into it.
// Build it again (cheap: 160 md5s per server) whenever the set of live servers changes.
class Continuum {
	constructor(servers) {
		if (servers.length === 0) throw new RangeError('a continuum needs at least one server');
		const totalWeight = servers.reduce((sum, s) => sum + s.weight, 0);
		const points = [];
		servers.forEach((server, index) => {
			const name = ketamaName(server);
			const count = pointsFor(server.weight, totalWeight, servers.length);
			for (let i = 0; i < count / POINTS_PER_HASH; i++) {
				const digest = md5(`${name}-${i}`);
				for (let x = 0; x < POINTS_PER_HASH; x++) points.push({ value: digest.readUInt32LE(x * 4), index });
			}
		});
		points.sort((a, b) => a.value - b.value);
		this.values = Uint32Array.from(points, (p) => p.value);
		this.indexes = Uint32Array.from(points, (p) => p.index);
	}

	// The server index owning `hash`: the first point at or after it, wrapping past the last.
	lookup(hash) {
		const { values } = this;
		let left = 0;
		let right = values.length;
		while (left < right) {
			const middle = (left + right) >>> 1;
			if (values[middle] < hash) left = middle + 1;
			else right = middle;
		}
		return this.indexes[right === values.length ? 0 : right];
	}

	// The server index for a key (string, as UTF-8, or Buffer).
	locate(key) {
		return this.lookup(hashKey(key));
	}
}

module.exports = { Continuum, hashKey, ketamaName, pointsFor, POINTS_PER_SERVER };

// The Client's pool of connections per server (poolSize): every connection is opened and used, a key
// always rides the same connection so its requests keep their order, and a lost connection costs
// only the requests on it.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, waitFor, settle } = require('./helpers/server');

function openClient(options) {
	return new Promise((resolve, reject) => {
		const client = new Client(options, (err) => (err ? reject(err) : resolve(client)));
	});
}

describe('client pool: poolSize connections per server', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0 });
		port = server.address('memcached').port;
	});
	after(() => server.close());

	it('opens poolSize connections and keeps the order of requests on each key', async () => {
		const before = server.stats().totalConnections;
		const client = await openClient({ port, protocol: 'memcached', poolSize: 4 });
		try {
			await waitFor(() => server.stats().totalConnections - before === 4, { what: '4 connections' });
			// For each key, in one tick: set, get, append, get, delete, get — any reordering shows.
			const keys = Array.from({ length: 300 }, (_, i) => `pool:${i}`);
			const calls = [];
			for (const key of keys) {
				calls.push(client.set(key, `${key}=1`), client.get(key), client.append(key, '+2'), client.get(key), client.delete(key), client.get(key));
			}
			const results = await Promise.all(calls);
			keys.forEach((key, i) => {
				assert.deepStrictEqual(results.slice(i * 6, i * 6 + 6), [true, `${key}=1`, true, `${key}=1+2`, true, null], key);
			});
			assert.strictEqual(server.stats().totalConnections - before, 4);
		} finally {
			await client.close();
		}
	});

	it('spreads keys over every connection: with one connection refused, only its keys fail', async () => {
		// Room for 3 connections: the pool's fourth is turned away with memcached's ERROR and closed.
		const small = await startServer({ port: false, memcachedPort: 0, maxConnections: 3 });
		const client = new Client({ port: small.address('memcached').port, protocol: 'memcached', poolSize: 4, reconnect: 60000 });
		client.on('error', () => {});
		try {
			await waitFor(() => small.stats().rejectedConnections === 1, { what: 'the fourth connection to be refused' });
			const keys = Array.from({ length: 400 }, (_, i) => `spread:${i}`);
			const results = await Promise.all(keys.map((k) => settle(client.set(k, 'v'))));
			const failed = results.filter((r) => r.error).length;
			// About a quarter of the keys hash to the lost connection; the rest are stored.
			assert.ok(failed > 40 && failed < 160, `${failed} of 400 failed`);
			for (const r of results.filter((x) => x.error)) assert.ok(['ECONNRESET', 'ESERVER'].includes(r.error.code), r.error.code);
			assert.strictEqual(small.stats().sets, 400 - failed);
			// Keys on the three live connections keep working.
			const ok = keys.filter((k, i) => !results[i].error);
			assert.deepStrictEqual(await Promise.all(ok.map((k) => client.get(k))), ok.map(() => 'v'));
		} finally {
			await client.close();
			await small.close();
		}
	});

	it('refuses a poolSize that is not a positive integer, naming the option', () => {
		assert.throws(() => new Client({ port, poolSize: 0 }), (e) => e instanceof RangeError && /poolSize/.test(e.message));
		assert.throws(() => new Client({ port, poolSize: 1.5 }), (e) => e instanceof TypeError && /poolSize/.test(e.message));
		assert.throws(() => new Client({ port, timeout: -1 }), (e) => e instanceof RangeError && /timeout/.test(e.message));
		assert.throws(() => new Client({ port, remove: 'yes' }), (e) => e instanceof TypeError && /remove/.test(e.message));
	});
});

// The Client over many servers: how option servers is read, getMulti split by server and merged,
// commands that go to every server, and connecting when some servers are down.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, freePort, settle } = require('./helpers/server');

function openClient(options) {
	return new Promise((resolve, reject) => {
		const client = new Client(options, (err) => (err ? reject(err) : resolve(client)));
	});
}

describe('client: many servers', () => {
	let servers;
	let labels;
	let client;
	before(async () => {
		servers = await Promise.all([0, 1, 2].map(() => startServer({ port: false, memcachedPort: 0 })));
		labels = servers.map((s) => `127.0.0.1:${s.address('memcached').port}`);
		client = await openClient({ servers: labels, protocol: 'memcached' });
	});
	after(async () => {
		await client.close();
		await Promise.all(servers.map((s) => s.close()));
	});

	it('stores each key on the one server serverFor names, and reads it back from there', async () => {
		const keys = Array.from({ length: 600 }, (_, i) => `many:${i}`);
		assert.ok((await Promise.all(keys.map((k) => client.set(k, `v${k}`)))).every((r) => r === true));
		const perServer = labels.map(() => 0);
		for (const key of keys) {
			const where = servers.map((s) => s.engine.get(key) !== null);
			assert.deepStrictEqual(where.filter(Boolean).length, 1, key);
			const index = where.indexOf(true);
			assert.strictEqual(client.serverFor(key), labels[index], key);
			perServer[index]++;
		}
		for (const n of perServer) assert.ok(n > 100, `uneven spread: ${perServer}`);
		assert.deepStrictEqual(await Promise.all(keys.map((k) => client.get(k))), keys.map((k) => `v${k}`));
	});

	it('splits getMulti by server — one get per server — and merges the results', async () => {
		const keys = Array.from({ length: 90 }, (_, i) => `multi:${i}`);
		await Promise.all(keys.filter((k, i) => i % 3 !== 0).map((k) => client.set(k, k.toUpperCase())));
		const before = servers.map((s) => s.stats().cmd_get);
		const got = await client.getMulti(keys);
		const expected = Object.fromEntries(keys.filter((k, i) => i % 3 !== 0).map((k) => [k, k.toUpperCase()]));
		assert.deepStrictEqual(got, expected);
		// memcached counts each key of a multi-get as one get: each server saw exactly its own keys.
		servers.forEach((s, i) => {
			const own = keys.filter((k) => client.serverFor(k) === labels[i]).length;
			assert.strictEqual(s.stats().cmd_get - before[i], own, labels[i]);
		});
	});

	it('sends flushAll, stats and version to every server, stats and version keyed by server', async () => {
		const stats = await client.stats();
		assert.deepStrictEqual(Object.keys(stats).sort(), [...labels].sort());
		for (const label of labels) assert.strictEqual(typeof stats[label].curr_items, 'number');
		const versions = await client.version();
		assert.deepStrictEqual(Object.keys(versions).sort(), [...labels].sort());
		assert.strictEqual(await client.flushAll(), true);
		for (const s of servers) assert.strictEqual(s.stats().cmd_flush, 1);
		assert.strictEqual(await client.get('many:1'), null);
	});

	it('reads servers as "host:port", "host:port:weight", "host:port:weight name" or objects', () => {
		const port = servers[0].address('memcached').port;
		const forms = [
			[`localhost:${port}`, 'localhost'],
			[`127.0.0.1:${port}:3`, '127.0.0.1'],
			[`127.0.0.1:${port}:3 alpha`, '127.0.0.1'],
			[{ host: '127.0.0.1', port, weight: 2, name: 'beta' }, '127.0.0.1'],
		];
		for (const [entry, host] of forms) {
			const c = new Client({ servers: [entry, labels[1]], protocol: 'memcached' });
			assert.deepStrictEqual(c.servers, [`${host}:${port}`, labels[1]]);
			c.close();
		}
		assert.throws(() => new Client({ servers: [] }), (e) => e instanceof TypeError && /servers/.test(e.message));
		assert.throws(() => new Client({ servers: ['a b c d'] }), (e) => e instanceof TypeError && /servers/.test(e.message));
		assert.throws(() => new Client({ servers: ['h:70000'] }), (e) => e instanceof RangeError && /servers/.test(e.message));
		assert.throws(() => new Client({ servers: ['h:1:0'] }), (e) => e instanceof RangeError && /weight/.test(e.message));
		assert.throws(() => new Client({ servers: ['h:1', 'h:1:2'] }), (e) => e instanceof RangeError && /twice/.test(e.message));
		assert.throws(() => new Client({ servers: ['h:1'], port: 1 }), TypeError);
	});

	it('connects when some servers are down, and fails to connect only when all are', async () => {
		const down = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
		const partly = new Client({ servers: [labels[0], ...down], protocol: 'memcached' });
		const errors = [];
		partly.on('error', (e) => errors.push(e.server));
		await new Promise((resolve) => partly.once('connect', resolve));
		assert.deepStrictEqual(errors.sort(), [...down].sort());
		const key = Array.from({ length: 100 }, (_, i) => `up:${i}`).find((k) => partly.serverFor(k) === labels[0]);
		assert.strictEqual(await partly.set(key, 'works'), true);
		await partly.close();

		const err = await new Promise((resolve) => new Client({ servers: down, protocol: 'memcached' }, resolve));
		assert.strictEqual(err && err.code, 'ECONNREFUSED');
		const none = new Client({ servers: down, protocol: 'memcached' });
		none.on('error', () => {});
		const result = await settle(none.get('anything'));
		assert.strictEqual(result.error && result.error.code, 'ECONNREFUSED');
		await none.close();
	});
});

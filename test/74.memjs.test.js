// npm memjs, a client that speaks only memcached's binary protocol: the same calls against a real
// memcached and against simplecached's memcached port must give the same results.
'use strict';

const assert = require('assert');
const memjs = require('memjs');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

const quiet = { log() {} };

describe('memjs (binary protocol) against simplecached and memcached', function () {
	this.timeout(60000);
	let memcached;
	let server;
	let clients;

	before(needs('memcached'));
	before(async () => {
		[memcached, server] = await Promise.all([startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']), startServer({ port: false, memcachedPort: 0 })]);
		clients = [memcached.port, server.address('memcached').port].map((port) => memjs.Client.create(`127.0.0.1:${port}`, { logger: quiet, retries: 0, timeout: 5 }));
	});
	after(async () => {
		if (clients) clients.forEach((c) => c.close());
		await Promise.all([memcached && memcached.stop(), server && server.close()]);
	});

	// Runs one call on both; failures become their message, Buffers their text.
	async function both(call) {
		return Promise.all(clients.map(async (client) => {
			try {
				const result = await call(client);
				return JSON.parse(JSON.stringify(result, (k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v)));
			} catch (err) {
				return `error: ${err.message}`;
			}
		}));
	}

	async function same(call, expected) {
		const [reference, ours] = await both(call);
		assert.deepStrictEqual(ours, reference);
		if (expected !== undefined) assert.deepStrictEqual(ours, expected);
		return ours;
	}

	it('set, get, add, replace, append, prepend, delete', async () => {
		await same((c) => c.set('k', 'hello', { expires: 0 }), true);
		await same((c) => c.get('k'), { value: 'hello', flags: '\0\0\0\0' });
		await same((c) => c.add('k', 'again'));
		await same((c) => c.replace('missing', 'x'));
		await same((c) => c.append('k', '!'), true);
		await same((c) => c.prepend('k', '> '), true);
		await same((c) => c.get('k')); // memjs 1.3 sends its prepend as an append
		await same((c) => c.get('missing'), { value: null, flags: null });
		await same((c) => c.set('bin', Buffer.from([0, 1, 2, 255, 13, 10])), true);
		await same((c) => c.get('bin'));
		await same((c) => c.delete('k'), true);
		await same((c) => c.delete('k'), false);
		await same((c) => c.set('big', Buffer.alloc(2 * 1024 * 1024)));
	});

	it('increment and decrement, with initial values and expiry', async () => {
		await same((c) => c.increment('n', 5, { initial: 10 }), { success: true, value: 10 });
		await same((c) => c.increment('n', 5), { success: true, value: 15 });
		await same((c) => c.decrement('n', 100, {}), { success: true, value: 0 });
		await same((c) => c.set('text', 'abc'), true);
		await same((c) => c.increment('text', 1));
		await same((c) => c.touch('n', 1000), true);
		await same((c) => c.touch('none', 1000), false);
	});

	it('flush empties the cache', async () => {
		await same((c) => c.set('f', 'v'), true);
		await same((c) => c.flush().then((results) => Object.values(results)), [true]);
		await same((c) => c.get('f'), { value: null, flags: null });
	});

	it('stats: the same counters, reached the same way', async () => {
		const stats = await Promise.all(clients.map((c) => new Promise((resolve, reject) => {
			c.stats((err, host, values) => (err ? reject(err) : resolve(values)));
		})));
		for (const name of ['cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'incr_hits', 'decr_hits', 'delete_hits', 'delete_misses', 'cmd_flush', 'touch_hits', 'touch_misses']) {
			assert.strictEqual(stats[1][name], stats[0][name], name);
		}
		assert.strictEqual(stats[1].version, '1.6.18');
	});
});

// The Client speaking memcached's text protocol: every method, run against a real memcached and
// against simplecached; both must give the same results, and the results must be the right ones.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

// One scripted session; returns what each call resolved to (or the error code and server line it failed with).
async function session(port) {
	const client = new Client({ port, protocol: 'memcached' });
	const binary = new Client({ port, protocol: 'memcached', encoding: null });
	const results = {};
	const run = async (label, call) => {
		try {
			results[label] = await call();
		} catch (err) {
			results[label] = `error ${err.code}${err.serverMessage ? ` ${err.serverMessage}` : ''}`;
		}
	};
	await run('flushAll', () => client.flushAll());
	await run('get absent', () => client.get('absent'));
	await run('set', () => client.set('a', 'hello', { ttl: 100, flags: 7 }));
	await run('get', () => client.get('a'));
	await run('gets flags', async () => (await client.gets('a')).flags);
	await run('add existing', () => client.add('a', 'x'));
	await run('add new', () => client.add('b', 'fresh'));
	await run('replace', () => client.replace('a', 'bye'));
	await run('replace absent', () => client.replace('zzz', 'bye'));
	await run('append', () => client.append('a', '!'));
	await run('prepend', () => client.prepend('a', '>'));
	await run('append absent', () => client.append('zzz', '!'));
	await run('get after concat', () => client.get('a'));
	const { cas } = await client.gets('a');
	await run('cas', () => client.cas('a', 'swapped', cas));
	await run('cas stale', () => client.cas('a', 'again', cas));
	await run('cas absent', () => client.cas('nope', 'x', cas));
	await run('getMulti', () => client.getMulti(['a', 'b', 'absent']));
	await run('counter', () => client.set('n', 10));
	await run('incr', () => client.incr('n', 5));
	await run('incr default', () => client.incr('n'));
	await run('decr past zero', () => client.decr('n', 100));
	await run('incr wraps', async () => String(await client.incr('n', 18446744073709551615n)));
	await run('incr absent', () => client.incr('absent', 1));
	await run('incr non-numeric', () => client.incr('a', 1));
	await run('touch', () => client.touch('a', 10));
	await run('touch absent', () => client.touch('absent', 10));
	await run('binary set', () => binary.set('bin', Buffer.from([0, 13, 10, 32, 255])));
	await run('binary get', async () => (await binary.get('bin')).toString('hex'));
	await run('utf8', async () => { await client.set('ключ', 'значение ✓'); return client.get('ключ'); });
	await run('empty value', async () => { await client.set('empty', ''); return client.get('empty'); });
	await run('delete', () => client.delete('a'));
	await run('delete again', () => client.delete('a'));
	await run('too large', () => client.set('big', Buffer.alloc(2 * 1024 * 1024)));
	await run('after too large', () => client.get('b'));
	await run('expired', async () => { await client.set('short', 'x', { ttl: -1 }); return client.get('short'); });
	await run('version', () => client.version());
	await run('stats', async () => typeof (await client.stats()).curr_connections);
	await run('stats settings', async () => typeof (await client.stats('settings')).maxbytes);
	await run('pipelined', () => Promise.all(Array.from({ length: 500 }, (_, i) => client.set(`p${i}`, `v${i}`).then(() => client.get(`p${i}`)))));
	await Promise.all([client.close(), binary.close()]);
	return results;
}

describe('Client, memcached protocol: same results as against memcached', function () {
	this.timeout(60000);
	let memcached;
	let server;
	before(needs('memcached'));
	before(async () => {
		memcached = await startMemcached();
		server = await startServer({ port: false, memcachedPort: 0 });
	});
	after(() => Promise.all([memcached && memcached.stop(), server && server.close()]));

	it('runs every method with the same results on both servers', async () => {
		const expected = await session(memcached.port);
		const actual = await session(server.address('memcached').port);
		assert.deepStrictEqual(actual, expected);
		// And the reference itself says what the API promises.
		assert.strictEqual(expected.get, 'hello');
		assert.strictEqual(expected['gets flags'], 7);
		assert.strictEqual(expected['add existing'], false);
		assert.strictEqual(expected['get after concat'], '>bye!');
		assert.strictEqual(expected.cas, true);
		assert.strictEqual(expected['cas stale'], false);
		assert.deepStrictEqual(expected.getMulti, { a: 'swapped', b: 'fresh' });
		assert.strictEqual(expected.incr, 15);
		assert.strictEqual(expected['decr past zero'], 0);
		assert.strictEqual(expected['incr wraps'], '18446744073709551615');
		assert.strictEqual(expected['incr absent'], null);
		assert.strictEqual(expected['incr non-numeric'], 'error ESERVER CLIENT_ERROR cannot increment or decrement non-numeric value');
		assert.strictEqual(expected['binary get'], '000d0a20ff');
		assert.strictEqual(expected.utf8, 'значение ✓');
		assert.strictEqual(expected['too large'], 'error ESERVER SERVER_ERROR object too large for cache');
		assert.strictEqual(expected.expired, null);
		assert.strictEqual(expected.pipelined[499], 'v499');
	});

	it('getMulti of 10,000 keys of 250 bytes (2.5 MB of keys) answers as memcached does, in requests the server takes', async () => {
		const keys = Array.from({ length: 10000 }, (_, i) => `${i}:`.padEnd(250, 'k'));
		const results = [];
		for (const port of [memcached.port, server.address('memcached').port]) {
			const client = new Client({ port, protocol: 'memcached' });
			try {
				const lines = [];
				for (let i = 0; i < keys.length; i += 2) lines.push(client.set(keys[i], `v${i}`));
				await Promise.all(lines);
				results.push(await client.getMulti(keys));
			} finally {
				await client.close();
			}
		}
		assert.deepStrictEqual(results[1], results[0]);
		assert.strictEqual(Object.keys(results[0]).length, 5000);
		assert.strictEqual(results[0][keys[9998]], 'v9998');
	});

	it('refuses bad arguments before sending anything', async () => {
		const client = new Client({ port: server.address('memcached').port, protocol: 'memcached' });
		await assert.rejects(client.set('bad key', 'x'), RangeError);
		await assert.rejects(client.set('k', 'x', { ttl: 1.5 }), TypeError);
		await assert.rejects(client.cas('k', 'x', 'not-a-cas'), TypeError);
		await assert.rejects(client.incr('k', -1), RangeError);
		await assert.rejects(client.getMulti([]), TypeError);
		await assert.rejects(client.stats('nonsense'), RangeError);
		assert.strictEqual(await client.set('k', 'still in sync'), true);
		assert.strictEqual(await client.get('k'), 'still in sync');
		await client.close();
	});

	it('reaches the seed protocol and the memcached protocol on one store', async () => {
		const both = await startServer({ memcachedPort: 0 });
		const seed = new Client(both.address('simple').port);
		const memc = new Client({ port: both.address('memcached').port, protocol: 'memcached' });
		await seed.set('shared', 'from the seed protocol');
		assert.deepStrictEqual(await memc.gets('shared').then((r) => [r.value, r.flags]), ['from the seed protocol', 0]);
		await memc.set('other', 'from memcached', { flags: 3 });
		assert.strictEqual(await seed.get('other'), 'from memcached');
		await Promise.all([seed.close(), memc.close()]);
		await both.close();
	});
});

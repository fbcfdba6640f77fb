// Operators' commands against a real memcached 1.6.18: "lru tune|mode|temp_ttl" (answers and what
// "stats settings" then shows).
'use strict';

const assert = require('assert');
const { startServer, pipeline, statsPairs } = require('./helpers/server');
const { withMemcached } = require('./helpers/memcached');

describe('lru tune|mode|temp_ttl answer as memcached\'s and show in stats settings', function () {
	const reference = withMemcached();
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0 });
		port = server.address('memcached').port;
	});
	after(() => server && server.close());

	it('gives memcached\'s replies, byte for byte', async function () {
		const commands = ['lru', 'lru tune', 'lru tune 10 20 0.1', 'lru tune 10 20 0.1 2.0', 'lru tune 90 20 0.1 2',
			'lru tune 60 20 0.1 2', 'lru tune 10 20 0 1', 'lru tune 10 20 1 -1', 'lru tune x 20 1 1', 'lru tune 10 20 1x 1',
			'lru tune -1 20 1 1', 'lru tune 10 20 0.1 2.0 noreply', 'lru tune 10 20 1e400 1', 'lru tune 10 20 .5 7.',
			'lru tune 4294967295 81 1 1', 'lru tune 4294967296 0 1 1', 'lru mode', 'lru mode flat', 'lru mode segmented',
			'lru mode x', 'lru mode flat noreply', 'lru temp_ttl', 'lru temp_ttl abc', 'lru temp_ttl 30', 'lru temp_ttl -1',
			'lru temp_ttl 99999999999', 'lru temp_ttl 5 noreply', 'lru foo 1', 'lru noreply'];
		for (const command of commands) {
			const [ours, theirs] = await Promise.all([pipeline(port, [command]), pipeline(reference.port, [command])]);
			assert.strictEqual(ours, theirs, command);
		}
	});

	it('stats settings shows what lru set, as memcached\'s does', async function () {
		const names = ['lru_segmented', 'hot_lru_pct', 'warm_lru_pct', 'hot_max_factor', 'warm_max_factor', 'temp_lru', 'temporary_ttl'];
		const settings = async (p) => {
			const all = new Map(await statsPairs(p, 'settings'));
			return names.map((n) => `${n} ${all.get(n)}`);
		};
		for (const sequence of [['lru tune 15 25 0.125 3', 'lru mode flat', 'lru temp_ttl 30'], ['lru mode segmented', 'lru temp_ttl -1']]) {
			for (const p of [port, reference.port]) assert.strictEqual(await pipeline(p, sequence), 'OK\r\n'.repeat(sequence.length));
			assert.deepStrictEqual(await settings(port), await settings(reference.port), sequence.join(', '));
		}
	});
});

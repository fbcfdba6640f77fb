// Eviction under a memory limit (a clock over the store's slab blocks, approximating LRU): the memory
// stays under the limit, the newest and the recently read keys survive, the oldest go; and a server
// process's RSS stays bounded while 10× its limit is written in mixed sizes, with 1 and 2 threads.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, exchange } = require('./helpers/server');
const { startCli, exitWithin, vmRss } = require('./helpers/process');

const MiB = 1024 * 1024;

function openClient(port) {
	return new Promise((resolve, reject) => {
		const client = new Client(port, (err) => (err ? reject(err) : resolve(client)));
	});
}

const keyOf = (i) => `ev:${String(i).padStart(5, '0')}`;

// A 1 KiB value that names its key, so a wrong item cannot pass for the right one.
const valueOf = (i) => `${keyOf(i)}:`.padEnd(1024, String.fromCharCode(0x61 + (i % 26)));

// "stats slabs" over the memcached text protocol, as {name: number}.
async function slabStats(port) {
	const text = await exchange(port, ['stats slabs\r\n'], (t) => t.endsWith('END\r\n'));
	const stats = {};
	for (const line of text.split('\r\n')) {
		const [word, name, value] = line.split(' ');
		if (word === 'STAT') stats[name] = Number(value);
	}
	return stats;
}

describe('eviction: LRU under memoryLimit', () => {
	const LIMIT = 1 * MiB;
	const WRITES = 10 * 1024; // 10 MiB of values: ten times the limit
	let server;
	let client;
	beforeEach(async () => {
		server = await startServer({ memoryLimit: LIMIT, memcachedPort: 0 });
		client = await openClient(server.address().port);
	});
	afterEach(async () => {
		await client.close();
		await server.close();
	});

	it('keeps bytes under the limit and exactly the most recently written keys', async () => {
		for (let from = 0; from < WRITES; from += 1024) {
			const batch = [];
			for (let i = from; i < from + 1024; i++) batch.push(client.set(keyOf(i), valueOf(i)));
			assert.ok((await Promise.all(batch)).every((r) => r === true));
			assert.ok(server.stats().bytes <= LIMIT, `bytes ${server.stats().bytes} over the limit after ${from + 1024} writes`);
		}
		const stats = server.stats();
		assert.strictEqual(stats.memoryLimit, LIMIT);
		assert.ok(stats.bytes <= LIMIT, `bytes ${stats.bytes}`);
		assert.ok(stats.items > 0);
		// Every item has the same size, so the store holds as many as its pages fit, and evicted the
		// rest: at most what the limit holds in bytes, and no less than 90% of it (a page is a whole
		// number of slots of the item's size class).
		assert.strictEqual(stats.bytes % stats.items, 0, `bytes ${stats.bytes} for ${stats.items} equal items`);
		const itemSize = stats.bytes / stats.items;
		assert.ok(itemSize >= 1024 + keyOf(0).length, `item size ${itemSize}`);
		const fit = Math.floor(LIMIT / itemSize);
		assert.ok(stats.items <= fit && stats.items >= 0.9 * fit, `${stats.items} items of ${itemSize} bytes in ${LIMIT}`);
		// The memory the limit counts (whole slab pages) is within it, and nearly all of it is used.
		const slabs = await slabStats(server.address('memcached').port);
		assert.ok(slabs.total_malloced <= LIMIT && slabs.total_malloced > LIMIT - 64 * 1024, `total_malloced ${slabs.total_malloced}`);
		assert.strictEqual(slabs.active_slabs, 1);
		assert.ok(stats.evictions > 0);
		assert.strictEqual(stats.evictions, WRITES - stats.items);
		assert.strictEqual(stats.totalItems, WRITES);

		// Present: exactly the last stats.items keys, with their own values.
		const firstKept = WRITES - stats.items;
		const wrong = [];
		for (let i = 0; i < WRITES; i++) {
			const value = server.engine.get(keyOf(i));
			const ok = i < firstKept ? value === null : value !== null && value.toString() === valueOf(i);
			if (!ok) wrong.push(i);
		}
		assert.deepStrictEqual(wrong.slice(0, 10), [], `${wrong.length} keys in the wrong state`);
		// The network sees the same.
		const [oldest, newest] = await Promise.all([client.get(keyOf(0)), client.get(keyOf(WRITES - 1))]);
		assert.strictEqual(oldest, null);
		assert.strictEqual(newest, valueOf(WRITES - 1));
	});

	it('keeps a key that is read between writes while older untouched keys are evicted', async () => {
		assert.strictEqual(await client.set('hot', 'read often'), true);
		assert.strictEqual(await client.set('cold', 'never read'), true);
		const hotReads = [];
		for (let from = 0; from < WRITES; from += 1024) {
			const batch = [];
			for (let i = from; i < from + 1024; i++) {
				batch.push(client.set(keyOf(i), valueOf(i)));
				if (i % 100 === 0) hotReads.push(client.get('hot'));
			}
			await Promise.all(batch);
		}
		const reads = await Promise.all(hotReads);
		assert.strictEqual(reads.length, Math.ceil(WRITES / 100));
		assert.ok(reads.every((v) => v === 'read often'), `hot key missed ${reads.filter((v) => v !== 'read often').length} times`);
		assert.strictEqual(await client.get('hot'), 'read often');
		assert.strictEqual(await client.get('cold'), null);
		assert.strictEqual(await client.get(keyOf(0)), null);
		assert.strictEqual(await client.get(keyOf(WRITES - 1)), valueOf(WRITES - 1));
		const stats = server.stats();
		assert.ok(stats.evictions > 0);
		assert.ok(stats.bytes <= LIMIT);
	});

	it('evicts to make room for an item when the limit is nearly full, never exceeding it', async () => {
		const small = await startServer({ memoryLimit: 64 * 1024, maxItemSize: 60 * 1024 });
		try {
			small.engine.set('a', Buffer.alloc(30 * 1024, 0x61));
			small.engine.set('b', Buffer.alloc(30 * 1024, 0x62));
			small.engine.set('c', Buffer.alloc(30 * 1024, 0x63));
			const stats = small.stats();
			assert.strictEqual(stats.evictions, 1);
			assert.strictEqual(stats.items, 2);
			assert.ok(stats.bytes <= 64 * 1024);
			assert.strictEqual(small.engine.get('a'), null); // a miss marks nothing
			// Reading b marks it used: the clock hand spares it, and the next write evicts c.
			assert.deepStrictEqual(small.engine.get('b'), Buffer.alloc(30 * 1024, 0x62));
			small.engine.set('d', Buffer.alloc(30 * 1024, 0x64));
			assert.strictEqual(small.engine.get('c'), null);
			assert.deepStrictEqual(small.engine.get('b'), Buffer.alloc(30 * 1024, 0x62));
			assert.deepStrictEqual(small.engine.get('d'), Buffer.alloc(30 * 1024, 0x64));
			assert.strictEqual(small.stats().evictions, 2);
		} finally {
			await small.close();
		}
	});
});

describe('eviction: resident memory of a server process', () => {
	it('stays within its memory limit plus a fixed allowance while 10× the limit is written', async () => {
		const LIMIT_MIB = 8;
		const ALLOWANCE = 40 * MiB;
		const server = await startCli(['-p', '0', '-m', String(LIMIT_MIB)]);
		let client;
		try {
			client = await openClient(server.port);
			assert.strictEqual(await client.get('warm-up'), null);
			const before = vmRss(server.child.pid);
			const letters = 'abcdefghijklmnopqrstuvwxyz';
			let written = 0;
			let count = 0;
			const sizes = [];
			while (written < 10 * LIMIT_MIB * MiB) {
				const batch = [];
				for (let j = 0; j < 32; j++, count++) {
					const size = 4096 + ((count * 7919) % (60 * 1024 + 1)); // 4 KiB to 64 KiB
					sizes.push(size);
					batch.push(client.set(`rss-${count}`, letters[count % 26].repeat(size)));
					written += size;
				}
				await Promise.all(batch);
			}
			const after = vmRss(server.child.pid);
			const growth = after - before;
			assert.ok(growth < LIMIT_MIB * MiB + ALLOWANCE,
				`RSS grew by ${(growth / MiB).toFixed(1)} MiB (from ${(before / MiB).toFixed(1)} to ${(after / MiB).toFixed(1)}) for a ${LIMIT_MIB} MiB limit`);
			// The data really went through: the newest item is there, intact; the oldest was evicted.
			const last = count - 1;
			assert.strictEqual(await client.get(`rss-${last}`), letters[last % 26].repeat(sizes[last]));
			assert.strictEqual(await client.get('rss-0'), null);
		} finally {
			if (client) await client.close();
			server.child.kill('SIGTERM');
			const result = await exitWithin(server, 5000, 'server');
			assert.strictEqual(result.code, 0);
		}
	});
});

// Item memory as the memcached protocol reports it: "stats slabs" lists the size classes in use and
// total_malloced (what memoryLimit counts: 16 KiB pages plus items too big for a class), "stats
// items" the items of each class, and bytes stays memcached's sum of the items' own sizes.
'use strict';

const assert = require('assert');
const { startServer, exchange } = require('./helpers/server');

const PAGE = 16 * 1024;
const HEADER = 32; // item header: bytes counts it, with the key and the value

async function stats(port, group) {
	const text = await exchange(port, [`stats${group ? ` ${group}` : ''}\r\n`], (t) => t.endsWith('END\r\n'));
	const out = {};
	for (const line of text.split('\r\n')) {
		const [word, name, value] = line.split(' ');
		if (word === 'STAT') out[name] = Number(value);
	}
	return out;
}

// The classes of a "stats slabs" reply: {id: {chunk_size, used_chunks, ...}}.
function classes(slabs) {
	const out = {};
	for (const [name, value] of Object.entries(slabs)) {
		const match = /^(\d+):(\w+)$/.exec(name);
		if (match) (out[match[1]] ||= {})[match[2]] = value;
	}
	return out;
}

describe('item memory in stats slabs and stats items', () => {
	let server;
	let port;
	beforeEach(async () => {
		server = await startServer({ memcachedPort: 0, memoryLimit: 4 * 1024 * 1024 });
		port = server.address('memcached').port;
	});
	afterEach(() => server.close());

	it('reports no class and nothing malloced for an empty store', async () => {
		const slabs = await stats(port, 'slabs');
		assert.deepStrictEqual(slabs, { active_slabs: 0, total_malloced: 0 });
		assert.deepStrictEqual(await stats(port, 'items'), {});
	});

	it('puts items in the smallest class that holds header, key and value, one page per class', async () => {
		const values = { a: 'x', b: 'y'.repeat(100), c: 'z'.repeat(101), big: 'w'.repeat(5000) };
		for (const [key, value] of Object.entries(values)) server.engine.set(key, value);
		const slabs = await stats(port, 'slabs');
		const byClass = classes(slabs);
		// a: 32 + 1 + 1 = 34 bytes -> 40; b: 133 -> 136; c: 134 -> 136 (8-byte steps up to 256 B).
		const sizes = Object.values(byClass).map((c) => c.chunk_size).sort((x, y) => x - y);
		assert.deepStrictEqual(sizes, [40, 136]);
		for (const c of Object.values(byClass)) {
			assert.strictEqual(c.chunks_per_page, Math.floor(PAGE / c.chunk_size));
			assert.strictEqual(c.total_pages, 1);
			assert.strictEqual(c.total_chunks, c.chunks_per_page);
			assert.strictEqual(c.used_chunks + c.free_chunks, c.total_chunks);
			assert.strictEqual(c.used_chunks, c.chunk_size === 40 ? 1 : 2);
		}
		assert.strictEqual(slabs.active_slabs, 2);
		// The 5000-byte value is allocated on its own: counted with a little bookkeeping, no page.
		const big = slabs.total_malloced - 2 * PAGE;
		assert.ok(big >= HEADER + 3 + 5000 && big <= HEADER + 3 + 5000 + 64, `big item counted as ${big}`);
		const items = await stats(port, 'items');
		const ids = Object.keys(byClass);
		const pick = (field) => Object.fromEntries(Object.entries(items).filter(([name]) => name.endsWith(`:${field}`)));
		// The big item has a class of its own in "stats items", with no pages in "stats slabs".
		const numbers = pick('number');
		const bigClass = Object.keys(numbers).filter((name) => !ids.includes(name.split(':')[1]));
		assert.strictEqual(bigClass.length, 1, JSON.stringify(numbers));
		assert.deepStrictEqual(numbers, Object.fromEntries([...ids.map((id) => [`items:${id}:number`, byClass[id].used_chunks]), [bigClass[0], 1]]));
		// bytes: each item's header, key and value, as memcached sums its items' sizes; mem_requested
		// the same per class.
		const general = await stats(port, '');
		const size = ([k, v]) => HEADER + k.length + v.length;
		const expected = Object.entries(values).reduce((sum, kv) => sum + size(kv), 0);
		assert.strictEqual(general.bytes, expected);
		assert.strictEqual(general.curr_items, 4);
		const requested = Object.values(pick('mem_requested')).reduce((a, b) => a + b, 0);
		assert.strictEqual(requested, expected);
	});

	it('gives the memory back when items go, keeping a few empty pages for reuse', async () => {
		for (let i = 0; i < 1000; i++) server.engine.set(`k${i}`, 'v'.repeat(i % 300));
		const full = await stats(port, 'slabs');
		assert.ok(full.active_slabs > 10, `${full.active_slabs} classes`);
		for (let i = 0; i < 1000; i++) server.engine.delete(`k${i}`);
		const empty = await stats(port, 'slabs');
		assert.strictEqual(empty.active_slabs, 0);
		assert.ok(empty.total_malloced <= 4 * PAGE, `total_malloced ${empty.total_malloced} with no item`);
		assert.strictEqual((await stats(port, '')).bytes, 0);
	});
});

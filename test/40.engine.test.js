// Engine in process (server.engine): one store shared with the network, feed() with complete,
// partial and pipelined input, error results, and the stats counters each operation moves.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, waitFor } = require('./helpers/server');

function openClient(port, options = {}) {
	return new Promise((resolve, reject) => {
		const client = new Client({ port, ...options }, (err) => (err ? reject(err) : resolve(client)));
	});
}

// Counter changes between two server.stats() snapshots, for the fields that should move.
function delta(before, after) {
	const out = {};
	for (const name of ['gets', 'hits', 'misses', 'sets', 'deletes', 'deleteHits', 'deleteMisses', 'items', 'totalItems']) {
		out[name] = after[name] - before[name];
	}
	return out;
}

describe('engine: the same store as the server', () => {
	let server;
	let engine;
	let client;
	before(async () => {
		server = await startServer();
		engine = server.engine;
		client = await openClient(server.address().port);
	});
	after(async () => {
		await client.close();
		await server.close();
	});

	it('serves over the network what engine.set() stored, and vice versa', async () => {
		assert.strictEqual(engine.set('e-from-engine', 'written in process'), true);
		assert.strictEqual(await client.get('e-from-engine'), 'written in process');
		assert.strictEqual(await client.set('e-from-client', 'written over tcp'), true);
		const value = engine.get('e-from-client');
		assert.ok(Buffer.isBuffer(value));
		assert.strictEqual(value.toString(), 'written over tcp');
		assert.strictEqual(engine.delete('e-from-client'), true);
		assert.strictEqual(await client.get('e-from-client'), null);
		assert.strictEqual(await client.delete('e-from-engine'), true);
		assert.strictEqual(engine.get('e-from-engine'), null);
		assert.strictEqual(engine.delete('e-from-engine'), false);
	});

	it('stores Buffer values byte for byte, including \\r and \\n, which only the wire protocol cannot carry', () => {
		const value = Buffer.from([0, 1, 13, 10, 0x80, 0xff, 32]);
		assert.strictEqual(engine.set(Buffer.from('e-bytes'), value), true);
		assert.deepStrictEqual(engine.get('e-bytes'), value);
		assert.strictEqual(engine.set('e-number', 7), true);
		assert.deepStrictEqual(engine.get('e-number'), Buffer.from('7'));
	});

	it('returns a copy: changing the returned Buffer does not change the item', () => {
		engine.set('e-copy', 'original');
		const first = engine.get('e-copy');
		first.fill(0x21);
		assert.strictEqual(engine.get('e-copy').toString(), 'original');
	});

	it('validates keys like the client does', () => {
		assert.throws(() => engine.get('has space'), RangeError);
		assert.throws(() => engine.set('', 'v'), RangeError);
		assert.throws(() => engine.delete('k'.repeat(251)), RangeError);
		assert.throws(() => engine.get(5), TypeError);
		assert.throws(() => engine.set('k', {}), TypeError);
	});

	// A string is copied into a fixed room first; a copy never splits a character, so a multi-byte
	// character at its end once cut such strings short instead of showing them too long.
	it('takes a string key or value ending in a multi-byte character near its room whole', () => {
		const value = `${'a'.repeat(4094)}\u00e9`; // 4096 bytes
		assert.strictEqual(engine.set('e-cut', value), true);
		assert.strictEqual(engine.get('e-cut').toString(), value);
		const key = `${'a'.repeat(249)}\u20ac`; // 252 bytes
		assert.throws(() => engine.set(key, 'v'), RangeError);
		assert.strictEqual(engine.has('a'.repeat(249)), false);
	});

	// As over the protocol: the limit is on memcached's item size, and a failed set drops the old value.
	it('throws an Error with code SERVER_ERROR for an item over maxItemSize, and drops the old value as memcached does', async () => {
		const small = await startServer({ maxItemSize: 1024 });
		try {
			assert.strictEqual(small.engine.set('e-limit', 'old'), true);
			assert.throws(() => small.engine.set('e-limit', Buffer.alloc(1025, 0x61)),
				(e) => e instanceof Error && e.code === 'SERVER_ERROR' && e.message === 'SERVER_ERROR: object too large for cache');
			assert.strictEqual(small.engine.get('e-limit'), null);
			assert.strictEqual(small.engine.set('e-limit', Buffer.alloc(900, 0x62)), true);
			assert.deepStrictEqual(small.engine.get('e-limit'), Buffer.alloc(900, 0x62));
		} finally {
			await small.close();
		}
	});
});

describe('engine: feed()', () => {
	let server;
	let engine;
	beforeEach(async () => {
		server = await startServer({ maxItemSize: 100 });
		engine = server.engine;
	});
	afterEach(() => server.close());

	const feed = (data) => engine.feed(data).toString('latin1');

	it('answers a complete command with its reply, as a Buffer', () => {
		const reply = engine.feed(Buffer.from('set f1 hello there\r\n'));
		assert.ok(Buffer.isBuffer(reply));
		assert.strictEqual(reply.toString(), 'STORED\r\n');
		assert.strictEqual(feed('get f1\r\n'), 'VALUE f1 hello there\r\nEND\r\n');
		assert.strictEqual(feed('delete f1\n'), 'DELETED\r\n');
		assert.strictEqual(feed('delete f1\r\n'), 'NOT_FOUND\r\n');
		assert.strictEqual(feed('get f1\r\n'), 'END\r\n');
	});

	it('keeps a partial command until the rest arrives, across many calls', () => {
		assert.strictEqual(feed('se'), '');
		assert.strictEqual(feed('t f2 '), '');
		assert.strictEqual(feed('partial value'), '');
		assert.strictEqual(feed('\r'), '');
		assert.strictEqual(feed('\nget f'), 'STORED\r\n');
		assert.strictEqual(feed('2'), '');
		assert.strictEqual(feed('\r\n'), 'VALUE f2 partial value\r\nEND\r\n');
		assert.strictEqual(feed(''), '');
	});

	it('gives the same replies whether a pipeline is fed at once, byte by byte, or cut anywhere', async () => {
		const stream = 'set f3 a b c\r\nget f3\r\nGET f3\r\nset f3 \nget f3\ndelete f3\r\ndelete f3\r\nget f3\r\n';
		const expected = 'STORED\r\nVALUE f3 a b c\r\nEND\r\nERROR\r\nSTORED\r\nVALUE f3 \r\nEND\r\nDELETED\r\nNOT_FOUND\r\nEND\r\n';
		assert.strictEqual(feed(stream), expected);
		let bytewise = '';
		for (const ch of stream) bytewise += feed(ch);
		assert.strictEqual(bytewise, expected);
		for (let cut = 1; cut < stream.length; cut++) {
			const replies = feed(stream.slice(0, cut)) + feed(stream.slice(cut));
			assert.strictEqual(replies, expected, `cut at ${cut}`);
		}
	});

	it('shares the store with the server: a key fed in is served over the network', async () => {
		assert.strictEqual(feed('set f4 fed\r\n'), 'STORED\r\n');
		const client = await openClient(server.address().port);
		try {
			assert.strictEqual(await client.get('f4'), 'fed');
			await client.set('f5', 'sent');
		} finally {
			await client.close();
		}
		assert.strictEqual(feed('get f5\r\n'), 'VALUE f5 sent\r\nEND\r\n');
	});

	it('answers ERROR to malformed lines and SERVER_ERROR to a value over maxItemSize', () => {
		assert.strictEqual(feed('get\r\nset k\r\nget a b\r\n\r\n'), 'ERROR\r\nERROR\r\nERROR\r\nERROR\r\n');
		assert.strictEqual(feed(`set big ${'x'.repeat(101)}\r\n`), 'SERVER_ERROR object too large for cache\r\n');
		assert.strictEqual(feed('get big\r\n'), 'END\r\n');
	});

	it('answers CLIENT_ERROR to an overlong line, drops it as it arrives, and answers what follows', () => {
		assert.strictEqual(feed('x'.repeat(250 + 100 + 32)), '');
		assert.strictEqual(feed('x\r\nget k\r\n'), 'CLIENT_ERROR line too long\r\nEND\r\n');
		assert.strictEqual(feed('y'.repeat(1000)), 'CLIENT_ERROR line too long\r\n');
		assert.strictEqual(feed('y'.repeat(1000)), '');
		assert.strictEqual(feed('y\r\nget k\r\n'), 'END\r\n');
	});

	it('answers nothing after quit in the same call, and the next call with a fresh session', () => {
		assert.strictEqual(feed('set q 1\r\nquit\r\nget q\r\n'), 'STORED\r\n');
		assert.strictEqual(feed('get q\r\n'), 'VALUE q 1\r\nEND\r\n');
	});

	it('starts a fresh memcached session after quit or a stream it cannot resynchronise', () => {
		const mc = (data) => engine.feed(data, { protocol: 'memcached' }).toString('latin1');
		assert.strictEqual(mc('set m 0 0 1\r\nv\r\nquit\r\nversion\r\n'), 'STORED\r\n');
		assert.strictEqual(mc('get m\r\n'), 'VALUE m 0 1\r\nv\r\nEND\r\n');
		// memcached hangs up, silently, on a line with no end past 2 KiB; here the next call is new.
		assert.strictEqual(mc(`set m 0 0 1\r\nw\r\n${'x'.repeat(4096)}`), 'STORED\r\n');
		assert.strictEqual(mc('version\r\n'), 'VERSION 1.6.18\r\n');
	});

	it('keeps no pending input past the bound a socket has (maxItemSize + 2 MiB)', () => {
		// A value's data block of maxItemSize (100 bytes here) is refused and swallowed, so only a
		// session that stops executing could accumulate input; after quit it is dropped with the call.
		const mc = (data) => engine.feed(data, { protocol: 'memcached' }).toString('latin1');
		assert.strictEqual(mc(`quit\r\n${'x'.repeat(3 * 1024 * 1024)}`), '');
		assert.strictEqual(mc('version\r\n'), 'VERSION 1.6.18\r\n');
	});

	it('accepts strings as well as Buffers, and throws TypeError for other types', () => {
		assert.strictEqual(engine.feed('set s1 str\r\n').toString(), 'STORED\r\n');
		assert.throws(() => engine.feed(42), TypeError);
		assert.strictEqual(feed('get s1\r\n'), 'VALUE s1 str\r\nEND\r\n');
	});
});

describe('engine: stats counters', () => {
	let server;
	let client;
	beforeEach(async () => {
		server = await startServer({ memoryLimit: 4 * 1024 * 1024 });
		client = await openClient(server.address().port);
		await waitFor(() => server.stats().connections === 1, { what: 'the server to accept the client' });
	});
	afterEach(async () => {
		await client.close();
		await server.close();
	});

	it('starts at zero and reports the memory limit', () => {
		const stats = server.stats();
		const expected = {
			items: 0, bytes: 0, connections: 1, totalConnections: 1, rejectedConnections: 0, gets: 0, hits: 0, misses: 0,
			sets: 0, deletes: 0, deleteHits: 0, deleteMisses: 0, evictions: 0, totalItems: 0, memoryLimit: 4 * 1024 * 1024,
		};
		const actual = {};
		for (const name of Object.keys(expected)) actual[name] = stats[name];
		assert.deepStrictEqual(actual, expected);
	});

	it('counts gets, hits, misses, sets and deletes made through the engine methods', () => {
		const before = server.stats();
		server.engine.set('s-a', '1');
		server.engine.set('s-b', '2');
		server.engine.set('s-a', '3');
		server.engine.get('s-a');
		server.engine.get('s-missing');
		server.engine.get('s-b');
		server.engine.delete('s-b');
		server.engine.delete('s-b');
		assert.deepStrictEqual(delta(before, server.stats()), {
			gets: 3, hits: 2, misses: 1, sets: 3, deletes: 2, deleteHits: 1, deleteMisses: 1, items: 1, totalItems: 3,
		});
	});

	it('counts the same operations made over the network and through feed()', async () => {
		const before = server.stats();
		await Promise.all([
			client.set('n-a', '1'), client.set('n-b', '2'), client.set('n-a', '3'),
			client.get('n-a'), client.get('n-missing'), client.get('n-b'), client.delete('n-b'), client.delete('n-b'),
		]);
		assert.deepStrictEqual(delta(before, server.stats()), {
			gets: 3, hits: 2, misses: 1, sets: 3, deletes: 2, deleteHits: 1, deleteMisses: 1, items: 1, totalItems: 3,
		});
		const middle = server.stats();
		server.engine.feed('set f-a 1\r\nset f-b 2\r\nset f-a 3\r\nget f-a\r\nget f-missing\r\nget f-b\r\ndelete f-b\r\ndelete f-b\r\n');
		assert.deepStrictEqual(delta(middle, server.stats()), {
			gets: 3, hits: 2, misses: 1, sets: 3, deletes: 2, deleteHits: 1, deleteMisses: 1, items: 1, totalItems: 3,
		});
	});

	it('stores nothing for a refused set', () => {
		const small = server.engine;
		const before = server.stats();
		assert.throws(() => small.set('s-huge', Buffer.alloc(2 * 1024 * 1024)), { code: 'SERVER_ERROR' });
		const after = server.stats();
		assert.strictEqual(after.items, before.items);
		assert.strictEqual(after.bytes, before.bytes);
		assert.strictEqual(after.totalItems, before.totalItems);
	});

	it('accounts bytes per item as a fixed overhead plus key and value lengths, and gives them back', () => {
		const base = server.stats().bytes;
		server.engine.set('b1', 'v');
		const one = server.stats().bytes - base;
		assert.ok(one >= 3, `one item of 3 bytes accounted as ${one}`);
		server.engine.set('b22', 'vvvv');
		assert.strictEqual(server.stats().bytes - base, 2 * one + 4);
		server.engine.set('b22', 'v'.repeat(104));
		assert.strictEqual(server.stats().bytes - base, 2 * one + 104);
		server.engine.delete('b1');
		server.engine.delete('b22');
		assert.strictEqual(server.stats().bytes, base);
		assert.strictEqual(server.stats().items, 0);
	});

	it('counts connections: current, total, and none rejected', async () => {
		const second = await openClient(server.address().port);
		await waitFor(() => server.stats().connections === 2, { what: 'the server to accept the second client' });
		assert.strictEqual(server.stats().totalConnections, 2);
		await second.close();
		await waitFor(() => server.stats().connections === 1, { what: 'the server to see the close' });
		assert.strictEqual(server.stats().totalConnections, 2);
		assert.strictEqual(server.stats().rejectedConnections, 0);
	});
});

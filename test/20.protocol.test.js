// Raw protocol conformance: the exact reply to each seed command, ERROR for every malformed line,
// line ends, values with spaces/empty/high bytes, SERVER_ERROR for large values and CLIENT_ERROR for long lines.
'use strict';

const assert = require('assert');
const { startServer, exchange, connect } = require('./helpers/server');

// Sends the chunks on a new connection and asserts the reply is exactly `expected`.
async function expectReply(port, chunks, expected, options) {
	assert.strictEqual(await exchange(port, chunks, expected, options), expected);
}

describe('protocol: replies to valid commands', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
	});
	after(() => server.close());

	it('answers set with STORED and get with VALUE <key> <value> then END', async () => {
		await expectReply(port, ['set p1 hello\r\nget p1\r\n'], 'STORED\r\nVALUE p1 hello\r\nEND\r\n');
	});

	it('answers a get of an absent key with END alone', async () => {
		await expectReply(port, ['get p2-never-set\r\n'], 'END\r\n');
	});

	it('answers delete with DELETED for a present key, then NOT_FOUND, and the key is gone', async () => {
		await expectReply(port, ['set p3 x\r\ndelete p3\r\ndelete p3\r\nget p3\r\n'], 'STORED\r\nDELETED\r\nNOT_FOUND\r\nEND\r\n');
	});

	it('replaces the value of a key set twice', async () => {
		await expectReply(port, ['set p4 first\r\nset p4 second\r\nget p4\r\n'], 'STORED\r\nSTORED\r\nVALUE p4 second\r\nEND\r\n');
	});

	it('keeps every space of a value: the value is the rest of the line after one space', async () => {
		await expectReply(port, ['set p5  a  value  with spaces  \r\nget p5\r\n'], 'STORED\r\nVALUE p5  a  value  with spaces  \r\nEND\r\n');
	});

	it('stores an empty value (set <key> followed by one space)', async () => {
		await expectReply(port, ['set p6 \r\nget p6\r\n'], 'STORED\r\nVALUE p6 \r\nEND\r\n');
	});

	it('accepts bare \\n line ends, also mixed with \\r\\n', async () => {
		await expectReply(port, ['set p7 v\nget p7\r\ndelete p7\ndelete p7\r\nget p7\n'], 'STORED\r\nVALUE p7 v\r\nEND\r\nDELETED\r\nNOT_FOUND\r\nEND\r\n');
	});

	it('round-trips every byte 0x00-0xff except \\r and \\n in a value, and high bytes in a key', async () => {
		const bytes = [];
		for (let b = 0x80; b <= 0xff; b++) bytes.push(b);
		for (let b = 0x00; b < 0x80; b++) if (b !== 0x0a && b !== 0x0d) bytes.push(b);
		const value = Buffer.from(bytes);
		const key = Buffer.from('p8-clé-\u00ff', 'utf8');
		const request = Buffer.concat([Buffer.from('set '), key, Buffer.from(' '), value, Buffer.from('\r\nget '), key, Buffer.from('\r\n')]);
		const expected = Buffer.concat([Buffer.from('STORED\r\nVALUE '), key, Buffer.from(' '), value, Buffer.from('\r\nEND\r\n')]);
		const reply = await exchange(port, [request], expected.toString('latin1'));
		assert.deepStrictEqual(Buffer.from(reply, 'latin1'), expected);
	});

	it('keeps a \\r inside a value; only the \\r right before \\n is part of the line end', async () => {
		await expectReply(port, ['set p9 a\rb\r\r\nget p9\r\n'], 'STORED\r\nVALUE p9 a\rb\r\r\nEND\r\n');
	});

	it('accepts a key of exactly 250 bytes', async () => {
		const key = 'k'.repeat(250);
		await expectReply(port, [`set ${key} long-key\r\nget ${key}\r\ndelete ${key}\r\n`], `STORED\r\nVALUE ${key} long-key\r\nEND\r\nDELETED\r\n`);
	});

	it('closes on quit after answering earlier commands, ignoring later ones, also with a bare \\n', async () => {
		const reply = await exchange(port, ['set p10 1\nquit\nget p10\n'], null);
		assert.strictEqual(reply, 'STORED\r\n');
	});
});

describe('protocol: malformed lines get ERROR and the connection stays usable', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
		server.engine.set('probe', 'alive');
	});
	after(() => server.close());

	const PROBE = 'get probe\r\n';
	const PROBE_REPLY = 'VALUE probe alive\r\nEND\r\n';
	const bad = {
		'unknown command': 'frobnicate k\r\n',
		// (memcached's own words, "stats" and the like, get the seed-port guard's error: test/58)
		'unknown command without arguments': 'frobnicate\r\n',
		'uppercase GET': 'GET probe\r\n',
		'uppercase SET': 'SET probe v\r\n',
		'capitalised Delete': 'Delete probe\r\n',
		'get without key': 'get\r\n',
		'get with an empty key': 'get \r\n',
		'delete without key': 'delete\r\n',
		'delete with an empty key': 'delete \r\n',
		'set without key': 'set\r\n',
		'set <key> without value': 'set bad-k1\r\n',
		'set with an empty key': 'set  value\r\n',
		'key with a control character (0x01)': 'get a\x01b\r\n',
		'key with a tab': 'set a\tb v\r\n',
		'key with DEL (0x7f)': 'delete a\x7f\r\n',
		'key with a NUL byte': 'get a\x00b\r\n',
		'key of 251 bytes in get': `get ${'k'.repeat(251)}\r\n`,
		'key of 251 bytes in set': `set ${'k'.repeat(251)} v\r\n`,
		'key of 251 bytes in delete': `delete ${'k'.repeat(251)}\r\n`,
		'get with two keys': 'get a b\r\n',
		'delete with an extra token': 'delete a b\r\n',
		'get with a trailing space': 'get probe \r\n',
		'get with two spaces before the key': 'get  probe\r\n',
		'a leading space': ' get probe\r\n',
		'an empty line (\\r\\n)': '\r\n',
		'an empty line (\\n)': '\n',
		'a line of spaces': '   \r\n',
		'quit with an argument': 'quit now\r\n',
	};

	for (const [name, line] of Object.entries(bad)) {
		it(`answers ERROR to ${name}, then serves the next command`, async () => {
			const before = server.stats();
			await expectReply(port, [Buffer.from(line + PROBE, 'latin1')], `ERROR\r\n${PROBE_REPLY}`);
			const after = server.stats();
			// The bad line changed nothing: only the probe's get was counted.
			assert.strictEqual(after.sets, before.sets);
			assert.strictEqual(after.items, before.items);
			assert.strictEqual(after.gets, before.gets + 1);
		});
	}

	it('answers each of many malformed lines in one write with its own ERROR, in order', async () => {
		const lineList = Object.values(bad);
		const stream = lineList.map((line) => line + PROBE).join('');
		const expected = `ERROR\r\n${PROBE_REPLY}`.repeat(lineList.length);
		await expectReply(port, [Buffer.from(stream, 'latin1')], expected);
	});

	it('answers ERROR when the bad line and the next command arrive in separate writes', async () => {
		const conn = await connect(port);
		try {
			assert.strictEqual(await conn.request('GET probe\r\n', 'ERROR\r\n'), 'ERROR\r\n');
			assert.strictEqual(await conn.request('set bad-k2\r\n', 'ERROR\r\n'), 'ERROR\r\n');
			assert.strictEqual(await conn.request(PROBE, PROBE_REPLY), PROBE_REPLY);
			assert.strictEqual(await conn.request('set after-error ok\r\n', 'STORED\r\n'), 'STORED\r\n');
		} finally {
			await conn.destroy();
		}
		assert.strictEqual(server.engine.get('bad-k2'), null);
		assert.strictEqual(server.engine.get('after-error').toString(), 'ok');
	});
});

describe('protocol: size limits', () => {
	const MAX_ITEM = 100;
	const MAX_LINE = 250 + MAX_ITEM + 32;
	let server;
	let port;
	before(async () => {
		server = await startServer({ maxItemSize: MAX_ITEM });
		port = server.address().port;
	});
	after(() => server.close());

	it('stores a value of exactly maxItemSize bytes', async () => {
		const value = 'v'.repeat(MAX_ITEM);
		await expectReply(port, [`set fits ${value}\r\nget fits\r\n`], `STORED\r\nVALUE fits ${value}\r\nEND\r\n`);
	});

	it('answers SERVER_ERROR object too large for cache to a value of maxItemSize + 1 bytes, and goes on', async () => {
		const value = 'v'.repeat(MAX_ITEM + 1);
		await expectReply(port, [`set too-large ${value}\r\nget too-large\r\nset small ok\r\nget small\r\n`], 'SERVER_ERROR object too large for cache\r\nEND\r\nSTORED\r\nVALUE small ok\r\nEND\r\n');
	});

	it('accepts a line of exactly the maximum length (250 + maxItemSize + 32 bytes) and answers it', async () => {
		const line = 'x'.repeat(MAX_LINE);
		await expectReply(port, [`${line}\nget small\r\n`], 'ERROR\r\nVALUE small ok\r\nEND\r\n');
	});

	it('answers CLIENT_ERROR line too long to a longer line, drops the rest of it as it arrives, and goes on', async () => {
		const other = await connect(port);
		try {
			assert.strictEqual(await other.request('set neighbour here\r\n', 'STORED\r\n'), 'STORED\r\n');
			const answers = 'CLIENT_ERROR line too long\r\nVALUE small ok\r\nEND\r\n';
			const reply = await exchange(port, ['x'.repeat(MAX_LINE + 1), 'y'.repeat(MAX_LINE * 2), 'end of it\r\nget small\r\n'], answers);
			assert.strictEqual(reply, answers);
			// The other connection was not disturbed.
			const expected = 'VALUE neighbour here\r\nEND\r\n';
			assert.strictEqual(await other.request('get neighbour\r\n', expected), expected);
			assert.strictEqual(other.isClosed, false);
		} finally {
			await other.destroy();
		}
	});

	it('answers a set too long for any item, arriving in many small writes, as too large, and the commands after it', async () => {
		// Six writes of 64 bytes: the sixth brings the line past the limit; the seventh ends it.
		const chunks = [];
		for (let i = 0; i < 6; i++) chunks.push((i === 0 ? 'set k ' : '').padEnd(64, 'y'));
		chunks.push('y\r\nget k\r\n');
		const expected = 'SERVER_ERROR object too large for cache\r\nEND\r\n';
		assert.strictEqual(await exchange(port, chunks, expected, { gap: 'immediate' }), expected);
	});

	it('answers earlier commands, then CLIENT_ERROR for a long line that has its newline, then the later ones', async () => {
		const expected = 'VALUE small ok\r\nEND\r\nCLIENT_ERROR line too long\r\nVALUE small ok\r\nEND\r\n';
		assert.strictEqual(await exchange(port, [`get small\r\n${'z'.repeat(MAX_LINE * 3)}\r\nget small\r\n`], expected), expected);
	});
});

// An oversized seed-protocol set in the middle of 100 pipelined requests fails only itself: raw, every other reply
// comes right and in order on the same connection, however the bytes arrive; through the Client, only its callback errs.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, connect, waitFor } = require('./helpers/server');
const { pacedWrites, textReply, PacedConnection } = require('./helpers/paced');

const ITEM_LIMIT = 1 << 20;                  // the server's default maxItemSize
const MAX_LINE = 250 + ITEM_LIMIT + 32;      // its longest seed line (key, value, slack)
const BIG = 50;                              // the oversized request's place among the 100
const TOO_LARGE = 'SERVER_ERROR object too large for cache\r\n';

// Requests 0..99: a set of k<i> then a get of it, in turn; request BIG sets `big` to
// `bigBytes` bytes instead (so the get after it finds nothing). Each with its expected reply.
function hundredRequests(tag, bigBytes) {
	const requests = [];
	const stored = new Map();
	for (let i = 0; i < 100; i++) {
		const key = `${tag}:${i - (i % 2)}`;
		if (i === BIG) {
			requests.push({ bytes: `set ${key} ${'b'.repeat(bigBytes)}\r\n`, reply: TOO_LARGE });
		} else if (i % 2 === 0) {
			stored.set(key, `value ${i} of ${tag}`);
			requests.push({ bytes: `set ${key} ${stored.get(key)}\r\n`, reply: 'STORED\r\n' });
		} else {
			const value = stored.get(key);
			requests.push({ bytes: `get ${key}\r\n`, reply: value === undefined ? 'END\r\n' : `VALUE ${key} ${value}\r\nEND\r\n` });
		}
	}
	return requests.map((r) => ({ bytes: Buffer.from(r.bytes, 'latin1'), reply: r.reply }));
}

// The byte offset in a stream of these requests where request BIG starts.
const bigStart = (requests) => requests.slice(0, BIG).reduce((n, r) => n + r.bytes.length, 0);

// Writes of at most `size` bytes.
function chunked(stream, size) {
	const chunks = [];
	for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
	return chunks;
}

describe('seed protocol: an oversized set among 100 pipelined requests fails alone', function () {
	this.timeout(60000);
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address('simple').port;
	});
	after(() => server && server.close());

	// The same connection then answers a later request, and nothing of the big value was stored.
	async function stillServes(conn, tag) {
		const after = `set ${tag}:after fine\r\nget ${tag}:after\r\nget ${tag}:${BIG}\r\n`;
		const expected = `STORED\r\nVALUE ${tag}:after fine\r\nEND\r\nEND\r\n`;
		assert.strictEqual(await conn.request(after, expected), expected);
		assert.strictEqual(conn.isClosed, false);
	}

	const deliveries = {
		'in one write': (stream) => [stream],
		'in 64 KiB writes': (stream) => chunked(stream, 65536),
		'in 1000-byte writes around the oversized line, as it passes the line limit': (stream, requests) => {
			const start = bigStart(requests);
			const edge = start + MAX_LINE;
			return [stream.subarray(0, start + 10), ...chunked(stream.subarray(start + 10, edge - 500), 1 << 18),
				...chunked(stream.subarray(edge - 500, edge + 1500), 1000), stream.subarray(edge + 1500)];
		},
	};

	for (const [bigLabel, bigBytes] of [['one byte over maxItemSize', ITEM_LIMIT + 1], ['2 MiB, past the longest line', 2 << 20]]) {
		for (const [n, [how, deliver]] of Object.entries(deliveries).entries()) {
			it(`answers every other request in order, on the same connection: ${bigLabel}, ${how}`, async () => {
				const tag = `o${bigBytes}-${n}`;
				const requests = hundredRequests(tag, bigBytes);
				const expected = requests.map((r) => r.reply).join('');
				const conn = await connect(port);
				try {
					for (const chunk of deliver(Buffer.concat(requests.map((r) => r.bytes)), requests)) conn.write(chunk);
					const replies = await conn.read(Buffer.byteLength(expected, 'latin1'));
					assert.strictEqual(replies, expected);
					await stillServes(conn, tag);
				} finally {
					await conn.destroy();
				}
			});
		}

		// Each cut is a read boundary: the bytes after it are sent once the replies before it came.
		it(`answers every other request in order when the oversized line is cut at the line limit: ${bigLabel}`, async () => {
			const tag = `c${bigBytes}`;
			const requests = hundredRequests(tag, bigBytes);
			const big = requests[BIG].bytes.length;
			for (const cut of [1, 4, 10, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, big - 2, big - 1].filter((c) => c < big)) {
				const conn = await PacedConnection.open(port, textReply);
				try {
					const writes = pacedWrites(requests.map((r, i) => ({ bytes: r.bytes, cut: i === BIG ? cut : 0 })));
					const replies = (await conn.send(writes)).toString('latin1');
					assert.strictEqual(replies, requests.map((r) => r.reply).join(''), `cut at ${cut}`);
				} finally {
					conn.close();
				}
			}
		});
	}

	it('keeps the other connections served meanwhile', async () => {
		const other = await connect(port);
		const conn = await connect(port);
		try {
			assert.strictEqual(await other.request('set neighbour here\r\n', 'STORED\r\n'), 'STORED\r\n');
			conn.write(`set huge ${'h'.repeat(ITEM_LIMIT)}`);   // half-way through an oversized line
			conn.write('h'.repeat(ITEM_LIMIT));
			const expected = 'VALUE neighbour here\r\nEND\r\n';
			assert.strictEqual(await other.request('get neighbour\r\n', expected), expected);
			conn.write('h\r\nget neighbour\r\n');
			assert.strictEqual(await conn.read(TOO_LARGE.length + expected.length), TOO_LARGE + expected);
		} finally {
			await Promise.all([other.destroy(), conn.destroy()]);
		}
	});
});

describe('Client: an oversized seed set among 100 pipelined requests fails only its own callback', function () {
	this.timeout(60000);
	let server;
	before(async () => { server = await startServer(); });
	after(() => server && server.close());

	// 100 calls on one Client, callbacks only; call BIG sets a value of `bigBytes`. Resolves with
	// each call's (err, result), in the order the callbacks ran.
	function hundredCalls(client, tag, bigBytes) {
		return new Promise((resolve) => {
			const results = new Array(100);
			const order = [];
			let left = 100;
			const done = (i) => (err, result) => {
				results[i] = { err, result };
				order.push(i);
				if (--left === 0) resolve({ results, order });
			};
			for (let i = 0; i < 100; i++) {
				const key = `${tag}:${i - (i % 2)}`;
				if (i === BIG) client.set(key, 'b'.repeat(bigBytes), done(i));
				else if (i % 2 === 0) client.set(key, `value ${i}`, done(i));
				else client.get(key, done(i));
			}
		});
	}

	function checkResults({ results, order }) {
		assert.ok(results[BIG].err instanceof Error, 'the oversized set fails');
		assert.strictEqual(results[BIG].err.code, 'ESERVER');
		assert.strictEqual(results[BIG].err.serverMessage, 'SERVER_ERROR object too large for cache');
		assert.strictEqual(results[BIG].err.message, 'SERVER_ERROR: object too large for cache');
		results.forEach((r, i) => {
			if (i === BIG) return;
			assert.ifError(r.err);
			if (i % 2 === 0) assert.strictEqual(r.result, true, `set ${i}`);
			else assert.strictEqual(r.result, i - 1 === BIG ? null : `value ${i - 1}`, `get ${i}`);
		});
		// The replies came in order; a refusal before sending may answer first.
		assert.deepStrictEqual(order.filter((i) => i !== BIG), [...Array(100).keys()].filter((i) => i !== BIG));
	}

	// The last figure: how much store_too_large grows (null: not checked; today the seed protocol
	// counts only the lines past its limit, not a value the store refuses).
	const cases = [
		['refused by the Client before sending (maxValueSize)', {}, 2 << 20, 0],
		['refused by the server, one byte over its limit', { maxValueSize: 4 << 20 }, ITEM_LIMIT + 1, null],
		['refused by the server, 2 MiB dropped as it arrives', { maxValueSize: 4 << 20 }, 2 << 20, 1],
	];
	for (const [label, options, bigBytes, refusedByServer] of cases) {
		it(`only the oversized set's callback gets an error: ${label}`, async () => {
			const before = server.stats();
			const client = new Client({ port: server.address().port, ...options });
			try {
				checkResults(await hundredCalls(client, `cl${bigBytes}${refusedByServer}`, bigBytes));
				// The same connection goes on: a later call succeeds without a reconnect.
				await new Promise((resolve, reject) => client.set('later', 'ok', (err) => (err ? reject(err) : resolve())));
				assert.strictEqual(await client.get('later'), 'ok');
				const now = server.stats();
				assert.strictEqual(now.totalConnections - before.totalConnections, 1, 'one connection all along');
				if (refusedByServer !== null) assert.strictEqual(now.store_too_large - before.store_too_large, refusedByServer);
			} finally {
				await client.close();
			}
			await waitFor(() => server.stats().connections === 0, { what: 'the client connection to close' });
		});
	}
});

// Pipelining and stream framing: many commands per write, commands cut at any byte, large values
// split across writes, and backpressure when a client reads 100 MB of replies slowly.
'use strict';

const assert = require('assert');
const net = require('net');
const { startServer, exchange, waitFor } = require('./helpers/server');

// A mix of set/get/delete over a few keys, with the replies a correct server gives, from a model.
function pipeline(prefix, count) {
	const model = new Map();
	const requests = [];
	const replies = [];
	for (let i = 0; i < count; i++) {
		const key = `${prefix}${i % 37}`;
		switch (i % 5) {
		case 0:
		case 3: {
			const value = `value ${i} of ${key}`.repeat(1 + (i % 3));
			requests.push(`set ${key} ${value}\r\n`);
			replies.push('STORED\r\n');
			model.set(key, value);
			break;
		}
		case 1:
		case 4:
			requests.push(`get ${key}\r\n`);
			replies.push(model.has(key) ? `VALUE ${key} ${model.get(key)}\r\nEND\r\n` : 'END\r\n');
			break;
		default:
			requests.push(`delete ${key}\r\n`);
			replies.push(model.delete(key) ? 'DELETED\r\n' : 'NOT_FOUND\r\n');
		}
	}
	return { stream: requests.join(''), expected: replies.join('') };
}

// Connects and writes `data` one byte per socket.write, either all at once or one per setImmediate.
function byteByByte(port, data, expected, { spaced }) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.setNoDelay(true);
		const chunks = [];
		let length = 0;
		const finish = (err) => {
			socket.destroy();
			if (err) reject(err);
			else resolve(Buffer.concat(chunks).toString('latin1'));
		};
		socket.on('data', (d) => {
			chunks.push(d);
			length += d.length;
			if (length >= expected.length) finish();
		});
		socket.on('error', finish);
		socket.on('close', () => finish());
		socket.on('connect', async () => {
			const bytes = Buffer.from(data, 'latin1');
			for (let i = 0; i < bytes.length; i++) {
				socket.write(bytes.subarray(i, i + 1));
				if (spaced) await new Promise((r) => setImmediate(r));
			}
		});
	});
}

describe('pipelining: many commands per write', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
	});
	after(() => server.close());

	it('answers 1,000 mixed commands sent in one write, in order', async () => {
		const { stream, expected } = pipeline('one-write-', 1000);
		const reply = await exchange(port, [stream], expected);
		assert.strictEqual(reply, expected);
	});

	it('gives the same bytes when the same 1,000 commands arrive one byte per write', async () => {
		const { stream, expected } = pipeline('bytewise-', 1000);
		const reply = await byteByByte(port, stream, expected, { spaced: false });
		assert.strictEqual(reply, expected);
	});

	it('gives the same bytes when 60 commands arrive one byte per write with a loop turn between bytes', async () => {
		const { stream, expected } = pipeline('spaced-', 60);
		const reply = await byteByByte(port, stream, expected, { spaced: true });
		assert.strictEqual(reply, expected);
	});

	it('gives the same bytes for a pipeline cut in two writes at every possible position', async () => {
		const make = (cut) => {
			const key = `cut${String(cut).padStart(3, '0')}`;
			return {
				stream: `set ${key} hello spaced world\r\nget ${key}\r\ndelete ${key}\r\nget ${key}\nset ${key} x\r\nget ${key}\r\nquit\r\n`,
				expected: `STORED\r\nVALUE ${key} hello spaced world\r\nEND\r\nDELETED\r\nEND\r\nSTORED\r\nVALUE ${key} x\r\nEND\r\n`,
			};
		};
		const length = make(0).stream.length;
		assert.ok(length >= 100, `pipeline is ${length} bytes`);
		const failures = [];
		for (let from = 1; from < length; from += 20) {
			const cuts = [];
			for (let cut = from; cut < Math.min(from + 20, length); cut++) cuts.push(cut);
			await Promise.all(cuts.map(async (cut) => {
				const { stream, expected } = make(cut);
				// quit ends the connection, so the reply is everything the server ever sent.
				const reply = await exchange(port, [stream.slice(0, cut), stream.slice(cut)], null, { gapMs: 1 });
				if (reply !== expected) failures.push({ cut, reply });
			}));
		}
		assert.deepStrictEqual(failures, []);
	});

	it('assembles a 512 KiB value sent in 64 writes and returns it intact', async () => {
		const value = Buffer.alloc(512 * 1024);
		for (let i = 0; i < value.length; i++) value[i] = 0x21 + ((i * 7 + (i >> 10)) % 94);
		const request = Buffer.concat([Buffer.from('set large '), value, Buffer.from('\r\nget large\r\n')]);
		const chunks = [];
		const size = Math.ceil(request.length / 64);
		for (let at = 0; at < request.length; at += size) chunks.push(request.subarray(at, at + size));
		assert.strictEqual(chunks.length, 64);
		const expected = Buffer.concat([Buffer.from('STORED\r\nVALUE large '), value, Buffer.from('\r\nEND\r\n')]);
		const reply = await exchange(port, chunks, expected.toString('latin1'), { gap: 'immediate' });
		assert.ok(Buffer.from(reply, 'latin1').equals(expected), `reply of ${reply.length} bytes differs from the ${expected.length} expected`);
		assert.ok(server.engine.get('large').equals(value));
	});
});

describe('pipelining: quit with a slow reader', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
	});
	after(() => server.close());

	// Pauses reading for pauseMs after writing, then collects everything until the server closes.
	function slowReader(data, pauseMs) {
		return new Promise((resolve, reject) => {
			const socket = net.connect(port, '127.0.0.1');
			const chunks = [];
			socket.on('data', (d) => chunks.push(d));
			socket.on('error', (err) => reject(new Error(`${err.code} after ${Buffer.concat(chunks).length} bytes`)));
			socket.on('close', () => resolve(Buffer.concat(chunks)));
			socket.on('connect', () => {
				socket.pause();
				socket.write(data);
				setTimeout(() => socket.resume(), pauseMs);
			});
		});
	}

	it('sends every reply due before quit to a slow reader, even when more bytes follow quit', async () => {
		const value = 'q'.repeat(100);
		server.engine.set('before-quit', value);
		const reply = `VALUE before-quit ${value}\r\nEND\r\n`;
		const GETS = 30000;
		const received = await slowReader(`${'get before-quit\r\n'.repeat(GETS)}quit\r\n${'set after-quit never\r\n'.repeat(5000)}`, 200);
		assert.strictEqual(received.length, reply.length * GETS, `received ${received.length} bytes (${received.length / reply.length} replies) of ${reply.length * GETS}`);
		assert.ok(received.equals(Buffer.from(reply.repeat(GETS))), 'replies differ');
		assert.strictEqual(server.engine.get('after-quit'), null);
	});
});

describe('pipelining: backpressure with a slow reader', () => {
	const KEYS = 10;
	const GETS = 10000;
	const VALUE_SIZE = 10 * 1024;
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
	});
	after(() => server.close());

	it('delivers 10,000 pipelined gets of 10 KiB values intact and in order to a client that pauses', async () => {
		// Ten keys with different contents, requested in rotation, so that order is visible.
		const replies = [];
		for (let k = 0; k < KEYS; k++) {
			const value = String.fromCharCode(0x41 + k).repeat(VALUE_SIZE - 4) + `#${k}#`.padStart(4, '-');
			server.engine.set(`slow${k}`, value);
			replies.push(Buffer.from(`VALUE slow${k} ${value}\r\nEND\r\n`));
		}
		const cycle = Buffer.concat(replies);
		const total = cycle.length * (GETS / KEYS);
		let request = '';
		for (let i = 0; i < GETS; i++) request += `get slow${i % KEYS}\r\n`;
		const before = server.stats();
		const rssBefore = process.memoryUsage().rss;

		const socket = net.connect(port, '127.0.0.1');
		await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
		socket.pause();
		socket.write(request);
		// While the client reads nothing, the server must stop executing once its output backs up.
		await waitFor(() => server.stats().gets > before.gets, { what: 'the first gets' });
		await new Promise((r) => setTimeout(r, 400));
		const paused = server.stats();
		const executedWhilePaused = paused.gets - before.gets;
		const rssGrowthWhilePaused = process.memoryUsage().rss - rssBefore;
		assert.ok(executedWhilePaused < GETS / 2,
			`server executed ${executedWhilePaused} of ${GETS} gets for a client that read nothing`);
		assert.ok(rssGrowthWhilePaused < 48 * 1024 * 1024,
			`process grew by ${rssGrowthWhilePaused} bytes while the reader was paused`);
		assert.strictEqual(paused.connections, before.connections + 1);

		// Now read everything and check each byte against the expected rotation.
		let received = 0;
		let mismatchAt = -1;
		await new Promise((resolve, reject) => {
			socket.on('data', (chunk) => {
				let at = 0;
				while (at < chunk.length && mismatchAt < 0) {
					const offset = (received + at) % cycle.length;
					const n = Math.min(chunk.length - at, cycle.length - offset);
					if (!chunk.subarray(at, at + n).equals(cycle.subarray(offset, offset + n))) mismatchAt = received + at;
					at += n;
				}
				received += chunk.length;
				if (received >= total || mismatchAt >= 0) resolve();
			});
			socket.on('error', reject);
			socket.on('close', resolve);
			socket.resume();
		});
		socket.destroy();
		assert.strictEqual(mismatchAt, -1, `reply stream differs from the expected one at byte ${mismatchAt}`);
		assert.strictEqual(received, total);

		const after = server.stats();
		assert.strictEqual(after.gets - before.gets, GETS);
		assert.strictEqual(after.hits - before.hits, GETS);
		assert.strictEqual(after.misses, before.misses);
		assert.strictEqual(after.items, before.items);
		assert.strictEqual(after.bytes, before.bytes);
		await waitFor(() => server.stats().connections === before.connections, { what: 'the connection to close' });
	});
});

// Values sent from their items: a reply refers to the item's memory until the kernel has its bytes, so a
// value replaced or deleted meanwhile still arrives intact, and a reader that never reads pins a bounded amount.
'use strict';

const assert = require('assert');
const net = require('net');
const { startServer, exchange, waitFor, RawConnection } = require('./helpers/server');

const MIB = 1024 * 1024;

// Version v of a value for key: n bytes that say which version they are at every 16th byte.
function versionOf(key, v, n) {
	const unit = `${key}:${String(v).padStart(4, '0')}|`.padEnd(16, '.');
	return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

function connectPaused(port) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.pause();
		socket.once('connect', () => resolve(socket));
		socket.once('error', reject);
	});
}

// Reads n bytes from a paused socket, resuming it.
function readAll(socket, n) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let got = 0;
		socket.on('data', (d) => {
			chunks.push(d);
			got += d.length;
			if (got >= n) resolve(Buffer.concat(chunks).toString('latin1'));
		});
		socket.once('error', reject);
		socket.once('close', () => reject(new Error(`closed after ${got} of ${n} bytes`)));
		socket.resume();
	});
}

describe('values sent from their items', function () {
	this.timeout(60000);
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0, maxItemSize: 2 * MIB, memoryLimit: 64 * MIB });
		port = server.address('memcached').port;
	});
	after(() => server.close());

	it('sends a 1 MiB value intact while another connection overwrites and deletes it', async () => {
		const key = 'overwritten';
		const GETS = 6;
		server.engine.set(key, versionOf(key, 0, MIB));
		const bytesBefore = server.stats().bytes;
		const gets0 = server.stats().gets;
		const reader = await connectPaused(port);
		reader.write(`get ${key}\r\n`.repeat(GETS));
		// The first get has run and its reply is waiting on a reader that does not read.
		await waitFor(() => server.stats().gets > gets0, { what: 'the first get' });
		// Meanwhile the key is replaced, deleted and replaced again, pipelined on another connection.
		let writes = '';
		let expected = '';
		for (let v = 1; v <= 8; v++) {
			writes += `set ${key} 0 0 ${MIB}\r\n${versionOf(key, v, MIB)}\r\n`;
			expected += 'STORED\r\n';
			if (v % 3 === 0) {
				writes += `delete ${key}\r\n`;
				expected += 'DELETED\r\n';
			}
		}
		assert.strictEqual(await exchange(port, [writes], expected), expected);
		// Now read: every reply is whole, and the first is the version the get found.
		const replies = [];
		let text = '';
		const header = `VALUE ${key} 0 ${MIB}\r\n`;
		const whole = header.length + MIB + 2;
		const stream = reader;
		await new Promise((resolve, reject) => {
			stream.on('data', (d) => {
				text += d.toString('latin1');
				while (text.startsWith(header) && text.length >= whole + 5) {
					replies.push(text.slice(header.length, header.length + MIB));
					assert.strictEqual(text.slice(whole - 2, whole + 5), '\r\nEND\r\n');
					text = text.slice(whole + 5);
				}
				if (text.startsWith('END\r\n')) {
					replies.push(null);
					text = text.slice(5);
				}
				if (replies.length === GETS) resolve();
			});
			stream.once('error', reject);
			stream.resume();
		});
		reader.destroy();
		assert.strictEqual(replies[0], versionOf(key, 0, MIB), 'the first reply is the version its get found');
		for (const [i, value] of replies.entries()) {
			if (value === null) continue;
			const v = Number(value.slice(key.length + 1, key.length + 5));
			assert.ok(value === versionOf(key, v, MIB), `reply ${i} is a whole version (${v})`);
		}
		// Once sent, the replaced versions are freed: the store holds the last version only.
		server.engine.delete(key);
		await waitFor(() => server.stats().bytes <= bytesBefore - MIB, { what: 'the replaced versions to be freed' });
	});

	it('answers a pipelined stream that replaces and deletes values it is still sending, byte for byte', async () => {
		const sizes = [12 * 1024, 100 * 1024, MIB];
		let request = '';
		let expected = '';
		for (const n of sizes) {
			const key = `stream${n}`;
			const [a, b] = [versionOf(key, 1, n), versionOf(key, 2, n)];
			request += `set ${key} 0 0 ${n}\r\n${a}\r\nget ${key}\r\nset ${key} 0 0 ${n}\r\n${b}\r\nmg ${key} v\r\n`;
			request += `delete ${key}\r\ngets ${key}\r\nmg ${key} v\r\nset ${key} 7 0 ${n}\r\n${a}\r\nget ${key}\r\n`;
			expected += `STORED\r\nVALUE ${key} 0 ${n}\r\n${a}\r\nEND\r\nSTORED\r\nVA ${n}\r\n${b}\r\n`;
			expected += `DELETED\r\nEND\r\nEN\r\nSTORED\r\nVALUE ${key} 7 ${n}\r\n${a}\r\nEND\r\n`;
		}
		const got = await exchange(port, [request], expected);
		assert.ok(got === expected, `the replies differ from the expected ones at byte ${[...got].findIndex((c, i) => c !== expected[i])}`);
	});

	it('sends binary get, getk and gat replies of 1 MiB values intact', async () => {
		const key = 'binbig';
		const value = versionOf(key, 3, MIB);
		server.engine.set(key, value);
		const request = (opcode, extras) => {
			const h = Buffer.alloc(24 + extras.length + key.length);
			h[0] = 0x80;
			h[1] = opcode;
			h.writeUInt16BE(key.length, 2);
			h[4] = extras.length;
			h.writeUInt32BE(extras.length + key.length, 8);
			extras.copy(h, 24);
			h.write(key, 24 + extras.length, 'latin1');
			return h;
		};
		const conn = new RawConnection(await new Promise((resolve, reject) => {
			const s = net.connect(port, '127.0.0.1', () => resolve(s));
			s.once('error', reject);
		}));
		conn.write(Buffer.concat([request(0x00, Buffer.alloc(0)), request(0x0c, Buffer.alloc(0)), request(0x1d, Buffer.alloc(4))]));
		for (const withKey of [false, true, false]) {
			const header = Buffer.from(await conn.read(24), 'latin1');
			assert.strictEqual(header[0], 0x81);
			assert.strictEqual(header.readUInt16BE(6), 0, 'status: success');
			const body = await conn.read(header.readUInt32BE(8));
			assert.strictEqual(body.slice(4), (withKey ? key : '') + value);
		}
		await conn.destroy();
	});

	it('does not pin item memory without bound for a client that requests many large values and never reads', async () => {
		const KEYS = 4;
		const GETS = 400;   // 400 MiB of replies if the server ran them all
		const keys = Array.from({ length: KEYS }, (_, k) => `unread${k}`);
		keys.forEach((key) => server.engine.set(key, versionOf(key, 0, MIB)));
		const start = server.stats();
		const reader = await connectPaused(port);
		let request = '';
		for (let i = 0; i < GETS; i++) request += `get ${keys[i % KEYS]}\r\n`;
		reader.write(request);
		await waitFor(() => server.stats().gets > start.gets, { what: 'the first gets' });
		// Every value it could be sending is replaced 25 times, so each reference it keeps pins an old
		// version: what the store holds beyond the live items is what the unread replies pin.
		let writes = '';
		let expected = '';
		for (let v = 1; v <= 25; v++) {
			for (const key of keys) {
				writes += `set ${key} 0 0 ${MIB}\r\n${versionOf(key, v, MIB)}\r\n`;
				expected += 'STORED\r\n';
			}
		}
		assert.strictEqual(await exchange(port, [writes], expected), expected);
		const stalled = server.stats();
		const executed = stalled.gets - start.gets;
		assert.ok(executed < 64, `${executed} of ${GETS} gets executed for a reader that reads nothing`);
		const pinned = stalled.bytes - start.bytes;
		assert.ok(pinned <= 4 * MIB, `${pinned} bytes of replaced items pinned by unread replies`);
		// The reader goes away without reading: what its replies referred to is given back.
		reader.destroy();
		await waitFor(() => server.stats().connections === start.connections, { what: 'the reader to be closed' });
		await waitFor(() => server.stats().bytes <= start.bytes, { what: 'the pinned versions to be freed' });
		assert.ok(server.stats().items === start.items);
	});
});

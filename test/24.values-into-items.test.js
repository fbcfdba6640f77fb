// Values read straight into their item (issue 16): a storage command's item is reserved at its line and
// the value's bytes land in it as they arrive, in every memcached protocol. A client gone mid-value
// leaves the old value and every byte reserved is given back; values up to the item limit round-trip.
'use strict';

const assert = require('assert');
const { withServer, connect, statsPairs, waitFor } = require('./helpers/server');
const { OP, request, storeExtras } = require('./helpers/binary');

const LIMIT = 1024 * 1024;
// memcached's measure of an item (header 56, key, NUL, flags if any, value, CRLF) is what the limit
// bounds on its port: the largest value of key "k" without flags.
const MAX_VALUE = LIMIT - 56 - 1 - 1 - 2;

function valueOf(n, seed) {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
	return b;
}

// Writes data in uneven pieces, each after the previous has been handed to the socket, so that
// the server sees a value arrive over many reads.
async function writeInPieces(conn, data, seed = 7) {
	let at = 0;
	let i = seed;
	while (at < data.length) {
		const n = Math.min(data.length - at, 1 + ((i * 7919) % 90000));
		i++;
		await new Promise((resolve) => conn.socket.write(data.subarray(at, at + n), resolve));
		at += n;
	}
}

const text = {
	store: (key, value) => Buffer.concat([Buffer.from(`set ${key} 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]),
	head: (key, n) => Buffer.from(`set ${key} 0 0 ${n}\r\n`),
	stored: 'STORED\r\n',
	tooLarge: 'SERVER_ERROR object too large for cache\r\n',
};
const meta = {
	store: (key, value) => Buffer.concat([Buffer.from(`ms ${key} ${value.length} T0\r\n`), value, Buffer.from('\r\n')]),
	head: (key, n) => Buffer.from(`ms ${key} ${n} T0\r\n`),
	stored: 'HD\r\n',
	tooLarge: 'SERVER_ERROR object too large for cache\r\n',
};
// A binary set's response: header only, with the status and the cas it echoes.
const binary = {
	store: (key, value) => request(OP.SET, { key, extras: storeExtras(0, 0), value, opaque: 9 }),
	head: (key, n) => request(OP.SET, { key, extras: storeExtras(0, 0), value: Buffer.alloc(n) }).subarray(0, 24 + 8 + key.length),
};

async function bytesOf(port) {
	return Number(new Map(await statsPairs(port)).get('bytes'));
}

async function getText(conn, key, n) {
	conn.write(`get ${key}\r\n`);
	const head = `VALUE ${key} 0 ${n}\r\n`;
	const got = await conn.read(head.length + n + 7);
	assert.strictEqual(got.slice(0, head.length), head);
	assert.strictEqual(got.slice(-7), '\r\nEND\r\n');
	return Buffer.from(got.slice(head.length, head.length + n), 'latin1');
}

async function binaryStatus(conn) {
	const header = Buffer.from(await conn.read(24), 'latin1');
	const body = header.readUInt32BE(8);
	if (body > 0) await conn.read(body);
	return header.readUInt16BE(6);
}

describe('values read straight into their item', function () {
	this.timeout(60000);
	const holder = withServer({ port: false, memcachedPort: 0, maxItemSize: LIMIT });
	const port = () => holder.port('memcached');

	describe('a client gone mid-value leaves the old value, and the bytes reserved are given back', () => {
		for (const [name, proto] of [['text set', text], ['meta ms', meta], ['binary set', binary]]) {
			it(name, async () => {
				const key = `gone-${name.replace(' ', '-')}`;
				const old = valueOf(1000, 1);
				const setup = await connect(port());
				setup.write(text.store(key, old));
				assert.strictEqual(await setup.read(8), 'STORED\r\n');
				const before = await bytesOf(port());
				const n = 512 * 1024;
				const client = await connect(port());
				client.write(Buffer.concat([proto.head(key, n), valueOf(n / 2, 2)]));
				// The item is reserved at the line: its bytes count as soon as the line is read.
				await waitFor(async () => (await bytesOf(port())) >= before + n, { what: 'the reservation to be counted' });
				await client.destroy();
				await waitFor(async () => (await bytesOf(port())) === before, { what: 'the reserved bytes to come back' });
				assert.deepStrictEqual(await getText(setup, key, old.length), old);
				await setup.end();
			});
		}
	});

	describe('values of every size up to the item limit store and read back byte-identical', () => {
		const sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 64 * 1024 + 3, 256 * 1024, MAX_VALUE];
		for (const [name, proto] of [['text set', text], ['meta ms', meta]]) {
			it(`${name}: ${sizes.join(', ')} bytes, then one past the limit refused and the connection kept`, async () => {
				const conn = await connect(port());
				for (const [i, n] of sizes.entries()) {
					const value = valueOf(n, i);
					await writeInPieces(conn, proto.store('v', value), i);
					assert.strictEqual(await conn.read(proto.stored.length), proto.stored, `${n} bytes`);
					assert.ok((await getText(conn, 'v', n)).equals(value), `${n} bytes read back`);
				}
				await writeInPieces(conn, proto.store('v', valueOf(MAX_VALUE + 1, 3)));
				assert.strictEqual(await conn.read(proto.tooLarge.length), proto.tooLarge);
				conn.write('mn\r\n');
				assert.strictEqual(await conn.read(4), 'MN\r\n');
				await conn.end();
			});
		}

		it(`binary set: ${sizes.join(', ')} bytes, then one past the limit refused and the connection kept`, async () => {
			const conn = await connect(port());
			for (const [i, n] of sizes.entries()) {
				const value = valueOf(n, i);
				await writeInPieces(conn, binary.store('v', value), i);
				assert.strictEqual(await binaryStatus(conn), 0, `${n} bytes stored`);
				conn.write(request(OP.GET, { key: 'v' }));
				const header = Buffer.from(await conn.read(24), 'latin1');
				assert.strictEqual(header.readUInt16BE(6), 0);
				const body = Buffer.from(await conn.read(header.readUInt32BE(8)), 'latin1');
				assert.ok(body.subarray(4).equals(value), `${n} bytes read back`);
			}
			await writeInPieces(conn, binary.store('v', valueOf(MAX_VALUE + 1, 3)));
			assert.strictEqual(await binaryStatus(conn), 0x03, 'too large: E2BIG');
			conn.write(request(OP.NOOP));
			assert.strictEqual(await binaryStatus(conn), 0);
			await conn.end();
		});
	});
});

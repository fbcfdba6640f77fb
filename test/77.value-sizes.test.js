// Values of every size up to the item limit, each storage request cut at read boundaries, stored and read back byte-identical:
// the seed protocol checked against the values sent, memcached's text, meta and binary protocols reply for reply against a real memcached.
'use strict';

const assert = require('assert');
const net = require('net');
const { startServer, waitFor, connect } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');
const { OP, request, storeExtras, normalize: normalizeBinary } = require('./helpers/binary');
const { pacedWrites, textReply, binaryReply, PacedConnection } = require('./helpers/paced');

const ITEM_LIMIT = 1 << 20;          // both servers' default item size limit
const MEMORY_MB = 256;               // room for every size's item at once, on both
const KEY_LENGTH = 11;               // every key is val:NNNNNNN, so a size's item size is fixed
const EVERY_CUT_BELOW = 200;         // requests up to this long are cut at every byte
const OUR_HEADER = 32;               // simplecached's item header (csrc/item.h)
const OUR_PAGE = 16384;              // its slab page at this memory limit (csrc/slab.c)
const MEMCACHED_ITEM = 48 + 1 + 2 + 8; // memcached's item header, key terminator, data CRLF, cas
const FLAGS_BYTES = 4;               // what non-zero flags add to an item, on both servers

const keyFor = (size) => `val:${String(size).padStart(7, '0')}`;

// simplecached's slab classes (csrc/slab.c _init_classes): 8-byte steps to 256, ~1/8 steps to
// page/16, then page/k for k = 15..4; past the largest, blocks are malloc'd one by one.
function ourClasses() {
	const classes = [];
	for (let size = 32; size <= OUR_PAGE / 16; size = size < 256 ? size + 8 : Math.ceil((size + Math.floor(size / 8)) / 8) * 8) classes.push(size);
	for (let k = 15; k >= 4; k--) {
		const size = Math.floor(OUR_PAGE / k) & ~7;
		if (size > classes[classes.length - 1]) classes.push(size);
	}
	return classes;
}

// memcached 1.6's default classes: 96 bytes, then x1.25 rounded up to 8, up to its 512 KiB chunk.
function memcachedClasses() {
	const classes = [];
	for (let size = 96; size < ITEM_LIMIT / 2; size = Math.ceil((size * 1.25) / 8) * 8) classes.push(size);
	return [...classes, ITEM_LIMIT / 2];
}

// The value sizes around every edge: 0 and 1, each power of two, each class of either server
// (the largest value that fills a class, and one more), the largest value accepted and past it.
function valueSizes(largest, extra = []) {
	const sizes = new Set([0, 1, 2, ...extra]);
	for (let p = 4; p <= ITEM_LIMIT; p *= 2) [p - 1, p, p + 1].forEach((s) => sizes.add(s));
	for (const c of ourClasses()) [c - OUR_HEADER - KEY_LENGTH, c - OUR_HEADER - KEY_LENGTH + 1].forEach((s) => sizes.add(s));
	for (const c of memcachedClasses()) [c - MEMCACHED_ITEM - KEY_LENGTH, c - MEMCACHED_ITEM - KEY_LENGTH + 1].forEach((s) => sizes.add(s));
	[largest - 1, largest, largest + 1].forEach((s) => sizes.add(s));
	return [...sizes].filter((s) => s >= 0).sort((a, b) => a - b);
}

// Where a storage request is cut: everywhere when short; else its start, inside its line (or
// header), the line/value seam and the bytes either side, inside the value, just before and
// inside the trailing CRLF (or the value's last byte, in the binary protocol).
function cutsFor(length, seam) {
	if (length <= EVERY_CUT_BELOW) return Array.from({ length: length - 1 }, (_, i) => i + 1);
	const points = [1, Math.floor(seam / 2), seam - 1, seam, seam + 1, Math.floor((seam + length) / 2), length - 2, length - 1];
	return [...new Set(points.filter((p) => p > 0 && p < length))];
}

// A value of `size` bytes for one copy of a request: every byte value, CR and LF among them,
// where the protocol carries any; a copy's number in the first bytes, so that each copy stores
// something its neighbours did not.
function binaryValue(size, copy) {
	const period = Buffer.alloc(256);
	for (let i = 0; i < 256; i++) period[i] = (i * 131 + size) & 0xff;
	const v = Buffer.alloc(size, period);
	if (size >= 4) v.writeUInt32BE(copy, 0);
	return v;
}

// The seed protocol's value is the rest of a line: printable bytes (spaces too), never
// starting with a digit, so no reply line reads as a memcached VALUE line.
function seedValue(size, copy) {
	const period = Buffer.alloc(95);
	for (let i = 0; i < 95; i++) period[i] = 0x20 + ((i * 37 + size + copy * 7) % 95);
	const v = Buffer.alloc(size, period);
	if (size > 0) v[0] = 0x61 + (copy % 26);
	return v;
}

// Each protocol: its storage request in a mode (set, append, prepend, replace), with the seam
// between its line or header and the value; its get request, and how its replies are counted.
const META_MODES = { set: '', append: ' MA', prepend: ' MP', replace: ' MR' };
const BINARY_MODES = { set: OP.SET, append: OP.APPEND, prepend: OP.PREPEND, replace: OP.REPLACE };

const PROTOCOLS = {
	text: {
		store: (key, v, mode = 'set', flags = 0) => ({ head: Buffer.from(`${mode} ${key} ${flags} 0 ${v.length}\r\n`), tail: Buffer.concat([v, Buffer.from('\r\n')]) }),
		get: (key) => Buffer.from(`get ${key}\r\n`),
		flush: Buffer.from('mn\r\n'),   // see meta
		replyAt: textReply,
		ok: 'STORED\r\n',
	},
	meta: {
		store: (key, v, mode = 'set', flags = 0) => ({ head: Buffer.from(`ms ${key} ${v.length} T0 F${flags}${META_MODES[mode]}\r\n`), tail: Buffer.concat([v, Buffer.from('\r\n')]) }),
		get: (key) => Buffer.from(`mg ${key} s f v\r\n`),
		// memcached may hold the replies before a storage command while it reads that command's
		// value (an ms, an append of an empty value cut at its seam...), so the reply that paces
		// a cut would never come: mn makes it send them.
		flush: Buffer.from('mn\r\n'),
		replyAt: textReply,
		ok: 'HD\r\n',
	},
	binary: {
		store: (key, v, mode = 'set', flags = 0) => {
			const extras = mode === 'append' || mode === 'prepend' ? null : storeExtras(flags, 0);
			const whole = request(BINARY_MODES[mode], { extras, key, value: v });
			return { head: whole.subarray(0, whole.length - v.length), tail: whole.subarray(whole.length - v.length) };
		},
		get: (key) => request(OP.GET, { key }),
		flush: request(OP.NOOP),   // as mn in meta
		replyAt: binaryReply,
	},
	seed: {
		store: (key, v) => ({ head: Buffer.from(`set ${key} `), tail: Buffer.concat([v, Buffer.from('\r\n')]) }),
		get: (key) => Buffer.from(`get ${key}\r\n`),
		replyAt: textReply,
		ok: 'STORED\r\n',
	},
};

// One size's stream: a get first (each later write then has a reply to wait for), then per cut a
// fresh copy of the storage request cut there, each followed by a get of its key.
function sizeRequests(protocol, size, makeValue) {
	const p = PROTOCOLS[protocol];
	const key = keyFor(size);
	const probe = p.store(key, makeValue(size, 0));
	const cuts = cutsFor(probe.head.length + probe.tail.length, probe.head.length);
	const read = () => [{ bytes: p.get(key) }, ...(p.flush ? [{ bytes: p.flush }] : [])];
	// memcached's protocols start from an old value, which a refused set must not leave behind.
	const old = protocol === 'seed' ? [] : [{ bytes: Buffer.concat(Object.values(p.store(key, Buffer.from('old')))) }];
	const requests = [...old, ...read()];
	const values = [];
	cuts.forEach((cut, i) => {
		const value = makeValue(size, i + 1);
		// Every other copy with flags, which take 4 more bytes of item: the edges shift by 4.
		const flags = i % 2 ? 0xabcdef : 0;
		const { head, tail } = p.store(key, value, 'set', flags);
		requests.push({ bytes: Buffer.concat([head, tail]), cut }, ...read());
		values.push({ value, extra: flags ? FLAGS_BYTES : 0 });
	});
	return { requests, values, cuts };
}

// The largest value memcached stores under a key of KEY_LENGTH bytes in this protocol, by bisection.
async function largestAccepted(conn, protocol) {
	const p = PROTOCOLS[protocol];
	let low = ITEM_LIMIT - 200;       // stored
	let high = ITEM_LIMIT + 1;        // refused
	while (high - low > 1) {
		const mid = (low + high) >> 1;
		const { head, tail } = p.store('val:probing', Buffer.alloc(mid, 0x78));
		const reply = await conn.send(pacedWrites([{ bytes: Buffer.concat([head, tail]) }]));
		const stored = protocol === 'binary' ? reply.readUInt16BE(6) === 0 : reply.toString('latin1') === p.ok;
		if (stored) low = mid;
		else high = mid;
	}
	return low;
}

describe('values of every size, cut at read boundaries, against memcached', function () {
	this.timeout(120000);
	let memcached;
	let server;

	before(needs('memcached'));
	before(async () => {
		[memcached, server] = await Promise.all([
			startMemcached(['-m', String(MEMORY_MB), '-o', 'no_lru_crawler,no_lru_maintainer']),
			startServer({ port: false, memcachedPort: 0, memoryLimit: MEMORY_MB << 20 }),
		]);
	});
	after(() => Promise.all([memcached && memcached.stop(), server && server.close()]));

	for (const protocol of ['text', 'meta', 'binary']) {
		it(`stores and returns every size in the ${protocol} protocol as memcached does, cut anywhere`, async () => {
			const replyAt = PROTOCOLS[protocol].replyAt;
			const sides = await Promise.all([memcached.port, server.address('memcached').port].map((port) => PacedConnection.open(port, replyAt)));
			try {
				const largest = await largestAccepted(sides[0], protocol);
				const roles = [new Map(), new Map()];
				let stored = 0;
				const flaggedLargest = largest - FLAGS_BYTES;
				for (const size of valueSizes(largest, [ITEM_LIMIT - 1, ITEM_LIMIT, ITEM_LIMIT + 1, flaggedLargest, flaggedLargest + 1])) {
					const { requests, values, cuts } = sizeRequests(protocol, size, binaryValue);
					const writes = pacedWrites(requests);
					const [expected, actual] = await Promise.all(sides.map((side) => side.send(writes)));
					if (protocol === 'binary') {
						assertSameBinary(expected, actual, roles, `${protocol}, ${size} bytes`);
					} else {
						assert.ok(actual.equals(expected), `${protocol}, ${size} bytes (cuts ${cuts.join(',')}): replies differ at byte ${firstDifference(expected, actual)}`);
					}
					const fitting = values.filter((v) => size + v.extra <= largest).map((v) => v.value);
					assertValuesCame(actual, fitting, protocol, size);
					if (fitting.length > 0) stored++;
				}
				assert.ok(stored > 100, `only ${stored} sizes stored`);
			} finally {
				sides.forEach((side) => side.close());
			}
		});
	}

	// An append, prepend or replace reads its value into an item as a set does; an append that
	// takes the item past the limit is refused and its data swallowed.
	for (const protocol of ['text', 'meta', 'binary']) {
		it(`appends, prepends and replaces values around each power of two in the ${protocol} protocol as memcached does, cut in their value`, async () => {
			const replyAt = PROTOCOLS[protocol].replyAt;
			const sides = await Promise.all([memcached.port, server.address('memcached').port].map((port) => PacedConnection.open(port, replyAt)));
			try {
				const largest = await largestAccepted(sides[0], protocol);
				const roles = [new Map(), new Map()];
				let joined = 0;
				for (const size of modeSizes(largest)) {
					const { requests, expected: values } = modeRequests(protocol, size);
					const [expected, actual] = await Promise.all(sides.map((side) => side.send(pacedWrites(requests))));
					if (protocol === 'binary') assertSameBinary(expected, actual, roles, `${protocol}, ${size} bytes`);
					else assert.ok(actual.equals(expected), `${protocol}, ${size} bytes: replies differ at byte ${firstDifference(expected, actual)}`);
					if (2 * size <= largest) {
						assertValuesCame(actual, values, protocol, size);
						joined++;
					}
				}
				assert.ok(joined > 30, `only ${joined} sizes joined`);
			} finally {
				sides.forEach((side) => side.close());
			}
		});
	}

	// What a client sent of a storage request before it hung up is dropped, the old value kept:
	// the get after it answers the same on both servers, and here with the old value.
	for (const protocol of ['text', 'meta', 'binary']) {
		it(`keeps the old value when a client hangs up in the middle of a ${protocol} storage request, as memcached does`, async () => {
			const p = PROTOCOLS[protocol];
			const ports = [memcached.port, server.address('memcached').port];
			const sides = await Promise.all(ports.map((port) => PacedConnection.open(port, p.replyAt)));
			try {
				for (const size of [100, 300 << 10]) {
					const key = keyFor(size);
					const old = binaryValue(size, 1);
					const { head, tail } = p.store(key, binaryValue(size, 2));
					const whole = Buffer.concat([head, tail]);
					for (const cut of hangUpCuts(head.length, whole.length)) {
						const set = Buffer.concat(Object.values(p.store(key, old)));
						await Promise.all(sides.map((side) => side.send(pacedWrites([{ bytes: set }]))));
						await Promise.all(ports.map((port, i) => hangUp(port, whole.subarray(0, cut), i === 1 ? server : null)));
						const read = [{ bytes: p.get(key) }, ...(p.flush ? [{ bytes: p.flush }] : [])];
						const [expected, actual] = await Promise.all(sides.map((side) => side.send(pacedWrites(read))));
						const label = `${protocol}, ${size} bytes, hung up after ${cut} of ${whole.length}`;
						if (protocol === 'binary') assertSameBinary(expected, actual, [new Map(), new Map()], label);
						else assert.ok(actual.equals(expected), `${label}: ${firstDifference(expected, actual)}`);
						assert.ok(actual.indexOf(old) >= 0, `${label}: the old value is gone`);
					}
				}
			} finally {
				sides.forEach((side) => side.close());
			}
		});
	}
});

// Sizes for the other storage modes: around each power of two, and where twice the size (an
// append to a value of the same size) just fits the largest item and just does not.
function modeSizes(largest) {
	const sizes = new Set([0, 1, Math.floor(largest / 2), Math.floor(largest / 2) + 1]);
	for (let p = 2; p <= ITEM_LIMIT / 2; p *= 2) [p - 1, p, p + 1].forEach((s) => sizes.add(s));
	return [...sizes].sort((a, b) => a - b);
}

// Per mode, per cut (the seam, inside the value, inside the trailing CRLF or last byte): the key
// set to a base value whole, then the mode's request cut there, then a get. `expected`: each get's
// value when the result fits.
function modeRequests(protocol, size) {
	const p = PROTOCOLS[protocol];
	const key = keyFor(size);
	const base = binaryValue(size, 0);
	const read = () => [{ bytes: p.get(key) }, ...(p.flush ? [{ bytes: p.flush }] : [])];
	const requests = read();
	const expected = [];
	for (const mode of ['append', 'prepend', 'replace']) {
		const { head, tail } = p.store(key, base, mode);
		const length = head.length + tail.length;
		const cuts = [...new Set([head.length, head.length + Math.floor(size / 2), length - 1])].filter((c) => c > 0 && c < length);
		for (const cut of cuts) {
			const value = binaryValue(size, requests.length);
			const request = p.store(key, value, mode);
			const reset = { bytes: Buffer.concat(Object.values(p.store(key, base))) };
			requests.push(reset, { bytes: p.flush }, { bytes: Buffer.concat([request.head, request.tail]), cut }, ...read());
			expected.push(mode === 'append' ? Buffer.concat([base, value]) : mode === 'prepend' ? Buffer.concat([value, base]) : value);
		}
	}
	return { requests, expected };
}

// Where a dying client stops: inside the line (or header), at the seam, inside the value, just
// before and inside the trailing CRLF.
function hangUpCuts(seam, length) {
	return [...new Set([Math.floor(seam / 2), seam, seam + Math.floor((length - seam) / 2), length - 2, length - 1])].filter((c) => c > 0 && c < length);
}

// Sends the first bytes of a request on a connection of its own and hangs up. With `ours` (the
// Server) it waits until the server has read them, and again until it has seen the connection go.
async function hangUp(port, bytes, ours) {
	const before = ours && ours.stats();
	const socket = net.connect(port, '127.0.0.1');
	socket.on('error', () => {});
	await new Promise((resolve) => socket.once('connect', resolve));
	socket.write(bytes);
	if (ours) await waitFor(() => ours.stats().bytes_read >= before.bytes_read + bytes.length, { what: 'the server to read the partial request' });
	socket.destroy();
	if (ours) await waitFor(() => ours.stats().connections === before.connections, { what: 'the server to see the hang-up' });
}

// Binary replies: identical but for their cas uniques (compared by role only when they differ
// otherwise: normalize() spells every packet out in hex, too slow for megabytes of values).
function assertSameBinary(expected, actual, roles, label) {
	const withoutCas = (bytes) => {
		const copy = Buffer.from(bytes);
		for (let at = 0; at + 24 <= copy.length; at += 24 + copy.readUInt32BE(at + 8)) copy.fill(0, at + 16, at + 24);
		return copy;
	};
	if (!withoutCas(actual).equals(withoutCas(expected))) {
		assert.strictEqual(normalizeBinary(actual, roles[1]), normalizeBinary(expected, roles[0]), label);
	}
}

function firstDifference(a, b) {
	let i = 0;
	while (i < a.length && i < b.length && a[i] === b[i]) i++;
	return `${i}: memcached ${JSON.stringify(a.toString('latin1', i, i + 60))}, simplecached ${JSON.stringify(b.toString('latin1', i, i + 60))}`;
}

// Memcached agreeing is not enough on its own (the size could be refused by both): each copy's
// get must have returned that very copy.
function assertValuesCame(replies, values, protocol, size) {
	let at = 0;
	for (const value of values) {
		const found = replies.indexOf(value.length > 0 ? value : Buffer.from(protocol === 'binary' ? '' : '\r\n'), at);
		assert.ok(found >= 0, `${protocol}, ${size} bytes: a copy's value is not in the replies`);
		at = found + value.length;
	}
}

describe('values of every size, cut at read boundaries, in the seed protocol', function () {
	this.timeout(120000);
	let server;
	before(async () => { server = await startServer({ memoryLimit: MEMORY_MB << 20 }); });
	after(() => server && server.close());

	it('stores every size up to maxItemSize and returns it byte-identical, refuses past it, cut anywhere', async () => {
		const conn = await PacedConnection.open(server.address('simple').port, textReply);
		try {
			// One over the limit is refused by the store; past the longest line (key, value and 32
			// bytes of slack) the line is dropped as it arrives: both are answered, and the
			// connection goes on.
			for (const size of valueSizes(ITEM_LIMIT, [ITEM_LIMIT + 250 + 33])) {
				const { requests, values, cuts } = sizeRequests('seed', size, seedValue);
				const replies = (await conn.send(pacedWrites(requests))).toString('latin1');
				const key = keyFor(size);
				const stored = (v) => `STORED\r\nVALUE ${key} ${v.toString('latin1')}\r\nEND\r\n`;
				const refused = 'SERVER_ERROR object too large for cache\r\nEND\r\n';
				const expected = 'END\r\n' + values.map((v) => (size <= ITEM_LIMIT ? stored(v.value) : refused)).join('');
				assert.ok(replies === expected, `seed, ${size} bytes (cuts ${cuts.join(',')}): ${JSON.stringify(replies.slice(0, 200))}`);
			}
		} finally {
			conn.close();
		}
	});

	// A seed value has no length: it gathers in its connection's input, and the loop keeps the
	// largest such buffers for the next long line, on whichever connection (csrc/conn.c).
	it('stores long values sent on eight connections at once, each read back byte-identical', async () => {
		const port = server.address('simple').port;
		const sizes = [40 << 10, 900 << 10, 300 << 10, 64 << 10];
		const valueOf = (c, i) => seedValue(sizes[i] + c, c * sizes.length + i);
		const conns = await Promise.all(Array.from({ length: 8 }, () => connect(port)));
		try {
			await Promise.all(conns.map(async (conn, c) => {
				for (const i of sizes.keys()) {
					const line = Buffer.concat([Buffer.from(`set long:${c}:${i} `), valueOf(c, i), Buffer.from('\r\n')]);
					for (let at = 0; at < line.length; at += 48 << 10) {
						await new Promise((resolve) => conn.socket.write(line.subarray(at, at + (48 << 10)), resolve));
					}
					assert.strictEqual(await conn.read(8), 'STORED\r\n');
				}
			}));
			await Promise.all(conns.map(async (conn, c) => {
				for (const [i, size] of sizes.entries()) {
					const key = `long:${c}:${i}`;
					conn.write(`get ${key}\r\n`);
					const reply = await conn.read(`VALUE ${key} `.length + size + c + 7);
					assert.ok(reply === `VALUE ${key} ${valueOf(c, i).toString('latin1')}\r\nEND\r\n`, `${key}: ${reply.slice(0, 60)}`);
				}
			}));
		} finally {
			await Promise.all(conns.map((conn) => conn.end()));
		}
	});

	it('keeps the old value when a client hangs up in the middle of a set', async () => {
		const port = server.address('simple').port;
		const conn = await PacedConnection.open(port, textReply);
		try {
			for (const size of [100, 300 << 10]) {
				const key = keyFor(size);
				const old = seedValue(size, 1);
				const { head, tail } = PROTOCOLS.seed.store(key, seedValue(size, 2));
				const whole = Buffer.concat([head, tail]);
				for (const cut of hangUpCuts(head.length, whole.length)) {
					const set = Buffer.concat(Object.values(PROTOCOLS.seed.store(key, old)));
					assert.strictEqual((await conn.send(pacedWrites([{ bytes: set }]))).toString(), 'STORED\r\n');
					await hangUp(port, whole.subarray(0, cut), server);
					const reply = (await conn.send(pacedWrites([{ bytes: PROTOCOLS.seed.get(key) }]))).toString('latin1');
					assert.ok(reply === `VALUE ${key} ${old.toString('latin1')}\r\nEND\r\n`, `seed, ${size} bytes, hung up after ${cut}: ${reply.slice(0, 80)}`);
				}
			}
		} finally {
			conn.close();
		}
	});
});

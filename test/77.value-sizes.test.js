// Values of every size up to the item limit, each storage request cut at read boundaries, stored and read back byte-identical:
// the seed protocol checked against the values sent, memcached's text, meta and binary protocols reply for reply against a real memcached.
'use strict';

const assert = require('assert');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');
const { OP, request, storeExtras, normalize: normalizeBinary } = require('./helpers/binary');
const { pacedWrites, textReply, binaryReply, PacedConnection } = require('./helpers/paced');

const ITEM_LIMIT = 1 << 20;          // both servers' default item size limit
const MEMORY_MB = 256;               // room for every size's item at once, on both
const KEY_LENGTH = 11;               // every key is val:NNNNNNN, so a size's item size is fixed
const EVERY_CUT_BELOW = 300;         // requests up to this long are cut at every byte
const OUR_HEADER = 32;               // simplecached's item header (csrc/item.h)
const OUR_PAGE = 16384;              // its slab page at this memory limit (csrc/slab.c)
const MEMCACHED_ITEM = 48 + 1 + 2 + 8; // memcached's item header, key terminator, data CRLF, cas

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
	const v = Buffer.alloc(size);
	for (let i = 0; i < size; i++) v[i] = (i * 131 + size) & 0xff;
	if (size >= 4) v.writeUInt32BE(copy, 0);
	return v;
}

// The seed protocol's value is the rest of a line: printable bytes (spaces too), never
// starting with a digit, so no reply line reads as a memcached VALUE line.
function seedValue(size, copy) {
	const v = Buffer.alloc(size);
	for (let i = 0; i < size; i++) v[i] = 0x20 + ((i * 37 + size + copy * 7) % 95);
	if (size > 0) v[0] = 0x61 + (copy % 26);
	return v;
}

// Each protocol: its storage request (with the seam between its line or header and the value),
// its get request, and how its replies are counted.
const PROTOCOLS = {
	text: {
		store: (key, v) => ({ head: Buffer.from(`set ${key} 0 0 ${v.length}\r\n`), tail: Buffer.concat([v, Buffer.from('\r\n')]) }),
		get: (key) => Buffer.from(`get ${key}\r\n`),
		replyAt: textReply,
		ok: 'STORED\r\n',
	},
	meta: {
		store: (key, v) => ({ head: Buffer.from(`ms ${key} ${v.length} T0\r\n`), tail: Buffer.concat([v, Buffer.from('\r\n')]) }),
		get: (key) => Buffer.from(`mg ${key} s v\r\n`),
		// memcached holds meta replies while it reads a value that follows them in the same read,
		// so the reply that paces a cut would never come: mn makes it send them.
		flush: Buffer.from('mn\r\n'),
		replyAt: textReply,
		ok: 'HD\r\n',
	},
	binary: {
		store: (key, v) => {
			const whole = request(OP.SET, { extras: storeExtras(0, 0), key, value: v });
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
	const requests = read();
	const values = [];
	cuts.forEach((cut, i) => {
		const value = makeValue(size, i + 1);
		const { head, tail } = p.store(key, value);
		requests.push({ bytes: Buffer.concat([head, tail]), cut }, ...read());
		values.push(value);
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
				for (const size of valueSizes(largest, [ITEM_LIMIT - 1, ITEM_LIMIT, ITEM_LIMIT + 1])) {
					const { requests, values, cuts } = sizeRequests(protocol, size, binaryValue);
					const writes = pacedWrites(requests);
					const [expected, actual] = await Promise.all(sides.map((side) => side.send(writes)));
					if (protocol === 'binary') {
						assert.strictEqual(normalizeBinary(actual, roles[1]), normalizeBinary(expected, roles[0]), `${protocol}, ${size} bytes`);
					} else {
						assert.ok(actual.equals(expected), `${protocol}, ${size} bytes (cuts ${cuts.join(',')}): replies differ at byte ${firstDifference(expected, actual)}`);
					}
					if (size <= largest) {
						assertValuesCame(actual, values, protocol, size);
						stored++;
					}
				}
				assert.ok(stored > 100, `only ${stored} sizes stored`);
			} finally {
				sides.forEach((side) => side.close());
			}
		});
	}
});

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
				const expected = 'END\r\n' + values.map((v) => (size <= ITEM_LIMIT ? stored(v) : refused)).join('');
				assert.ok(replies === expected, `seed, ${size} bytes (cuts ${cuts.join(',')}): ${JSON.stringify(replies.slice(0, 200))}`);
			}
		} finally {
			conn.close();
		}
	});
});

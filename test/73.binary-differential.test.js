// memcached's binary protocol against the reference: identical request streams go to a real
// memcached 1.6 and to simplecached, and every response must be identical (cas compared by role).
'use strict';

const assert = require('assert');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { rng } = require('./helpers/sessions');
const { OP, request, normalize, parse, BinaryPeer, storeExtras, arithExtras, u32 } = require('./helpers/binary');
const { needs } = require('./helpers/references');

const KEYS = ['a', 'b', 'counter', 'n1', 'n2', 'bin\x00key', 'sp ace\r\n', 'ключ', 'long_' + 'x'.repeat(200), 'k'.repeat(250)];
const NOW = () => Math.floor(Date.now() / 1000);
// No short relative times: the two servers see them a few milliseconds apart.
const EXPTIMES = () => [0, 0, 0, 1000, 2592000, 2592001, NOW() + 1000, NOW() - 10, 0xffffffff];

// A value: empty, a number (never near 2^63: memcached's incr then reads past the item, see the
// README), or random bytes that are not all white space (memcached's strtoull reads on past those).
function value(r) {
	const kind = r.int(6);
	if (kind === 0) return Buffer.alloc(0);
	if (kind === 1) return Buffer.from(String(r.int(100000)));
	if (kind === 2) return Buffer.from(r.pick(['4294967296', ' 12', '12 ', '-5', '+3', '0x10', '99 bottles', '007']));
	const bytes = Buffer.alloc(r.int(kind === 5 ? 3000 : 60));
	for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
	if (bytes.length > 0 && bytes.every((b) => b === 0x20 || (b >= 0x09 && b <= 0x0d))) bytes[0] = 0x77;
	return bytes;
}

// One random request that keeps the stream in step: a function of the server's cas memory
// (key -> the cas that server last returned for it), so that "the right cas" is right on both.
function command(r, state) {
	const key = r.pick(KEYS);
	// Decided now: the render runs once per server and must not draw from r.
	const casKind = r.int(4);
	// Junk far above any unique either server hands out: a small one could be a real unique on one.
	const junk = (1n << 62n) + BigInt(r.int(5));
	const pickCas = (casMap) => {
		if (casKind === 0) return casMap.get(key) || 0n;
		return casKind === 1 ? junk : 0n;  // stale or junk, or none
	};
	const id = state.opaque++;
	const rq = (op, fields) => (casMap) => {
		state.keys.set(id, key);
		return request(op, { opaque: id, key, ...fields, cas: fields.cas ? fields.cas(casMap) : 0 });
	};
	const q = (op, quiet) => (r.chance(0.3) ? quiet : op);
	switch (r.int(14)) {
	case 0: case 1: {
		const op = r.pick([q(OP.SET, OP.SETQ), q(OP.SET, OP.SETQ), q(OP.ADD, OP.ADDQ), q(OP.REPLACE, OP.REPLACEQ)]);
		return rq(op, { extras: storeExtras(r.pick([0, 1, 42, 0xffffffff]), r.pick(EXPTIMES())), value: value(r), cas: pickCas });
	}
	case 2:
		return rq(r.pick([OP.APPEND, OP.APPENDQ, OP.PREPEND, OP.PREPENDQ]), { value: value(r), cas: pickCas });
	case 3: case 4:
		return rq(r.pick([OP.GET, OP.GETQ, OP.GETK, OP.GETKQ]), {});
	case 5:
		return rq(r.pick([OP.TOUCH, OP.GAT, OP.GATQ, OP.GATK, OP.GATKQ]), { extras: u32(r.pick(EXPTIMES())) });
	case 6:
		return rq(q(OP.DELETE, OP.DELETEQ), { cas: pickCas });
	case 7: case 8: {
		const op = r.pick([OP.INCREMENT, OP.INCREMENTQ, OP.DECREMENT, OP.DECREMENTQ]);
		const exptime = r.pick([0, 0, 1000, 0xffffffff]);
		// memcached pads a shorter result in place only if no unsent reply holds the item, and a
		// binary get's reply stays unsent until a NOOP flushes it (a known difference, see the README).
		return [request(OP.NOOP), rq(op, { extras: arithExtras(r.pick([0, 1, 7, 1000, 4294967296]), r.pick([0, 5, 123456789]), exptime), cas: pickCas })];
	}
	case 9: {
		// An item over the 1 MiB limit: "Too large.", its value discarded as it arrives.
		if (r.chance(0.15)) return rq(q(OP.SET, OP.SETQ), { extras: storeExtras(0, 0), value: Buffer.alloc(1024 * 1024 + r.int(100), 'v') });
		return rq(r.pick([OP.NOOP, OP.VERSION]), { key: '' });
	}
	case 10:
		return rq(r.pick([OP.FLUSH, OP.FLUSHQ]), { key: '', extras: r.chance(0.5) ? u32(0) : '' });
	case 11:
		// Unknown opcodes and SASL without SASL: "Unknown command", the body discarded.
		return r.chance(0.5) ? rq(r.pick([0x1b, 0x30, 0x40, 0xfe]), { key: '', value: value(r) }) :
			rq(OP.SASL_AUTH, { key: 'PLAIN', value: '\0user\0pass' });
	case 12:
		return rq(OP.STAT, { key: r.pick(['reset', 'bogus', 'detail off', 'detail dump', 'detail', 'itemsx']) });
	default:
		return rq(OP.GET, {});
	}
}

// A request after which memcached hangs up: it ends a round (nothing may follow it, or memcached's
// close with unread input would reset the connection and lose its replies).
function closer(r) {
	return r.pick([
		request(OP.QUIT), request(OP.QUITQ), request(OP.GET, { key: 'k'.repeat(251) }),
		request(OP.GET, { key: 'a', bodylen: 5 }), request(OP.SET, { key: 'a', extras: 'abcd' }),
		request(OP.GET, { key: 'abc', bodylen: 2 }), request(OP.NOOP, { magic: 0x81 }),
		request(OP.VERSION, { key: 'v' }), request(OP.INCREMENT, { key: 'a', extras: 'x'.repeat(19) }),
		request(OP.FLUSH, { extras: 'abc' }), request(OP.DELETE, { key: '' }),
	]);
}

describe('memcached binary protocol: differential test against real memcached', function () {
	this.timeout(180000);
	let memcached;
	let server;
	let sides;

	before(needs('memcached'));
	// Fresh servers per test, so both number their cas uniques from the same start.
	beforeEach(async () => {
		[memcached, server] = await Promise.all([startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']), startServer({ port: false, memcachedPort: 0 })]);
	});
	afterEach(async () => {
		if (sides) sides.forEach((side) => side.peer.close());
		sides = null;
		await Promise.all([memcached && memcached.stop(), server && server.close()]);
	});

	async function connect(old) {
		const ports = [memcached.port, server.address('memcached').port];
		const next = ports.map((port, i) => ({ peer: new BinaryPeer(port), roles: old ? old[i].roles : new Map(), cas: old ? old[i].cas : new Map() }));
		await Promise.all(next.map((side) => side.peer.connect()));
		return next;
	}

	// Sends the same requests to both (rendered per server), compares, and remembers the cas each
	// server returned for each key. Returns whether the servers hung up.
	async function exchange(requests, label, { cuts = [], sentinel = true, state = null } = {}) {
		const results = await Promise.all(sides.map((side) => {
			const bytes = Buffer.concat(requests.map((p) => (typeof p === 'function' ? p(side.cas) : p)));
			const points = [0, ...cuts.map((c) => Math.floor(c * bytes.length)), bytes.length];
			const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end)).filter((c) => c.length);
			return side.peer.round(chunks, { sentinel, gapMs: cuts.length ? 1 : 0, timeoutMs: sentinel ? 8000 : 1500 });
		}));
		const [expected, actual] = results.map((res, i) => normalize(res.bytes, sides[i].roles));
		if (process.env.BINARY_TRACE) console.log(label, Buffer.concat(requests.map((p) => (typeof p === 'function' ? p(sides[0].cas) : p))).toString('hex'), '\n', expected, '\n---\n', actual);
		if (actual !== expected) {
			const a = expected.split('\n');
			const b = actual.split('\n');
			let i = 0;
			while (a[i] === b[i]) i++;
			assert.fail(`${label}: responses differ at packet ${i}:\n  memcached:    ${(a[i] || '').slice(0, 300)}\n  simplecached: ${(b[i] || '').slice(0, 300)}`);
		}
		assert.strictEqual(results[1].closed, results[0].closed, `${label}: memcached closed=${results[0].closed}`);
		if (state) {
			results.forEach((res, i) => {
				for (const p of parse(res.bytes).packets) {
					const key = state.keys.get(p.opaque);
					if (key !== undefined && p.status === 0 && p.cas !== 0n) sides[i].cas.set(key, p.cas);
				}
			});
		}
		return results[0].closed;
	}

	it('answers thousands of random requests identically, quiet, pipelined and fragmented', async () => {
		const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
		const r = rng(seed);
		const state = { opaque: 1, keys: new Map() };
		sides = await connect();
		let requests = 0;
		try {
			for (let round = 0; round < 300; round++) {
				const size = 5 + r.int(40);
				const list = Array.from({ length: size }, () => command(r, state)).flat();
				requests += size;
				const cuts = r.chance(0.3) ? Array.from({ length: 1 + r.int(5) }, () => r.next()).sort() : [];
				let closed = await exchange(list, `round ${round}`, { cuts, state });
				// A closing request goes alone: on bad magic memcached drops replies it has not sent yet
				// (how many depends on its reads; we send them, see the README).
				if (!closed && r.chance(0.08)) closed = await exchange([closer(r)], `round ${round} closing`, { sentinel: false });
				if (closed) {
					sides.forEach((side) => side.peer.close());
					sides = await connect(sides);
				}
			}
		} catch (err) {
			err.message = `SEED=${seed}: ${err.message}`;
			throw err;
		}
		assert.ok(requests >= 5000, `only ${requests} requests`);
	});

	it('counts binary requests in stats as memcached does', async () => {
		sides = await connect();
		const k = (key, fields) => request(OP.SET, { key, extras: storeExtras(0, 0), value: '5', ...fields });
		await exchange([k('a'), k('b'), request(OP.GET, { key: 'a' }), request(OP.GETQ, { key: 'x' }),
			request(OP.INCREMENT, { key: 'a', extras: arithExtras(1, 0, 0) }), request(OP.DECREMENT, { key: 'y', extras: arithExtras(1, 0, 0xffffffff) }),
			request(OP.DELETE, { key: 'b' }), request(OP.DELETE, { key: 'b' }), request(OP.TOUCH, { key: 'a', extras: u32(0) }),
			request(OP.GAT, { key: 'z', extras: u32(0) }), request(OP.SET, { key: 'a', extras: storeExtras(0, 0), value: 'v', cas: 1 }),
			request(OP.FLUSH)], 'commands');
		const names = ['cmd_get', 'cmd_set', 'cmd_flush', 'cmd_touch', 'get_hits', 'get_misses', 'delete_hits', 'delete_misses',
			'incr_hits', 'incr_misses', 'decr_hits', 'decr_misses', 'cas_hits', 'cas_badval', 'cas_misses', 'touch_hits', 'touch_misses'];
		const stats = await Promise.all(sides.map(async (side) => {
			const res = await side.peer.round([request(OP.STAT, { opaque: 7 })]);
			const { packets } = parse(res.bytes);
			const all = new Map(packets.filter((p) => p.opcode === OP.STAT).map((p) => [p.key.toString(), p.value.toString()]));
			assert.ok(packets.every((p) => p.opcode !== OP.STAT || (p.opaque === 7 && p.status === 0 && p.cas === 0n)));
			assert.strictEqual(packets.filter((p) => p.opcode === OP.STAT).pop().bodylen, 0, 'an empty packet ends the list');
			return Object.fromEntries(names.map((n) => [n, all.get(n)]));
		}));
		assert.deepStrictEqual(stats[1], stats[0]);
		const settings = await Promise.all(sides.map(async (side) => parse((await side.peer.round([request(OP.STAT, { key: 'settings' })])).bytes).packets));
		assert.ok(settings[1].some((p) => p.key.toString() === 'maxbytes'), 'stats settings');
	});

	it('answers STAT groups with memcached\'s names in its order, sizes and detail as it does', async () => {
		sides = await connect();
		await exchange([request(OP.SET, { key: 'p:1', extras: storeExtras(0, 0), value: 'v' })], 'a key');
		// Class ids differ between the servers (their size classes differ): each becomes its rank.
		const byRank = (names) => {
			const ranks = new Map();
			return names.map((n) => n.replace(/^(items:)?(\d+):/, (_, prefix = '', id) => {
				if (!ranks.has(id)) ranks.set(id, ranks.size + 1);
				return `${prefix}#${ranks.get(id)}:`;
			}));
		};
		// conns: memcached lists connections to text clients only; its binary STAT answers "not found".
		for (const key of ['', 'settings', 'items', 'slabs', 'sizes', 'conns', 'detail on', 'detail dump', 'detail off', 'nonsense']) {
			const replies = await Promise.all(sides.map(async (side) => {
				const { packets } = parse((await side.peer.round([request(OP.STAT, { key, opaque: 9 })])).bytes);
				return packets.map((p) => ({ status: p.status, key: p.key.toString(), value: p.value.toString() }));
			}));
			const [theirs, ours] = replies;
			// This reference runs with no_lru_crawler,no_lru_maintainer, which drop the LRU's names from
			// "stats" and "stats items" (test/47 checks them against a memcached with its defaults).
			const lruOnly = /(^|:)(lru_crawler_running|lru_crawler_starts|lru_maintainer_juggles|evicted_active|moves_to_cold|moves_to_warm|moves_within_lru|direct_reclaims|lru_bumps_dropped|number_(hot|warm|cold)|age_(hot|warm)|hits_to_(hot|warm|cold|temp))$/;
			// simplecached_version is the one name ours adds (test/47 checks where).
			const names = (packets) => {
				const kept = packets.filter((p) => !lruOnly.test(p.key) && p.key !== 'simplecached_version');
				return byRank(kept.map((p) => p.key)).map((name, i) => `${kept[i].status} ${name}`);
			};
			assert.deepStrictEqual(names(ours), names(theirs), `STAT ${key}`);
			if (['sizes', 'conns', 'detail on', 'detail dump', 'detail off', 'nonsense'].includes(key)) assert.deepStrictEqual(ours, theirs, `STAT ${key}`);
		}
	});

	// Each case ends where memcached hangs up, with no input left unread (a body a header announces
	// is not sent): memcached's close with unread input would be a reset that loses its replies.
	const MALFORMED = {
		'bad magic': [request(OP.NOOP, { magic: 0x81 })],
		'text after binary': [Buffer.from(`get ${'a'.repeat(18)}\r\n`)],
		'key and extras longer than the body': [request(OP.NOOP), request(OP.GET, { key: 'abc', bodylen: 2 })],
		'key over 250 bytes': [request(OP.GET, { key: 'k'.repeat(251) })],
		'get with extras': [request(OP.GET, { key: 'a', extras: 'abcd' })],
		'get with a value': [request(OP.GET, { key: 'a', bodylen: 2 })],
		'set without extras': [request(OP.SET, { key: 'a', bodylen: 2 })],
		'set without key': [request(OP.SET, { extras: storeExtras(0, 0), bodylen: 9 })],
		'incr with short extras': [request(OP.INCREMENT, { key: 'a', extras: Buffer.alloc(8) })],
		'append with extras': [request(OP.APPEND, { key: 'a', extras: 'x', bodylen: 3 })],
		'delete with a value': [request(OP.DELETE, { key: 'a', bodylen: 2 })],
		'noop with a body': [request(OP.NOOP, { bodylen: 1 })],
		'quit with a key': [request(OP.QUIT, { key: 'q' })],
		'flush with 8 bytes of extras': [request(OP.FLUSH, { extras: Buffer.alloc(8) })],
		'touch without extras': [request(OP.TOUCH, { key: 'a' })],
		'stat with extras': [request(OP.STAT, { extras: 'abcd' })],
		'sasl list with a key': [request(OP.SASL_LIST_MECHS, { key: 'x' })],
		'unknown opcode: its extras and key count twice': [request(0x50, { extras: 'abcd', key: 'xy', value: 'zz' }), Buffer.alloc(6), request(OP.NOOP), request(OP.QUIT)],
		'a body past 2 GiB is not swallowed': [request(OP.SET, { key: 'a', extras: storeExtras(0, 0), bodylen: 0x90000000 }), request(OP.NOOP), request(OP.QUIT)],
		'an unknown body past 2 GiB is not swallowed': [request(0x60, { bodylen: 0x90000000 }), request(OP.NOOP), request(OP.QUIT)],
		'quietly quits': [request(OP.SETQ, { key: 'a', extras: storeExtras(0, 0), value: 'v' }), request(OP.GETQ, { key: 'a' }), request(OP.QUITQ)],
	};
	for (const [name, requests] of Object.entries(MALFORMED)) {
		it(`malformed or closing: ${name}`, async () => {
			sides = await connect();
			await exchange([request(OP.NOOP)], `${name}: a first request`);
			const closed = await exchange(requests, name, { sentinel: false });
			assert.ok(closed, 'both hang up');
		});
	}

	it('waits for a split header, extras, key and value, then answers as memcached', async () => {
		sides = await connect();
		const set = request(OP.SET, { key: 'split', extras: storeExtras(7, 0), value: 'value', opaque: 9 });
		const cuts = [3 / set.length, 24 / set.length, 30 / set.length, 34 / set.length, 38 / set.length];
		await exchange([set, request(OP.GETK, { key: 'split' })], 'split', { cuts });
		// Text that follows is not a header: both wait for 24 bytes, then hang up.
		const text = await Promise.all(sides.map((side) => side.peer.round([Buffer.from('version\r\n')], { sentinel: false, timeoutMs: 300 })));
		assert.deepStrictEqual(text.map((t) => [t.bytes.toString(), t.closed]), [['', false], ['', false]]);
		sides.forEach((side) => side.peer.close());
		// A connection whose first byte is not 0x80 speaks text.
		sides = await connect();
		const version = await Promise.all(sides.map((side) => side.peer.round([Buffer.from('version\r\n')], { sentinel: false, timeoutMs: 300 })));
		assert.deepStrictEqual(version.map((t) => t.bytes.toString()), ['VERSION 1.6.18\r\n', 'VERSION 1.6.18\r\n']);
	});
});

describe('memcached binary protocol with ascii authentication (-Y)', function () {
	this.timeout(60000);

	// memcached -Y serves ascii only: a first byte of 0x80 is read as the start of a text line.
	it('reads binary requests as text, as memcached -Y does', async function () {
		needs('memcached').call(this);
		const fs = require('fs');
		const os = require('os');
		const path = require('path');
		const file = path.join(os.tmpdir(), `simplecached-binary-auth-${process.pid}`);
		fs.writeFileSync(file, 'user:pass\n');
		const [memcached, server] = await Promise.all([startMemcached(['-Y', file]), startServer({ port: false, memcachedPort: 0, authFile: file })]);
		try {
			const requests = [request(OP.GET, { key: 'a' }), request(OP.VERSION), Buffer.from('\r\n'), request(OP.NOOP), Buffer.from('get a\r\n')];
			const replies = [];
			for (const port of [memcached.port, server.address('memcached').port]) {
				const peer = new BinaryPeer(port);
				await peer.connect();
				// One read per line: memcached keeps only the last reply of lines pipelined in one read (README).
				const res = await peer.round(requests, { sentinel: false, timeoutMs: 800, gapMs: 100 });
				peer.close();
				replies.push([res.bytes.toString('latin1'), res.closed]);
			}
			assert.deepStrictEqual(replies[1], replies[0]);
			assert.strictEqual(replies[0][0], 'CLIENT_ERROR unauthenticated\r\n'.repeat(3));
		} finally {
			await Promise.all([memcached.stop(), server.close()]);
			fs.rmSync(file, { force: true });
		}
	});
});

// make-corpus: writes the seed corpora of the fuzz targets from the test suites' own sessions:
// the differential test's random memcached sessions, the seed protocol's conformance lines, and
// store operation sequences. Run it after changing those generators: node test/fuzz/make-corpus.js
// [target...] (all targets unless some are named).
'use strict';

const fs = require('fs');
const path = require('path');
const { rng, makeRound, render } = require('../helpers/sessions');
const { OP, request, storeExtras, arithExtras, u32 } = require('../helpers/binary');
const { makeMetaRound } = require('../helpers/meta-sessions');

const CORPUS = path.join(__dirname, 'corpus');

// The protocol targets' header (see fuzz_protocol.c): configuration, then cuts of 3 bytes each.
function protocolInput(config, cuts, body) {
	const header = [config, cuts.length];
	for (const [at, seconds] of cuts) header.push(at & 0xff, at >> 8, seconds);
	return Buffer.concat([Buffer.from(header), Buffer.from(body, 'latin1')]);
}

function writeCorpus(target, inputs) {
	const dir = path.join(CORPUS, target);
	fs.rmSync(dir, { recursive: true, force: true });
	fs.mkdirSync(dir, { recursive: true });
	inputs.forEach((input, i) => fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(3, '0')}`), input));
}

// Sessions of the differential test against memcached, under each configuration of the target.
function textInputs() {
	const r = rng(20261127);
	const inputs = [];
	for (let i = 0; i < 40; i++) {
		const body = Buffer.concat(render(makeRound(r, 5 + r.int(20)), new Map(), []));
		const cuts = [[r.int(body.length), 0], [r.int(body.length), r.int(3) * 40]];
		inputs.push(protocolInput(i % 16, cuts, body.toString('latin1')));
	}
	// Commands the conformance tests (test/20, 21, 40, 42) send, one session each.
	const sessions = [
		'set a 5 0 3\r\nabc\r\nget a b\r\ngets a\r\nappend a 0 0 2 noreply\r\nde\r\nincr n 1\r\n',
		'set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\ntouch a 100\r\ngat 0 a\r\nset x 0 0 3\r\nabcd\r\n',
		'delete a 0\r\nflush_all\r\nget n\r\nset big 0 0 2000000\r\nverbosity 1\r\nversion\r\n',
		'set k 0 1 1\r\nv\r\nget k\r\n',
		'stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats reset\r\nstats detail\r\nstats bogus\r\n',
		'flush_all 2\r\nset a 0 0 1\r\n1\r\nget a\r\nquit\r\nget a\r\n',
		'cas a 0 0 1 1\r\nx\r\ngets a\r\nmn\r\nshutdown\r\nGET / HTTP/1.1\r\n',
		`get ${'k '.repeat(300)}\r\nset a 0 0 1\r\nz\r\n`,
		// Key listings, paced by the output mark: every key of the store, then one class, then errors.
		`${Array.from({ length: 40 }, (_, i) => `set key:${i} ${i} ${i % 3} 3\r\nv${i % 10}${i % 7}\r\n`).join('')}` +
			'lru_crawler metadump all\r\nstats cachedump 2 5\r\nlru_crawler metadump 1,2,x\r\nstats cachedump 64 0\r\n' +
			'lru_crawler disable\r\nlru_crawler metadump 2\r\nlru_crawler enable\r\nlru_crawler metadump hash\r\nget key:1\r\n',
	];
	sessions.forEach((body, i) => inputs.push(protocolInput(i % 16, [[body.length >> 1, 2]], body)));
	// Past the small configuration's 1 KiB limit: evictions, then an append past the item limit.
	const value = (n, c) => c.repeat(n);
	const evicting = [1, 2, 3, 4, 5].map((n) => `set e${n} 0 0 300\r\n${value(300, String(n))}\r\n`).join('') +
		'get e1 e2 e3 e4 e5\r\nappend e5 0 0 300\r\n' + value(300, 'a') + '\r\nstats items\r\n';
	inputs.push(protocolInput(1, [], evicting), protocolInput(1 | 4 | 8, [[700, 0], [1400, 1]], evicting));
	// Meta commands: the meta differential test's random sessions, then its fixed cases.
	const m = rng(20261128);
	for (let i = 0; i < 24; i++) {
		const body = Buffer.concat(render(makeMetaRound(m, 5 + m.int(20)), new Map(), []));
		inputs.push(protocolInput(i % 16, [[m.int(body.length), 0], [m.int(body.length), m.int(3) * 40]], body.toString('latin1')));
	}
	const meta = [
		'ms a 3 T100 F5 c k O1\r\nabc\r\nmg a v s t f c k h l O9\r\nmg a q\r\nmg b q k\r\nmn\r\n',
		'ms a 2 MA C1\r\nxy\r\nms a 2 ME\r\nxy\r\nms a 2 MX\r\nxy\r\nms a 5\r\nabc\r\nms a -1\r\n',
		'ms YQ== 1 b k c\r\nx\r\nmg YQ== b k v\r\nmg A=== b\r\nmd YQ== b q\r\nme YQ== b\r\nme a\r\n',
		'ms s 3\r\nabc\r\nmd s I T30\r\nmg s c v t\r\nmg s R10\r\nms s 3 I C1\r\nnew\r\nmg j N30 v\r\nmg j R5000\r\n',
		'ma n N0 J10 v c t\r\nma n MD D3 v\r\nma n C1\r\nma n Mx\r\nma n Dx\r\nma s q\r\nms s 2\r\nab\r\nma s\r\n',
		`mg a ${'v '.repeat(20)}\r\nmg ${'k'.repeat(251)} v\r\nmg a O${'o'.repeat(40)}\r\nmg a \x80\r\nmg a v v\r\nms big 600\r\n${'x'.repeat(600)}\r\n`,
	];
	meta.forEach((body, i) => inputs.push(protocolInput(i % 16, [[body.length >> 1, 1]], body)));
	// Values cut inside their data block, read straight into their item (0x10) or copied, byte by
	// byte (0x08), under the small limit (0x01: the reservation evicts, or is refused).
	const values = [
		`set v 1 0 1000\r\n${value(1000, 'v')}\r\nappend v 0 0 400\r\n${value(400, 'a')}\r\nget v\r\n`,
		`ms m 700 T0 F2 c k O7\r\n${value(700, 'm')}\r\nms m 3 MP q\r\npre\r\nms m 5\r\nabcdefg\r\nmg m v\r\n`,
		`set a 0 0 300\r\n${value(300, 'a')}\r\nset b 0 0 400\r\n${value(400, 'b')}\r\nset c 0 0 450\r\n${value(450, 'c')}\r\nget a b c\r\nstats\r\n`,
	];
	for (const body of values) {
		for (const config of [0x10, 0x18, 0x11, 0x19, 0x14]) inputs.push(protocolInput(config, [[40, 0], [body.length >> 1, 1]], body));
	}
	return inputs;
}

function simpleInputs() {
	const sessions = [
		'set a hello world\r\nget a\r\nget b\ndelete a\r\ndelete a\r\nbogus\r\n\r\nset k v\r\nget k\r\nquit\r\nget k\r\n',
		'set greeting hello world\r\nget greeting\r\n',
		'set k\r\nget\r\nGET k\r\nset  k v\r\nget k extra\r\ndelete\r\n',
		'set tab\tkey v\r\nset ctl\x01key v\r\nset ' + 'k'.repeat(251) + ' v\r\n',
		'set long ' + 'v'.repeat(1500) + '\r\nget long\r\n',
		'set a 1\nset b 2\nget a\nget b\ndelete a\nget a\n',
		'quit\r\n',
		[1, 2, 3, 4, 5].map((n) => `set e${n} ${String(n).repeat(300)}\r\n`).join('') + 'get e1\r\nget e5\r\n',
	];
	return sessions.flatMap((body, i) => [protocolInput(0, [], body), protocolInput(i % 16, [[body.length >> 1, 0], [3, 1]], body)]);
}

// Store operations (see test/c/store_diff.c): a configuration byte, then operations.
function storeInputs() {
	const r = rng(11311);
	const inputs = [];
	for (let i = 0; i < 24; i++) {
		const bytes = [i % 4];
		for (let j = 0; j < 200; j++) bytes.push(r.int(256));
		inputs.push(Buffer.from(bytes));
	}
	return inputs;
}

// Binary protocol sessions: every opcode, quiet forms, cas, bad lengths, unknown opcodes, an
// over-limit value in the small configuration, and random request mixes.
function binaryInputs() {
	const set = (key, value, f = {}) => request(f.op ?? OP.SET, { key, extras: storeExtras(f.flags ?? 0, f.exptime ?? 0), value, cas: f.cas ?? 0, opaque: f.opaque ?? 1 });
	const get = (op, key) => request(op, { key, opaque: 2 });
	const arith = (op, key, delta, initial, exptime) => request(op, { key, extras: arithExtras(delta, initial, exptime) });
	const sessions = [
		[set('a', 'hello', { flags: 5 }), get(OP.GET, 'a'), get(OP.GETK, 'a'), get(OP.GETQ, 'zz'), get(OP.GETKQ, 'zz'), get(OP.GETK, 'zz'), get(OP.GET, 'zz'), request(OP.NOOP)],
		[set('a', 'x', { op: OP.ADD }), set('b', 'x', { op: OP.REPLACE }), request(OP.APPEND, { key: 'a', value: 'X' }), request(OP.PREPENDQ, { key: 'a', value: 'P' }), set('a', 'v', { cas: 12345 }), set('n', 'v', { op: OP.ADDQ, cas: 1 })],
		[set('a', '1'), request(OP.DELETE, { key: 'a', cas: 99 }), request(OP.DELETE, { key: 'a' }), request(OP.DELETEQ, { key: 'a' }), request(OP.DELETE, { key: 'a' })],
		[arith(OP.INCREMENT, 'n', 1, 5, 0), arith(OP.INCREMENT, 'n', 10, 5, 0), arith(OP.DECREMENT, 'n', 100, 5, 0), arith(OP.INCREMENT, 'm', 1, 5, 0xffffffff), arith(OP.INCREMENTQ, 'n', 1, 0, 0), arith(OP.DECREMENTQ, 'q', 1, 7, 100), set('s', 'abc'), arith(OP.INCREMENT, 's', 1, 0, 0), set('t', '99'), arith(OP.INCREMENT, 't', 1, 0, 0), get(OP.GET, 't')],
		[set('t', 'v'), request(OP.TOUCH, { key: 't', extras: u32(100) }), request(OP.GAT, { key: 't', extras: u32(1) }), request(OP.GATK, { key: 't', extras: u32(0) }), request(OP.GATQ, { key: 'x', extras: u32(0) }), request(OP.GATKQ, { key: 't', extras: u32(0) }), get(OP.GET, 't')],
		[set('a', 'v'), request(OP.FLUSH), get(OP.GET, 'a'), request(OP.FLUSHQ, { extras: u32(2) }), set('b', 'v'), request(OP.VERSION), request(OP.NOOP)],
		[request(OP.STAT), request(OP.STAT, { key: 'settings' }), request(OP.STAT, { key: 'items' }), request(OP.STAT, { key: 'slabs' }), request(OP.STAT, { key: 'reset' }), request(OP.STAT, { key: 'detail dump' }), request(OP.STAT, { key: 'bogus' })],
		[request(0x1b, { extras: u32(1) }), request(0x55, { value: 'abcdef' }), request(OP.SASL_LIST_MECHS), request(OP.SASL_AUTH, { key: 'PLAIN', value: '\0u\0p' }), request(OP.NOOP)],
		[set('big', Buffer.alloc(600, 'b')), get(OP.GET, 'big'), request(OP.APPEND, { key: 'big', value: Buffer.alloc(600) }), request(OP.NOOP)],
		[request(OP.GET, { key: 'k'.repeat(251) }), request(OP.NOOP)],
		[request(OP.GET, { key: 'abc', bodylen: 2 }), request(OP.NOOP)],
		[request(OP.NOOP), request(OP.NOOP, { magic: 0x81 })],
		[request(OP.SET, { key: 'a', extras: storeExtras(0, 0), bodylen: 0x90000000 }), request(0x60, { bodylen: 0x90000000 }), request(OP.NOOP)],
		[request(OP.QUITQ), request(OP.NOOP)],
		[set('a', 'v'), request(OP.QUIT), get(OP.GET, 'a')],
	];
	const inputs = sessions.map((list, i) => {
		const body = Buffer.concat(list);
		return protocolInput(i % 16, [[body.length >> 1, 0], [24, 1]], body.toString('latin1'));
	});
	const r = rng(80);
	const keys = ['a', 'b', 'n', 'k:1'];
	for (let i = 0; i < 16; i++) {
		const list = [];
		for (let j = 0; j < 20; j++) {
			const key = r.pick(keys);
			const op = r.pick([OP.SET, OP.SETQ, OP.ADD, OP.GET, OP.GETQ, OP.GETK, OP.DELETE, OP.INCREMENT, OP.APPEND, OP.TOUCH, OP.GAT, OP.NOOP]);
			if (op <= OP.ADD || op === OP.SETQ) list.push(set(key, String(r.int(1000)), { op }));
			else if (op === OP.INCREMENT) list.push(arith(op, key, r.int(10), r.int(10), r.pick([0, 0xffffffff])));
			else if (op === OP.APPEND) list.push(request(op, { key, value: 'z' }));
			else if (op === OP.TOUCH || op === OP.GAT) list.push(request(op, { key, extras: u32(r.int(3)) }));
			else if (op === OP.NOOP) list.push(request(op));
			else list.push(request(op, { key }));
		}
		const body = Buffer.concat(list);
		inputs.push(protocolInput(i, [[r.int(body.length), 0], [r.int(body.length), r.int(3)]], body.toString('latin1')));
	}
	// Values cut inside, read straight into their item (0x10), byte by byte (0x08), under the small limit (0x01).
	const values = Buffer.concat([set('v', Buffer.alloc(700, 'v'), { flags: 3 }), request(OP.APPENDQ, { key: 'v', value: Buffer.alloc(300, 'a') }),
		set('w', Buffer.alloc(450, 'w'), { op: OP.SETQ }), get(OP.GETK, 'v'), get(OP.GET, 'w'), request(OP.NOOP)]);
	for (const config of [0x10, 0x18, 0x11, 0x19]) inputs.push(protocolInput(config, [[30, 0], [values.length >> 1, 1]], values.toString('latin1')));
	return inputs;
}

// Snapshot files of small stores: empty, a few items, flags and expiries, values near the fuzz
// target's item size limit, and a meta-set binary key with its marks.
async function snapshotInputs() {
	const { Engine } = require('../../lib/engine');
	const os = require('os');
	const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-')), 'seed.snap');
	const fills = [
		() => {},
		(e) => ['a', 'b', 'c'].forEach((k) => e.set(k, k.repeat(3))),
		(e) => e.feed(Array.from({ length: 40 }, (_, i) => `set k${i} ${i * 7} ${i % 3 ? 0 : 3600} ${i} noreply\r\n${'v'.repeat(i)}\r\n`).join(''), { protocol: 'memcached' }),
		(e) => { for (let i = 0; i < 4; i++) e.set(`big${i}`, 'x'.repeat(3000 + i)); },
		(e) => e.feed('ms Zm9v 2 b\r\nhi\r\nmg Zm9v b v\r\nmd Zm9v b I\r\n', { protocol: 'memcached' }),
	];
	const inputs = [];
	for (const fill of fills) {
		const engine = new Engine({ memoryLimit: 1 << 20 });
		fill(engine);
		await engine.save(file);
		inputs.push(fs.readFileSync(file));
	}
	fs.rmSync(path.dirname(file), { recursive: true, force: true });
	return inputs;
}

const targets = { text: textInputs, simple: simpleInputs, store: storeInputs, binary: binaryInputs, snapshot: snapshotInputs };
const wanted = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(targets);
(async () => {
	for (const target of wanted) writeCorpus(target, await targets[target]());
})();

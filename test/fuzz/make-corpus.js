// make-corpus: writes the seed corpora of the fuzz targets from the test suites' own sessions:
// the differential test's random memcached sessions, the seed protocol's conformance lines, and
// store operation sequences. Run it after changing those generators: node test/fuzz/make-corpus.js
'use strict';

const fs = require('fs');
const path = require('path');
const { rng, makeRound, render } = require('../helpers/sessions');
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

writeCorpus('text', textInputs());
writeCorpus('simple', simpleInputs());
writeCorpus('store', storeInputs());

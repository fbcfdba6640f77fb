// Random memcached text-protocol sessions for the differential test: valid and invalid commands,
// noreply, binary values, cas with real and stale uniques, arithmetic, expiry and flush.
'use strict';

// A small seeded PRNG (mulberry32), so a failing seed can be replayed with SEED=<n>.
function rng(seed) {
	let a = seed >>> 0;
	const next = () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return {
		next,
		int: (n) => Math.floor(next() * n),
		pick: (list) => list[Math.floor(next() * list.length)],
		chance: (p) => next() < p,
	};
}

// Sessions on several connections at once each use their own keys: makeRound's prefix.
let prefix = '';
const named = (k) => prefix + k;

const KEYS = ['a', 'b', 'counter', 'k:1', 'k:2', 'long_key_' + 'x'.repeat(200), 'utf8-ключ', 'tab\tkey', 'ctl\x01key', 'n1', 'n2', 'x'];
const FLAGS = ['0', '1', '42', '4294967295', '4294967296', '-0', '+7', '007', '1x', '-1', 'abc', '18446744073709551616'];
const EXPTIMES = ['0', '0', '0', '1000', '-1', '2592000', '99999999999', 'x'];

function value(r) {
	const kind = r.int(6);
	if (kind === 0) return Buffer.alloc(0);
	if (kind === 1) return Buffer.from(String(r.int(1000)));
	// No value (and no incr result, see other()) reaches 2^63: there memcached's incr looks for a '-'
	// with strchr() past the end of the item's data, into whatever its slab holds next, so its
	// answer depends on memory contents (a known difference, see the README).
	if (kind === 2) return Buffer.from(r.pick(['4294967296', '18446744073709551616', ' 12', '12 ', '-5', '-0', '+3', '1e3', '0x10', '99 bottles']));
	const bytes = Buffer.alloc(r.int(80));
	for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
	if (kind === 3) bytes.write('\r\n', Math.min(bytes.length, r.int(bytes.length + 1)), 'latin1');
	// Nor is a value all white space ("\t\r"): memcached's incr skips it with strtoull() and reads
	// on past the item's data, again into whatever its slab holds next.
	if (bytes.length > 0 && bytes.every(isSpace)) bytes[0] = 0x77;
	return bytes;
}

// C's isspace() in the "C" locale.
function isSpace(byte) {
	return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function key(r) {
	return r.chance(0.03) ? 'k'.repeat(251) : named(r.pick(KEYS));
}

function noreply(r) {
	return r.chance(0.2) ? ' noreply' : '';
}

const line = (text) => Buffer.from(`${text}\r\n`, 'latin1');

// memcached drops the still-unsent replies of earlier commands when a get names a key over 250
// bytes, and which are unsent depends on when it last flushed. A get flushes: one just before
// makes that set empty. The line end first ends whatever garbage the previous command left.
const FLUSH_GUARD = [Buffer.from('\r\nget a\r\n')];

// A storage command with a well-formed data block, or one of the ways it can go wrong.
function storage(r, verb, casPiece) {
	const k = key(r);
	const data = value(r);
	const flags = r.chance(0.85) ? r.pick(['0', '1', '42', '4294967295']) : r.pick(FLAGS);
	const exptime = r.chance(0.9) ? '0' : r.pick(EXPTIMES);
	const head = (len) => `${verb} ${k} ${flags} ${exptime} ${len}`;
	const shape = r.int(20);
	if (shape === 0) return [line(`${head(-1)}${noreply(r)}`)];                   // negative length: no data follows
	if (shape === 1) return [line(`${head(data.length)}`).slice(0, -2), Buffer.from('\r\n'), data, line('')]; // line split, fine
	if (shape === 2) return [line(head(data.length)), data, Buffer.from('XY')];  // bad data chunk, then a line "..."
	if (shape === 3) return [line(head(data.length)), data, Buffer.from('ab\r\n')]; // data longer than declared
	if (shape === 4) return [line(`${verb} ${k} ${flags}`)];                      // too few tokens
	const tail = noreply(r);
	const cas = casPiece ? casPiece(k) : null;
	if (cas) return [(casMap) => line(`${head(data.length)} ${cas(casMap)}${tail}`), data, Buffer.from('\r\n')];
	return [line(`${head(data.length)}${tail}`), data, Buffer.from('\r\n')];
}

// The cas argument: the unique this server last returned for the key, a stale one, or junk.
// Every random choice is made here, never when a server's copy is rendered. Uniques count every
// store of a server, so with several connections at once (a key prefix) a small or nearly stale
// unique could match an item by the interleaving alone: there they are made unreachable.
function casFor(r) {
	return (k) => {
		const style = r.int(10);
		const concurrent = prefix !== '';
		const picked = r.pick(['0', '1', 'abc', '-1', '18446744073709551615']);
		const junk = concurrent && picked === '1' ? '18446744073709551614' : picked;
		const staleBy = concurrent ? 1n << 40n : 1000n;
		return (casMap) => {
			const seen = casMap.get(k);
			if (style < 6 && seen) return seen;
			if (style < 8 && seen) return String(BigInt(seen) + staleBy);
			return junk;
		};
	};
}

function retrieval(r) {
	const verb = r.pick(['get', 'gets', 'get', 'gets', 'gat', 'gats', 'bget']);
	// Only get and gets lines may pass 2 KiB: memcached hangs up on any other line with no end in
	// the first 2 KiB it reads, which would depend on how the bytes happen to arrive.
	const many = verb === 'get' || verb === 'gets' ? 30 : 6;
	const keys = Array.from({ length: 1 + r.int(r.chance(0.1) ? many : 4) }, () => key(r));
	const touch = verb.startsWith('ga') ? `${r.pick(['0', '100', '-1', 'x', '2592001'])} ` : '';
	const command = line(`${verb} ${touch}${keys.join(' ')}`);
	return keys.some((k) => k.length > 250) ? [...FLUSH_GUARD, command] : [command];
}

function other(r) {
	const k = key(r);
	switch (r.int(14)) {
	case 0: return [line(`delete ${k}${noreply(r)}`)];
	case 1: return [line(`delete ${k} ${r.pick(['0', '1', 'x', 'noreply'])}${noreply(r)}`)];
	case 2: return [line(`incr ${r.pick([named('n1'), named('n2'), named('counter'), k])} ${r.pick(['1', '0', '7', '4294967296', '-1', 'x', '18446744073709551616', ' 5'])}${noreply(r)}`)];
	case 3: return [line(`decr ${r.pick([named('n1'), named('n2'), named('counter'), k])} ${r.pick(['1', '3', '1000', '18446744073709551615', 'x'])}${noreply(r)}`)];
	case 4: return [line(`touch ${k} ${r.pick(['0', '1000', '-1', 'x'])}${noreply(r)}`)];
	case 5: return [line(r.pick(['verbosity 1', 'verbosity', 'verbosity x', 'verbosity 1 noreply', 'verbosity 0 0']))]; // no version: it ends a round
	case 6: return [line(r.pick(['', ' ', 'x', 'GET a', 'gett a', 'sets a 0 0 1', 'incr', 'incr a', 'touch a', 'delete', 'delete a 0 0 0', 'decr a 1 2 3', 'get', 'gets ', 'gat 10', 'gats']))];
	case 7: return [line(`set ${k} 0 0 ${r.int(3)} ${'extra '.repeat(2 + r.int(20))}`)]; // too many tokens
	case 8: return [...(k.length > 250 ? FLUSH_GUARD : []), line(`  get   ${k}   a  `)];
	case 9: return [...(k.length > 250 ? FLUSH_GUARD : []), Buffer.from(`get ${k}\n`)];
	case 10: {
		const number = String(r.int(100000));
		return [line(`set ${named(`n${1 + r.int(2)}`)} 0 0 ${number.length}`), Buffer.from(number), Buffer.from('\r\n')];
	}
	case 11: return [line(`incr\t${k} 1`)];
	case 12: return [line(`set ${k} 0\t0 1`), Buffer.from('z\r\n')];
	default: return [line(`cas ${k} 0 0 1`), Buffer.from('c\r\n')];
	}
}

// One round: a pipelined batch of commands, each an array of pieces (Buffers, or functions of a
// server's cas map that render the cas argument).
function makeRound(r, size, keyPrefix = '') {
	prefix = keyPrefix;
	const commands = [];
	const cas = casFor(r);
	for (let i = 0; i < size; i++) {
		const kind = r.int(10);
		if (kind < 3) commands.push(storage(r, r.pick(['set', 'set', 'add', 'replace', 'append', 'prepend'])));
		else if (kind < 4) commands.push(storage(r, 'cas', cas));
		else if (kind < 7) commands.push(retrieval(r));
		else commands.push(other(r));
	}
	if (r.chance(0.03)) commands.push([line(r.pick(['flush_all', 'flush_all 0', 'flush_all noreply', 'flush_all -1']))]);
	return commands;
}

// Resolves a round's commands for one server and cuts the bytes at the same random points.
function render(commands, casMap, cuts) {
	const bytes = Buffer.concat(commands.flat().map((p) => (typeof p === 'function' ? p(casMap) : p)));
	const chunks = [];
	let start = 0;
	for (const cut of cuts) {
		const at = Math.min(bytes.length, Math.floor(cut * bytes.length));
		if (at > start) chunks.push(bytes.subarray(start, at));
		start = Math.max(start, at);
	}
	chunks.push(bytes.subarray(start));
	return chunks;
}

module.exports = { rng, makeRound, render, line, KEYS };

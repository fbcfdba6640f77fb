// Random sessions of memcached's meta commands (mg, ms, md, ma, mn) mixed with classic ones, for
// the meta differential test: valid and invalid flags, quiet mode, base64 keys, opaques, cas
// compare, modes, refused data blocks and noreply. Pieces render as in sessions.js.
'use strict';

const { line } = require('./sessions');

// Keys that mg, ms, md and the classic commands share, and their base64 spellings (all decode to
// printable keys without spaces, because an item made by "ma <key> b N" echoes its key raw).
const KEYS = ['a', 'b', 'k:1', 'tab\tkey', 'utf8-ключ', 'x'];
const BASE64 = ['YQ==', 'Yg==', 'azox', 'eA==', 'bm8=', 'YQ', '!YQ==', 'Y=Q=', '===='];
// Counters: only ma, incr, decr, get and plain sets touch them. After an mg hit memcached holds
// the item until the reply is written, so an incr then makes a new item instead of rewriting the
// number in place (no space padding): a timing-dependent difference the sessions stay clear of.
const COUNTERS = ['n1', 'n2', 'n3'];
const LONG_KEY = 'k'.repeat(251);

const TTLS = ['0', '100', '1000', '-1', '2592000', 'x', ''];

function key(r) {
	if (r.chance(0.02)) return { k: LONG_KEY, b: false };
	if (r.chance(0.15)) return { k: r.pick(BASE64), b: true };
	return { k: r.pick(KEYS), b: false };
}

function opaque(r) {
	const n = r.chance(0.05) ? 33 : r.int(12);
	let s = 'O';
	for (let i = 0; i < n; i++) s += 'abcXYZ019-_'[r.int(11)];
	return s;
}

// A value below 2^63 that is never all white space (see sessions.js for why).
function value(r) {
	const kind = r.int(4);
	if (kind === 0) return Buffer.alloc(0);
	if (kind === 1) return Buffer.from(String(r.int(1000)));
	const bytes = Buffer.alloc(r.int(40));
	for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
	if (bytes.length > 0) bytes[0] = 0x61;
	return bytes;
}

// The cas argument of C: the unique this server last showed for the key, a stale one, or junk.
function casFlag(r, k) {
	const style = r.int(10);
	const junk = r.pick(['0', '1', 'x', '-1', '']);
	return (casMap) => {
		const seen = casMap.get(k);
		if (style < 6 && seen) return `C${seen}`;
		if (style < 8 && seen) return `C${BigInt(seen) + 1000n}`;
		return `C${junk}`;
	};
}

// Flags drawn from a pool, shuffled; sometimes a duplicate or an unknown flag.
function flags(r, pool, n) {
	const chosen = [];
	for (let i = 0; i < n; i++) {
		const f = r.pick(pool);
		if (typeof f === 'function' || !chosen.some((c) => typeof c === 'string' && c[0] === f[0])) chosen.push(f);
	}
	if (r.chance(0.04)) chosen.push(r.pick(['x', 'E', 'S', 'v', 'q', '\x80', 'Z']));
	return chosen;
}

// A command line made of fixed words and flag pieces (strings or functions of the cas map).
function commandLine(words, fl) {
	return (casMap) => line([...words, ...fl.map((f) => (typeof f === 'function' ? f(casMap) : f))].join(' '));
}

function withKey(r, pool, k) {
	return pool.concat(k.b ? ['b', 'b', 'b'] : []);
}

function mg(r) {
	const k = key(r);
	const pool = withKey(r, ['v', 's', 't', 'c', 'f', 'h', 'k', 'k', 'q', 'u', 'O', `T${r.pick(TTLS)}`,
		`N${r.pick(['30', '0', '-1'])}`, `R${r.pick(['10', '500', '5000', '-1', 'x'])}`], k);
	const fl = flags(r, pool, r.int(7)).map((f) => (f === 'O' ? opaque(r) : f));
	return [commandLine(['mg', k.k], fl)];
}

function ms(r) {
	const k = key(r);
	const data = value(r);
	const pool = withKey(r, ['c', 'k', 'q', 'O', 'I', 'C', `T${r.pick(TTLS)}`, `F${r.pick(['0', '5', '4294967295', '4294967296', 'x', '-1'])}`,
		`M${r.pick(['E', 'A', 'P', 'R', 'S', 'S', 'x', 'e', ''])}`, 's'], k);
	const fl = flags(r, pool, r.int(6)).map((f) => (f === 'O' ? opaque(r) : f === 'C' ? casFlag(r, k.k) : f));
	const shape = r.int(25);
	const len = shape === 0 ? r.pick(['-1', 'x', '']) : shape === 1 ? String(data.length + 2) : String(data.length);
	if (shape === 0) return [commandLine(['ms', k.k, len].filter(Boolean), fl)];
	if (shape === 1) return [commandLine(['ms', k.k, len], fl), data, Buffer.from('xy\r\n')]; // bad data chunk
	if (shape === 2) return [commandLine(['ms', k.k, len], fl), data, Buffer.from('\r\r\n')];
	return [commandLine(['ms', k.k, len], fl), data, Buffer.from('\r\n')];
}

function md(r) {
	const k = key(r);
	const pool = withKey(r, ['q', 'k', 'O', 'I', 'C', `T${r.pick(TTLS)}`, 'x'], k);
	const fl = flags(r, pool, r.int(4)).map((f) => (f === 'O' ? opaque(r) : f === 'C' ? casFlag(r, k.k) : f));
	return [commandLine(['md', k.k], fl)];
}

function ma(r) {
	const b = r.chance(0.1);
	const k = b ? r.pick(['bjE=', 'bjI=', 'bjQ=']) : r.pick(COUNTERS);
	const pool = ['N0', 'N100', `J${r.pick(['0', '7', '1000', 'x'])}`, `D${r.pick(['1', '3', '100', 'x', '-1'])}`,
		`M${r.pick(['I', 'D', '+', '-', 'x', 'II'])}`, 'v', 'c', 't', 'k', 'q', 'O', 'C', 'T100', ...(b ? ['b', 'b'] : [])];
	const fl = flags(r, pool, r.int(6)).map((f) => (f === 'O' ? opaque(r) : f === 'C' ? casFlag(r, k) : f));
	return [commandLine(['ma', k], fl)];
}

function classic(r) {
	const k = r.pick(KEYS);
	const nr = r.chance(0.2) ? ' noreply' : '';
	switch (r.int(9)) {
	case 0: {
		const data = value(r);
		return [line(`${r.pick(['set', 'add', 'append', 'prepend', 'replace'])} ${k} ${r.pick(['0', '3'])} 0 ${data.length}${nr}`), data, Buffer.from('\r\n')];
	}
	case 1: return [line(`${r.pick(['get', 'gets'])} ${k} ${r.pick(KEYS)}`)];
	case 2: return [line(`delete ${k}${nr}`)];
	case 3: return [line(`touch ${k} ${r.pick(['0', '100'])}${nr}`)];
	case 4: return [line(`gat ${r.pick(['0', '100'])} ${k}`)];
	case 5: return [line(`${r.pick(['incr', 'decr'])} ${r.pick(COUNTERS)} ${r.pick(['1', '5', 'x'])}${nr}`)];
	case 6: {
		const number = String(r.int(100000));
		return [line(`set ${r.pick(COUNTERS)} 0 0 ${number.length}${nr}`), Buffer.from(number), Buffer.from('\r\n')];
	}
	case 7: return [line(`get ${r.pick(COUNTERS)}`)];
	default: return [line(r.pick(['mn', 'mn', 'mx a', 'mg', 'ma', 'md', 'ms a', 'me', 'mgg a', 'm a']))];
	}
}

// One round: a pipelined batch of commands, each an array of pieces.
function makeMetaRound(r, size) {
	const commands = [];
	for (let i = 0; i < size; i++) {
		const kind = r.int(20);
		if (kind < 5) commands.push(mg(r));
		else if (kind < 9) commands.push(ms(r));
		else if (kind < 11) commands.push(md(r));
		else if (kind < 14) commands.push(ma(r));
		else commands.push(classic(r));
	}
	if (r.chance(0.5)) commands.push([line('mn')]);
	return commands;
}

module.exports = { makeMetaRound };

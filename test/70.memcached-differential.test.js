// The memcached text protocol against the reference: identical byte streams go to a real
// memcached 1.6 and to simplecached, and every reply must be identical (cas compared by role).
'use strict';

const assert = require('assert');
const net = require('net');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { connectSides, exchangeSides: exchange, normalize } = require('./helpers/differential');
const { rng, makeRound, line } = require('./helpers/sessions');
const { needs } = require('./helpers/references');

describe('memcached text protocol: differential test against real memcached', function () {
	this.timeout(120000);
	let memcached;
	let server;
	let pair;

	before(needs('memcached'));
	before(async () => {
		// memcached's LRU threads take item references at random moments, and a referenced item makes
		// incr allocate a new item instead of padding in place: without them it is deterministic.
		[memcached, server] = await Promise.all([startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']), startServer({ port: false, memcachedPort: 0 })]);
	});
	after(async () => {
		await Promise.all([memcached && memcached.stop(), server && server.close()]);
	});

	const connect = () => connectSides([memcached.port, server.address('memcached').port]);

	afterEach(() => {
		if (pair) pair.forEach((side) => side.peer.close());
		pair = null;
	});

	it('answers thousands of random commands identically, pipelined and fragmented', async () => {
		const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
		const r = rng(seed);
		pair = await connect();
		let commands = 0;
		for (let round = 0; round < 150; round++) {
			const size = 10 + r.int(50);
			const pieces = makeRound(r, size);
			commands += size;
			const cuts = Array.from({ length: r.int(6) }, () => r.next()).sort();
			if (await exchange(pair, pieces, cuts, `seed ${seed} round ${round}`)) {
				pair.forEach((side) => side.peer.close());
				pair = await connect();
			}
		}
		assert.ok(commands >= 4000, `only ${commands} commands`);
	});

	it('expires items as memcached does (relative, absolute, negative, gat and touch)', async () => {
		pair = await connect();
		const now = Math.floor(Date.now() / 1000);
		const setLine = (k, exptime) => [line(`set ${k} 0 ${exptime} 2`), Buffer.from('hi\r\n')];
		const setup = [
			...setLine('rel', 2), ...setLine('abs', now + 2), ...setLine('neg', -1), ...setLine('never', 0),
			...setLine('past', now - 100), ...setLine('touched', 100), ...setLine('gatted', 100), ...setLine('kept', 2),
			line('touch touched 2'), line('gat 2 gatted'), line('touch kept 0'),
			line('get rel abs neg never past touched gatted kept'),
		];
		await exchange(pair, setup, [], 'expiry setup');
		await new Promise((resolve) => setTimeout(resolve, 3500));
		await exchange(pair, [line('get rel abs neg never past touched gatted kept'), line('add rel 0 0 1'), Buffer.from('z\r\n'), line('get rel')], [], 'after expiry');
	});

	it('matches size limits, oversized data swallowing and append past the limit', async () => {
		pair = await connect();
		const block = (n) => Buffer.alloc(n, 'v');
		const pieces = [];
		for (const [k, flags, n] of [['k', 0, 1048516], ['k', 0, 1048517], ['k', 1, 1048512], ['k', 1, 1048513], ['kkkkkkkkkk', 0, 1048507], ['kkkkkkkkkk', 0, 1048508]]) {
			pieces.push(line(`set ${k} ${flags} 0 ${n}`), block(n), Buffer.from('\r\n'), line(`gets ${k}`).subarray(0, 0));
		}
		pieces.push(line('set big 0 0 2000000'), block(2000000), Buffer.from('\r\n'), line('get big'));
		pieces.push(line('set app 0 0 1000000'), block(1000000), Buffer.from('\r\n'));
		pieces.push(line('append app 0 0 48516'), block(48516), Buffer.from('\r\n'));
		pieces.push(line('append app 0 0 100000'), block(100000), Buffer.from('\r\n'));
		pieces.push(line('set k 0 0 1'), Buffer.from('x\r\n'), line('set k 0 0 1048517'), block(1048517), Buffer.from('\r\n'), line('get k'));
		await exchange(pair, pieces, [0.1, 0.5, 0.9], 'size limits');
	});

	it('serves a multi-get larger than the output high-water mark, and long get lines', async () => {
		pair = await connect();
		const pieces = [];
		for (let i = 0; i < 40; i++) pieces.push(line(`set big${i} 0 0 100000`), Buffer.alloc(100000, 65 + (i % 26)), Buffer.from('\r\n'));
		pieces.push(line(`get ${Array.from({ length: 40 }, (_, i) => `big${i}`).join(' ')}`));
		pieces.push(line(`gets ${Array.from({ length: 600 }, (_, i) => `big${i % 45}`).join(' ')}`).subarray(0, 0));
		pieces.push(line(`get ${Array.from({ length: 2000 }, (_, i) => `nokey${i}`).join(' ')} big0`));
		await exchange(pair, pieces, [0.3], 'big multiget');
	});

	// 10,000 keys of 250 bytes, every other one stored: a 2.5 MB get line, far past 2 KiB.
	const LONG_KEYS = Array.from({ length: 10000 }, (_, i) => `${i}:`.padEnd(250, 'q'));
	const storeLongKeys = async () => {
		const sets = [];
		for (let i = 0; i < LONG_KEYS.length; i += 2) sets.push(line(`set ${LONG_KEYS[i]} ${i} 0 ${String(i).length}`), Buffer.from(`${i}\r\n`));
		await exchange(pair, sets, [0.5], 'store the long keys');
	};

	it('answers get and gets of 10,000 keys of 250 bytes (a 2.5 MB line, misses included) byte for byte', async () => {
		pair = await connect();
		await storeLongKeys();
		await exchange(pair, [line(`get ${LONG_KEYS.join(' ')}`)], [0.1, 0.3, 0.31, 0.7], '10,000-key get');
		await exchange(pair, [line(`gets ${LONG_KEYS.join(' ')}`), line('get 0:'.padEnd(254, 'q'))], [0.25, 0.5, 0.999], '10,000-key gets');
	});

	it('answers a key too long in the middle of a long get line with the error alone, and goes on', async () => {
		pair = await connect();
		await storeLongKeys();
		const keys = [...LONG_KEYS.slice(0, 5000), 'x'.repeat(251), ...LONG_KEYS.slice(5000)];
		await exchange(pair, [line(`get ${keys.join(' ')}`), line(`get ${LONG_KEYS[0]} ${LONG_KEYS[2]}`)], [0.2, 0.6], 'bad key mid-line');
		const longLast = [...LONG_KEYS.slice(0, 3000), 'y'.repeat(5000)];
		await exchange(pair, [line(`gets ${longLast.join(' ')}`), line(`get ${LONG_KEYS[4]}`)], [0.5, 0.9], 'bad key last');
	});

	it('serves a multi-MB get line fed at awkward boundaries as memcached answers it whole', async () => {
		pair = await connect();
		await storeLongKeys();
		const keys = [];
		for (let i = 0; i < 16000; i++) keys.push(LONG_KEYS[(i * 7919) % LONG_KEYS.length]);
		const bytes = Buffer.concat([line(`  gets   ${keys.join('  ')} \0 ignored`), line(`get ${LONG_KEYS[0]}`)]);
		assert.ok(bytes.length > 4e6);
		const [mc] = await Promise.all([pair[0].peer.round([bytes])]);
		const expected = normalize(mc.text, new Map());
		const sizes = [1, 2, 249, 250, 251, 252, 2049, 4093, 65536];
		let at = 0;
		let reply = '';
		for (let n = 0; at < bytes.length; n++) {
			const size = sizes[n % sizes.length];
			reply += server.engine.feed(bytes.subarray(at, at + size), { protocol: 'memcached' }).toString('latin1');
			at += size;
		}
		reply += server.engine.feed(Buffer.from('\r\nversion\r\n'), { protocol: 'memcached' }).toString('latin1');
		assert.strictEqual(normalize(reply, new Map()), expected);
		assert.ok(expected.split('VALUE ').length > 8000);
	});

	it('treats NUL bytes, bare newlines and odd spacing as memcached does', async () => {
		pair = await connect();
		const pieces = [
			line('set a 0 0 1'), Buffer.from('1\r\n'),
			Buffer.from('get a\0 b\r\n'), Buffer.from('\n'), Buffer.from('\r\n'), Buffer.from('\r\r\n'),
			Buffer.from('get a\n'), Buffer.from('   get    a   \r\n'), Buffer.from('incr a 1\r\n'),
			Buffer.from('set b 0 0 1\r\nx\n'), Buffer.from('get b\r\n'),
			Buffer.from('set z 0 0 5\r\n12\0ab\r\nincr z 1\r\nget z\r\n'), // a NUL ends the number
			Buffer.from('set m 0 0 5\r\n-1\0-9\r\nincr m 1\r\nset m 0 0 3\r\n -7\r\nincr m 1\r\n'),
		];
		await exchange(pair, pieces, [], 'odd lines');
	});

	it('hangs up on an HTTP request line, like memcached', async () => {
		pair = await connect();
		assert.strictEqual(await exchange(pair, [line('GET / HTTP/1.1'), line('get a')], [], 'http'), true);
	});

	it('hangs up on a 2 KiB line without a line end unless it is a get', async () => {
		// Written and left alone, so that each server sees 2 KiB with no line end yet.
		const outcome = async (bytes) => Promise.all([memcached.port, server.address('memcached').port].map((port) => new Promise((resolve) => {
			const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
			let received = '';
			socket.on('data', (d) => { received += d.toString('latin1'); });
			socket.on('close', () => resolve({ closed: true, received }));
			setTimeout(() => {
				socket.destroy();
				resolve({ closed: false, received });
			}, 400);
		})));
		const [mcSet, scSet] = await outcome(`set ${'k'.repeat(3000)}`);
		assert.deepStrictEqual(scSet, mcSet);
		assert.strictEqual(mcSet.closed, true);
		const [mcGet, scGet] = await outcome(`get ${'k '.repeat(1500)}`);
		assert.deepStrictEqual(scGet, mcGet);
		assert.strictEqual(mcGet.closed, false);
	});
});

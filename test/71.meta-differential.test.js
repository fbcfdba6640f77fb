// memcached's meta commands against the reference: identical byte streams go to a real memcached
// 1.6.18 and to simplecached, and every reply must be identical (cas and ttls compared by role).
'use strict';

const assert = require('assert');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { connectSides, exchangeSides: exchange } = require('./helpers/differential');
const { rng, line } = require('./helpers/sessions');
const { makeMetaRound } = require('./helpers/meta-sessions');
const { needs } = require('./helpers/references');

const L = (...lines) => lines.map(line);
const opaque = (n) => `O${'o'.repeat(n - 1)}`;

describe('meta commands: differential test against real memcached', function () {
	this.timeout(120000);
	let memcached;
	let server;
	let pair;

	before(needs('memcached'));
	// Fresh servers for each test, so that both number their cas uniques alike from the start.
	beforeEach(async () => {
		// Without LRU threads memcached takes no item references at random moments (see 70.*).
		[memcached, server] = await Promise.all([startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']), startServer({ port: false, memcachedPort: 0 })]);
	});
	afterEach(async () => {
		if (pair) pair.forEach((side) => side.peer.close());
		pair = null;
		await Promise.all([memcached && memcached.stop(), server && server.close()]);
	});

	const connect = () => connectSides([memcached.port, server.address('memcached').port]);

	// Each case on its own connection, the servers' state carried from one case to the next.
	async function cases(list) {
		for (const [label, lines] of list) {
			pair = await connect();
			await exchange(pair, lines.map((l) => [l]), [], label);
			pair.forEach((side) => side.peer.close());
			pair = null;
		}
	}

	it('answers random pipelined, fragmented sessions of meta and classic commands identically', async () => {
		const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
		const r = rng(seed);
		pair = await connect();
		let commands = 0;
		for (let round = 0; round < 120; round++) {
			const size = 10 + r.int(40);
			const pieces = makeMetaRound(r, size);
			commands += size;
			const cuts = Array.from({ length: r.int(6) }, () => r.next()).sort();
			try {
				if (await exchange(pair, pieces, cuts, `seed ${seed} round ${round}`)) {
					pair.forEach((side) => side.peer.close());
					pair = await connect();
				}
			} catch (err) {
				err.message = `SEED=${seed} replays this: ${err.message}`;
				throw err;
			}
		}
		assert.ok(commands >= 2500, `only ${commands} commands`);
	});

	it('gives every error line memcached gives', async () => {
		await cases([
			['dispatch', L('mn', 'mn x y', 'mx a', 'mgg a', 'mg', 'ms', 'md', 'ma', 'me', 'm a')],
			['too many flags', L(`mg a ${'v '.repeat(17)}`, `mg a ${'v '.repeat(18)}`, `ms a 1 ${'v '.repeat(17)}`, `md a ${'q '.repeat(18)}`, `ma a ${'q '.repeat(18)}`, `mg a ${'v '.repeat(30)}`)],
			['key too long', L(`mg ${'k'.repeat(250)} v`, `mg ${'k'.repeat(251)} v`, `md ${'k'.repeat(251)}`, `ma ${'k'.repeat(251)}`, `me ${'k'.repeat(251)}`, `ms ${'k'.repeat(251)} 1`, 'x')],
			['flags', L('mg a x', 'mg a v v', 'mg a \x80', 'mg a E', 'mg a T', 'mg a Tx', 'mg a N', 'mg a Rx', 'mg a Fx Tx', 'mg a Tx Dx', 'mg a Dx Tx',
				'mg a Jx', 'mg a Cx', 'mg a M', 'mg a MEE', 'md a x', 'md a q q', 'md a Cx', 'ma a x', 'ma a Dx', 'ma a Mx', 'ma a Jx', 'ma a M')],
			['base64 keys', L('mg A=== b', 'mg ==== b', 'mg Zm9vYg b', 'md !! b', 'ma !! b', 'me !! b', 'me YQ== b', 'ms !! 1 b', 'x', 'mg YQ b k', 'mg Y=Q= b k', 'mg *YQ== b k', 'mg YQ==YQ== b k')],
			['opaque', L(`mg a ${opaque(32)}`, `mg a ${opaque(33)}`, 'ms a 1', 'x', `mg a v ${opaque(33)}`, `mg a ${opaque(33)} v`, `md nokey ${opaque(33)}`,
				`ma nokey ${opaque(33)}`, `ma n N0 ${opaque(33)}`, `ms a 1 ${opaque(33)}`, 'x', `ms a 1 ${opaque(33)} MX`, 'x', 'mg a v', 'mg n v')],
			['ms line', L('ms a', 'ms a x', 'ms a -1', 'ms a 2147483646 x', 'ms a 1 Tx', 'x', 'ms a 1 F-1', 'x', 'ms a 1 Fx', 'x', 'ms a 1 Cx', 'x', 'ms a 1 MX', 'x',
				'ms a 1 Mss', 'x', 'ms a 1 S', 'x', 'ms a 1 E', 'x', 'ms a 1 I', 'x', 'ms a 1 v', 'x', 'ms a 1 x', 'x', 'mg a v')],
			['data chunks', L('ms a 3', 'abcde', 'mg a v', 'ms a 3 q', 'abcde', 'ms a 3 q', 'abc', 'mg a v q', 'ms a 0', '', 'mg a v s', 'ms a 1 noreply', 'x', 'mg a v')],
			['non-numeric', L('ms s 2', 'ab', 'ma s', 'ms s 0', '', 'ma s', 'ma s C1', 'ma s q', 'mg s v')],
			['too large', L('ms big 1048576', 'x'.repeat(1048576), 'mg big s', 'ms big 1 T0', 'x', 'ms big 2000000 MA', 'x'.repeat(2000000), 'mg big s', 'ms big 1048577 q', 'x'.repeat(1048577), 'mg big')],
			['stats', L('stats reset', 'mg nokey', 'mg nokey T10', 'ms k 1', 'x', 'mg k', 'mg k T10', 'md k C1', 'md k', 'md k', 'ma nokey', 'ma nokey MD', 'ms n 1', '5',
				'ma n', 'ma n MD', 'ma n C1', 'ms k 1 C1', 'x', 'ms k 1 MR C1', 'x', 'ms k 1', 'x', 'mg k c')],
		]);
		// The counters the classic commands keep, compared after the commands above.
		pair = await connect();
		const results = await Promise.all(pair.map((side) => side.peer.round([line('stats')])));
		const pick = (text) => text.split('\r\n').filter((l) => /^STAT (cmd_get|cmd_set|cmd_touch|get_|delete_|incr_|decr_|cas_|touch_|store_too)/.test(l) && !/get_(expired|flushed)/.test(l)).join('\n');
		assert.strictEqual(pick(results[1].text), pick(results[0].text), 'stats counters');
	});

	it('matches quiet mode, modes, cas compare, invalidation and recache tokens', async () => {
		await cases([
			['quiet', L('mg q1 q', 'mg q2 q k O1', 'md q3 q', 'ma q4 q', 'mn', 'ms q1 1 q', 'x', 'mg q1 q v', 'ma q1 q', 'ms q5 1 q MR', 'x', 'md q1 q', 'md q1 q', 'mn')],
			['modes', L('ms c 2 MA', 'xy', 'ms c 2 MP', 'xy', 'ms c 2 MR', 'xy', 'ms c 2 MS', 'xy', 'ms c 2 MA', '12', 'ms c 2 MP', '34', 'ms c 2 ME', 'zz', 'mg c v', 'ms c 2 Ms', 'ab')],
			['cas', L('ms d 1 C1', 'x', 'ms d 1 c k', 'x', 'mg d c', 'ms d 1 C999 c', 'y', 'ms d 1 C0 c', 'y', 'ms d 1 MR C0', 'y', 'ms d 1 MA C0', 'z', 'mg d v', 'ms d 1 MA C5', 'z', 'ms nod 1 MA C5', 'z', 'ms d 1 ME C5', 'z')],
			['invalidate', L('ms s 3 I', 'abc', 'mg s c', 'md s I q', 'mg s c v t', 'mg s', 'mg s', 'ms s 3 I C1 c', 'new', 'mg s v c', 'ms s 3 I C1000 c', 'new', 'ms s 3 C1 c', 'new', 'mg s v', 'md s I T-1', 'mg s v', 'mg s')],
			['recache', L('mg j N30 v c t s', 'mg j v c t s', 'mg j R10', 'mg j R9999 t', 'ms j 1 T100', 'x', 'mg j R10', 'mg j R200', 'mg j R200', 'mg j v', 'mg j T-1 t', 'mg j')],
			['hit before', L('ms u 2', 'ab', 'mg u u h', 'mg u h', 'mg u h', 'ms u 2', 'ab', 'get u', 'mg u h', 'ms u 2', 'ab', 'touch u 0', 'mg u h', 'ms u 2', 'ab', 'gat 0 u', 'mg u h u')],
			['arithmetic', L('ma h', 'ma h N0 J10', 'ma h v', 'ma h MD D3 v', 'ma h M- D100 v', 'ma h M+ v', 'ma h c t v k O1', 'ma hh N0 J5 q v T100 t', 'mg hh t v', 'ma bjE= b N0 k v')],
			['binary keys', L('ms YQ== 1 b k c', 'x', 'mg YQ== b v k', 'mg a v k', 'mg YQ== b k s', 'md YQ== b k q', 'mg a', 'set a 0 0 1', 'y', 'mg YQ== b k', 'me YQ== b', 'me a')],
			// A result longer than the stored number makes memcached a new item, answered from the old
			// one: T then changes what t shows but not what is stored (found by SEED=444780757).
			['ttl of a grown number', L('set g 0 0 2', '11', 'ma g T100 D100 t c', 'mg g t v', 'set g 0 0 3', '111', 'ma g t T100 D1 t', 'mg g t v', 'ma g N0 T50 D1000 v t', 'mg g t')],
			['ttl', L('ms o 1 T-1', 'x', 'mg o v', 'ms o 1 T0', 'x', 'mg o t', 'mg o T0 t', 'ms z 1 T2592000 t', 'x', 'mg z t', 'ms z 1 T99999999999', 'x', 'mg z')],
		]);
	});
});

// Engine shared by worker threads: one store read and written from every thread and the network
// at once, the same answers as the protocol, and released by the last of its users.
'use strict';

const assert = require('assert');
const path = require('path');
const { Worker } = require('worker_threads');
const { Engine, Client } = require('..');
// storeUsers(handle): one store's users, which only this test's threads change. (The count of
// stores alive would also move as the garbage collector frees other tests' Engines.)
const { storeUsers } = require('../lib/engine');
const { startServer, waitFor } = require('./helpers/server');

const ROOT = path.join(__dirname, '..');

// A worker running body(Engine, workerData, parentPort); its messages queue up and its exit is
// listened for at once (Node may emit a worker's last messages and 'exit' in one go).
function spawn(body, workerData) {
	const code = `const { Engine } = require(${JSON.stringify(ROOT)});
		const { workerData, parentPort } = require('worker_threads');
		(${body})(Engine, workerData, parentPort);`;
	const worker = new Worker(code, { eval: true, workerData });
	const queue = [];
	const waiting = [];
	worker.on('message', (m) => (waiting.length ? waiting.shift()(m) : queue.push(m)));
	let failure = null;
	worker.on('error', (err) => { failure = err; });
	const exited = new Promise((resolve) => worker.on('exit', (code) => resolve(code)));
	return {
		worker,
		exited: exited.then((code) => { if (failure) throw failure; return code; }),
		next: () => (queue.length ? Promise.resolve(queue.shift())
			: Promise.race([new Promise((resolve) => waiting.push(resolve)), exited.then(() => { throw failure || new Error('worker exited'); })])),
	};
}

describe('engine shared: one store for every thread', function () {
	this.timeout(60000);

	it('a worker writes; the main thread, another worker and the network Client read it', async () => {
		const engine = new Engine({ encoding: 'utf8' });
		const server = await startServer({ engine, port: false, memcachedPort: 0 });
		const client = new Client({ port: server.address('memcached').port, protocol: 'memcached' });
		try {
			const writer = spawn((E, data, port) => {
				const e = E.attach(data.handle);
				e.set('from-worker', 'hello', { flags: 7, ttl: 1000 });
				e.set('counter', '10');
				port.postMessage('written');
			}, { handle: engine.handle() });
			assert.strictEqual(await writer.next(), 'written');
			assert.strictEqual(await writer.exited, 0);
			assert.strictEqual(engine.get('from-worker'), 'hello');
			assert.strictEqual(engine.gets('from-worker').flags, 7);
			const reader = spawn((E, data, port) => {
				const e = E.attach(data.handle, { encoding: 'utf8' });
				port.postMessage([e.get('from-worker'), e.incr('counter', 5)]);
			}, { handle: engine.handle() });
			assert.deepStrictEqual(await reader.next(), ['hello', 15]);
			assert.strictEqual(await reader.exited, 0);
			assert.strictEqual((await client.get('from-worker')).toString(), 'hello');
			assert.strictEqual((await client.get('counter')).toString(), '15');
			// And the other way: what the network writes, every thread reads.
			await client.set('from-network', 'net');
			assert.strictEqual(engine.get('from-network'), 'net');
			// Counts from every thread add up in one "stats".
			assert.ok(engine.stats().get_hits >= 4);
		} finally {
			await client.close();
			await server.close();
			engine.close();
		}
	});

	it('answers as the protocol does: TTL rules, limits, cas, incr/decr (differential against feed())', () => {
		const api = new Engine({ maxItemSize: 1024, encoding: 'latin1' });
		const wire = new Engine({ maxItemSize: 1024 });
		const now = Math.floor(Date.now() / 1000);
		const big = 'x'.repeat(1000);
		// [api call, protocol text]; each result is compared as the protocol's reply would read.
		const steps = [
			['set', 'a', '1', { ttl: 0, flags: 3 }], ['set', 'neg', 'v', { ttl: -1 }], ['set', 'past', 'v', { ttl: now - 100 }],
			['set', 'future', 'v', { ttl: now + 1000 }], ['set', 'rel', 'v', { ttl: 1000 }], ['set', 'thirty', 'v', { ttl: 2592000 }],
			['set', 'thirty1', 'v', { ttl: 2592001 }],
			['add', 'a', '2'], ['add', 'b', '2'], ['replace', 'zz', '3'], ['replace', 'b', 'bb'],
			['append', 'b', '+'], ['prepend', 'b', '-'], ['append', 'zz', 'x'],
			['incr', 'a', 41], ['decr', 'a', 100], ['incr', 'a', 1], ['incr', 'b', 1], ['incr', 'nope', 1],
			['set', 'max', '18446744073709551615'], ['incr', 'max', 2], ['decr', 'max', 1],
			['set', 'huge', 'old'], ['set', 'huge', big], ['append', 'rel', big],
			['touch', 'rel', -1], ['touch', 'nope', 10], ['delete', 'b'], ['delete', 'b'],
			['cas', 'a', 'swapped', 'A'], ['cas', 'a', 'again', 'A'], ['cas', 'nope', 'x', 1],
		];
		const keys = ['a', 'b', 'neg', 'past', 'future', 'rel', 'thirty', 'thirty1', 'zz', 'max', 'huge', 'nope'];
		const replyOf = (fn) => {
			try {
				const r = fn();
				if (r === true) return 'ok';
				if (r === false) return 'no';
				if (r === null) return 'miss';
				return String(r);
			} catch (err) {
				return err.reply || err.message;
			}
		};
		const wireReply = (text) => {
			const line = wire.feed(text, { protocol: 'memcached' }).toString().replace(/\r\n$/, '');
			if (/^(STORED|DELETED|TOUCHED)$/.test(line)) return 'ok';
			if (/^(NOT_STORED|EXISTS)$/.test(line)) return 'no';
			if (line === 'NOT_FOUND') return /^(incr|decr|touch) /.test(text) ? (text.startsWith('touch') ? 'no' : 'miss') : 'no';
			return line;
		};
		const uniques = {};
		for (const [op, key, ...args] of steps) {
			let expected;
			let actual;
			if (op === 'incr' || op === 'decr' || op === 'touch' || op === 'delete') {
				expected = wireReply(`${op} ${key}${args.length ? ` ${args[0]}` : ''}\r\n`);
				actual = replyOf(() => api[op](key, ...args));
			} else {
				const value = args[0];
				const opts = op === 'cas' ? {} : args[1] || {};
				let cas = '';
				if (op === 'cas') {
					if (args[1] === 'A') uniques.A = uniques.A || api.gets(key).cas;
					cas = ` ${args[1] === 'A' ? uniques.A : args[1]}`;
					wire.feed(`gets ${key}\r\n`, { protocol: 'memcached' }); // the same reads on both sides
				}
				expected = wireReply(`${op} ${key} ${opts.flags || 0} ${opts.ttl || 0} ${Buffer.byteLength(value)}${cas}\r\n${value}\r\n`);
				actual = replyOf(() => (op === 'cas' ? api.cas(key, value, args[1] === 'A' ? uniques.A : args[1]) : api[op](key, value, opts)));
			}
			assert.strictEqual(actual, expected, `${op} ${key} ${JSON.stringify(args)}`);
		}
		// The stores end alike, cas uniques included: gets over the protocol on both.
		const listing = (e) => e.feed(`gets ${keys.join(' ')}\r\n`, { protocol: 'memcached' }).toString();
		assert.strictEqual(listing(api), listing(wire));
		assert.match(listing(api), /^VALUE a 0 7 \d+\r\nswapped\r\nVALUE future 0 1 \d+\r\nv\r\nVALUE thirty 0 1 \d+\r\nv\r\nVALUE max 0 20 /);
		for (const e of [api, wire]) e.close();
	});

	it('releases a store only when its last user is gone: Engines in any thread, and a Server', async () => {
		const engine = new Engine();
		engine.set('k', 'v');
		const handle = engine.handle();
		const own = storeUsers(handle);
		assert.ok(own >= 1, `${own} users`);
		const worker = spawn((E, data, port) => {
			const e = E.attach(data.handle);
			port.postMessage('attached');
			port.once('message', () => port.postMessage(String(e.get('k'))));
		}, { handle });
		assert.strictEqual(await worker.next(), 'attached');
		engine.close();
		assert.throws(() => engine.get('k'), (err) => err.code === 'ERR_ENGINE_CLOSED');
		assert.ok(storeUsers(handle) >= 1, 'the worker still holds it');
		worker.worker.postMessage('read');
		assert.strictEqual(await worker.next(), 'v');
		assert.strictEqual(await worker.exited, 0);
		await waitFor(() => storeUsers(handle) === 0, { what: 'the store freed once the worker ended' });
		assert.throws(() => Engine.attach(handle), (err) => err.code === 'ERR_ENGINE_GONE');
		assert.throws(() => Engine.attach(123456789n), (err) => err.code === 'ERR_ENGINE_GONE');
		// A Server keeps the store it serves until it has closed.
		const served = new Engine();
		const servedHandle = served.handle();
		const server = await startServer({ engine: served, port: 0 });
		served.close();
		assert.ok(storeUsers(servedHandle) >= 1, 'the Server still holds it');
		await server.close();
		assert.strictEqual(storeUsers(servedHandle), 0);
	});

	it('workers terminated in the middle of their operations leave the store consistent and released', async () => {
		const engine = new Engine({ memoryLimit: 4 << 20, maxItemSize: 64 << 10 });
		const handle = engine.handle();
		const own = storeUsers(handle);
		for (let round = 0; round < 6; round++) {
			const worker = spawn((E, data, port) => {
				const e = E.attach(data.handle);
				port.postMessage('running');
				for (let i = 0; ; i++) {
					const key = `t${i % 64}`;
					e.set(key, `${key}=${'y'.repeat(i % 3000)}`);
					e.get(key);
					e.getOrSet(`g${i % 4}`, 0, (k) => `${k}=${'z'.repeat(100)}`);
					if (i % 7 === 0) e.delete(`g${i % 4}`);
				}
			}, { handle });
			assert.strictEqual(await worker.next(), 'running');
			const before = engine.stats().cmd_set;
			await waitFor(() => engine.stats().cmd_set > before + 100, { what: 'the worker setting' });
			await worker.worker.terminate();
			await worker.exited;
		}
		await waitFor(() => storeUsers(handle) === own, { what: 'every terminated worker releasing the store' });
		// Every item is whole, and no lease was left behind: a long wait would time the test out.
		for (let i = 0; i < 64; i++) {
			const value = engine.get(`t${i}`, { encoding: 'utf8' });
			if (value !== null) assert.match(value, new RegExp(`^t${i}=y*$`));
		}
		for (let i = 0; i < 4; i++) {
			assert.match(engine.getOrSet(`g${i}`, 0, (k) => `${k}=main`, { wait: 120000, encoding: 'utf8' }), new RegExp(`^g${i}=`));
		}
		const items = engine.stats().curr_items;
		const present = Array.from({ length: 64 }, (_, i) => `t${i}`).concat(['g0', 'g1', 'g2', 'g3']).filter((k) => engine.has(k)).length;
		assert.strictEqual(items, present);
		engine.close();
		assert.strictEqual(storeUsers(handle), 0);
	});

	it('getOrSet computes a missing key once while other threads wait for it', async () => {
		const engine = new Engine({ encoding: 'utf8' });
		const shared = new Int32Array(new SharedArrayBuffer(12)); // [computes, arrived, go]
		const handle = engine.handle();
		const computer = spawn((E, data, port) => {
			const e = E.attach(data.handle, { encoding: 'utf8' });
			const s = data.shared;
			const v = e.getOrSet('sf', 100, () => {
				Atomics.add(s, 0, 1);
				port.postMessage('computing');
				while (Atomics.load(s, 1) < 2) Atomics.wait(s, 1, Atomics.load(s, 1), 50);
				return 'computed once';
			});
			port.postMessage(v);
		}, { handle, shared });
		assert.strictEqual(await computer.next(), 'computing');
		const other = spawn((E, data, port) => {
			const e = E.attach(data.handle, { encoding: 'utf8' });
			const s = data.shared;
			port.postMessage('ready');
			while (Atomics.load(s, 2) === 0) Atomics.wait(s, 2, 0, 50);
			Atomics.add(s, 1, 1);
			Atomics.notify(s, 1);
			port.postMessage(e.getOrSet('sf', 100, () => { Atomics.add(s, 0, 1); return 'computed twice'; }, { wait: 60000 }));
		}, { handle, shared });
		assert.strictEqual(await other.next(), 'ready');
		Atomics.store(shared, 2, 1);
		Atomics.notify(shared, 2);
		Atomics.add(shared, 1, 1);
		Atomics.notify(shared, 1);
		const mine = engine.getOrSet('sf', 100, () => { Atomics.add(shared, 0, 1); return 'computed by main'; }, { wait: 60000 });
		assert.strictEqual(mine, 'computed once');
		assert.strictEqual(await computer.next(), 'computed once');
		assert.strictEqual(await other.next(), 'computed once');
		assert.strictEqual(Atomics.load(shared, 0), 1);
		await Promise.all([computer.exited, other.exited]);
		engine.close();
	});

	it('getOrSet: two computes that each need the other\'s key finish without waiting on each other', async function () {
		this.timeout(30000); // shorter than their 60 s wait
		const engine = new Engine();
		const shared = new Int32Array(new SharedArrayBuffer(4));
		const body = (E, data, port) => {
			const e = E.attach(data.handle, { encoding: 'utf8' });
			const s = data.shared;
			port.postMessage(e.getOrSet(data.mine, 0, () => {
				Atomics.add(s, 0, 1);
				Atomics.notify(s, 0);
				while (Atomics.load(s, 0) < 2) Atomics.wait(s, 0, 1, 50);
				return `${data.mine}+${e.getOrSet(data.theirs, 0, () => 'inner', { wait: 60000 })}`;
			}, { wait: 60000 }));
		};
		const a = spawn(body, { handle: engine.handle(), shared, mine: 'x', theirs: 'y' });
		const b = spawn(body, { handle: engine.handle(), shared, mine: 'y', theirs: 'x' });
		// Each got its own key's value (the inner one is the other's, or its own compute's if it
		// came first); a compute waiting on the other's would have hung past the test's timeout.
		const results = [await a.next(), await b.next()];
		assert.match(results[0], /^x\+(y\+)?inner$/);
		assert.match(results[1], /^y\+(x\+)?inner$/);
		await Promise.all([a.exited, b.exited]);
		engine.close();
	});

	it('4 threads hammering the same keys: counters add up, the store stays whole', async () => {
		const engine = new Engine({ encoding: 'utf8' });
		const handle = engine.handle();
		const own = storeUsers(handle);
		engine.set('sum', '0');
		const ROUNDS = 2000;
		const workers = [0, 1, 2, 3].map((n) => spawn((E, data, port) => {
			const e = E.attach(data.handle, { encoding: 'utf8' });
			for (let i = 0; i < data.rounds; i++) {
				const key = `h${i % 8}`;
				e.incr('sum', 1);
				e.set(key, `${key}:${data.n}:${i}`, { ttl: 100 });
				const v = e.get(key);
				if (v !== null && !/^h\d:\d:\d+$/.test(v)) throw new Error(`torn value ${v}`);
				if (i % 5 === 0) e.append(key, '');
				if (i % 11 === 0) e.delete(key);
				if (i % 13 === 0) e.touch(key, 50);
				e.getOrSet(`o${i % 3}`, 0, () => `o:${data.n}`);
			}
			port.postMessage('done');
		}, { handle, n, rounds: ROUNDS }));
		for (const w of workers) assert.strictEqual(await w.next(), 'done');
		await Promise.all(workers.map((w) => w.exited));
		assert.strictEqual(engine.get('sum'), String(4 * ROUNDS));
		await waitFor(() => storeUsers(handle) === own, { what: 'the workers releasing the store' });
		engine.close();
		assert.strictEqual(storeUsers(handle), 0);
	});
});

// Native I/O threads (threads > 1): the same answers as memcached, many clients over both protocols
// on one sharded store, counters summed over threads, and every thread joined on close.
'use strict';

const assert = require('assert');
const { Worker } = require('worker_threads');
const { Client } = require('..');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { Peer, normalize, firstDifference } = require('./helpers/differential');
const { rng, makeRound, render, line, KEYS } = require('./helpers/sessions');
const { needs } = require('./helpers/references');

describe('threads: native I/O threads on one sharded store', function () {
	this.timeout(60000);

	it('answers random sessions on several connections exactly as memcached does', async function () {
		needs('memcached').call(this);
		const memcached = await startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']);
		const server = await startServer({ port: false, memcachedPort: 0, threads: 3 });
		try {
			// Connections land on different threads; each keeps its own session with both servers.
			const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
			await Promise.all([0, 1, 2, 3].map(async (n) => {
				const r = rng(seed + n);
				const sides = [memcached.port, server.address('memcached').port].map((port) => ({ peer: new Peer(port), roles: new Map(), cas: new Map() }));
				await Promise.all(sides.map((side) => side.peer.connect()));
				// Each connection works on its own keys, so the sessions do not depend on each other.
				for (let round = 0; round < 20; round++) {
					const commands = makeRound(r, 10 + r.int(30), `c${n}/`)
						.filter((c) => !c.some((p) => Buffer.isBuffer(p) && /^flush_all/.test(p.toString('latin1'))));
					const results = await Promise.all(sides.map((side) => side.peer.round(render(commands, side.cas, []))));
					const [expected, actual] = results.map((res, i) => normalize(res.text, sides[i].roles, (k, cas) => sides[i].cas.set(k, cas)));
					assert.strictEqual(actual, expected, `seed ${seed} conn ${n} round ${round}: ${firstDifference(expected, actual)}`);
					if (results[0].closed || results[1].closed) break;
				}
				sides.forEach((side) => side.peer.close());
			}));
		} finally {
			await Promise.all([memcached.stop(), server.close()]);
		}
	});

	it('ends with the same store contents as memcached after 24 connections over 4 threads', async function () {
		needs('memcached').call(this);
		const memcached = await startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']);
		const server = await startServer({ port: false, memcachedPort: 0, threads: 4 });
		const ports = [memcached.port, server.address('memcached').port];
		const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
		const CONNECTIONS = 24;
		const SHARED = ['shared-0', 'shared-1', 'shared-2'];
		try {
			const setup = ports.map((port) => new Peer(port));
			await Promise.all(setup.map((p) => p.connect()));
			await Promise.all(setup.map((p) => p.round(SHARED.map((k) => line(`set ${k} 0 0 1\r\n0`)))));
			// Each connection runs random sessions on its own keys, and increments shared counters
			// (noreply: their replies would depend on the interleaving, the final sums do not).
			await Promise.all(Array.from({ length: CONNECTIONS }, async (_, n) => {
				const r = rng(seed + n);
				const peers = ports.map((port) => new Peer(port));
				await Promise.all(peers.map((p) => p.connect()));
				const casMaps = [new Map(), new Map()];
				const roles = [new Map(), new Map()];
				for (let round = 0; round < 8; round++) {
					const commands = makeRound(r, 10 + r.int(20), `c${n}/`)
						.filter((c) => !c.some((p) => Buffer.isBuffer(p) && /^flush_all/.test(p.toString('latin1'))));
					commands.push([line(`incr ${r.pick(SHARED)} ${1 + r.int(9)} noreply`)]);
					const results = await Promise.all(peers.map((p, i) => p.round(render(commands, casMaps[i], []))));
					results.forEach((res, i) => normalize(res.text, roles[i], (k, cas) => casMaps[i].set(k, cas)));
					if (results.some((res) => res.closed)) break;
				}
				peers.forEach((p) => p.close());
			}));
			// Then every key any connection could have written is read back from both.
			const keys = [...SHARED, ...Array.from({ length: CONNECTIONS }, (_, n) => KEYS.map((k) => `c${n}/${k}`)).flat()]
				.filter((k) => k.length <= 250 && !/[\s\x00-\x1f]/.test(k));
			const contents = await Promise.all(setup.map((p) => p.round(keys.map((k) => line(`get ${k}`)))));
			setup.forEach((p) => p.close());
			const [expected, actual] = contents.map((c) => c.text);
			assert.ok(expected.split('VALUE ').length > CONNECTIONS, 'the sessions stored almost nothing');
			assert.strictEqual(actual, expected, `seed ${seed}: ${firstDifference(expected, actual)}`);
		} finally {
			await Promise.all([memcached.stop(), server.close()]);
		}
	});

	it('serves 100 clients on both protocols and sums the counters of every thread', async () => {
		const server = await startServer({ memcachedPort: 0, threads: 2 });
		const clients = Array.from({ length: 100 }, (_, i) => (i % 2
			? new Client(server.address('simple').port)
			: new Client({ port: server.address('memcached').port, protocol: 'memcached' })));
		await Promise.all(clients.map(async (client, i) => {
			for (let j = 0; j < 50; j++) {
				assert.strictEqual(await client.set(`c${i}:${j}`, `v${i}.${j}`), true);
				assert.strictEqual(await client.get(`c${i}:${j}`), `v${i}.${j}`);
			}
			// A key written on one connection is read on another, whichever thread serves it.
			assert.strictEqual(await clients[(i + 1) % clients.length].get(`c${i}:0`), `v${i}.0`);
		}));
		const stats = server.stats();
		assert.strictEqual(stats.sets, 100 * 50);
		assert.strictEqual(stats.gets, 100 * 51);
		assert.strictEqual(stats.hits, 100 * 51);
		assert.strictEqual(stats.items, 100 * 50);
		assert.strictEqual(stats.connections, 100);
		assert.strictEqual(stats.totalConnections, 100);
		assert.strictEqual(stats.threads, 2, 'stats threads counts the I/O threads');
		await Promise.all(clients.map((client) => client.close()));
		await server.close();
		assert.strictEqual(server.stats().connections, 0);
	});

	it('closes under load: pending replies are sent, every thread is joined', async () => {
		const server = await startServer({ threads: 4 });
		const clients = Array.from({ length: 8 }, () => new Client(server.address().port));
		const pending = clients.flatMap((client, i) => Array.from({ length: 500 }, (_, j) => client.set(`k${i}:${j}`, 'x'.repeat(100)).then(() => 'ok', (err) => err.code)));
		await new Promise((resolve) => setImmediate(resolve));
		await server.close();
		const outcomes = await Promise.all(pending);
		// Whatever reached the server was answered; the rest failed with an error, none hung.
		assert.ok(outcomes.every((o) => o === 'ok' || typeof o === 'string'), String(outcomes.find((o) => o !== 'ok')));
		await Promise.all(clients.map((client) => client.close()));
	});

	it('runs with threads inside a worker thread that then exits cleanly', async () => {
		const code = `
			const { parentPort } = require('worker_threads');
			const { Server, Client } = require(${JSON.stringify(require.resolve('..'))});
			const server = new Server({ port: 0, threads: 2 }, async () => {
				const client = new Client(server.address().port);
				await client.set('w', 'from a worker');
				parentPort.postMessage(await client.get('w'));
				await client.close();
				await server.close();
			});`;
		const worker = new Worker(code, { eval: true });
		// Both listeners go on first: a worker that exits soon after posting has its last messages
		// drained and 'exit' emitted in one go, before an await on the message could add one.
		const exited = new Promise((resolve) => worker.once('exit', resolve));
		const message = await new Promise((resolve, reject) => {
			worker.once('message', resolve);
			worker.once('error', reject);
		});
		assert.strictEqual(message, 'from a worker');
		assert.strictEqual(await exited, 0);
	});

	it('closes its threads when a worker is terminated with the server still open', async () => {
		const code = `
			const { parentPort } = require('worker_threads');
			const { Server } = require(${JSON.stringify(require.resolve('..'))});
			const server = new Server({ port: 0, threads: 2 }, () => parentPort.postMessage(server.address().port));`;
		const worker = new Worker(code, { eval: true });
		const port = await new Promise((resolve) => worker.once('message', resolve));
		const client = new Client(port);
		assert.strictEqual(await client.set('t', '1'), true);
		await worker.terminate();
		await assert.rejects(client.get('t'));
	});
});

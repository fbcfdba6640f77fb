// bench/engine.js - `npm run bench -- --only engine`: the in-process Engine against lru-cache, a Map
// and our Client to a local server (ns/op of get hits, misses and sets, 32 B and 1 KiB values, the
// same run), the Engine from 2 workers at once, and RSS of one shared store vs 4 lru-caches.
'use strict';

const { spawn, spawnSync } = require('child_process');
const path = require('path');
const v8 = require('v8');
const { Worker, isMainThread, workerData, parentPort } = require('worker_threads');
const { LRUCache } = require('lru-cache');
const { Engine, Client } = require('..');
const { freePort, canConnect, sleep } = require('./servers');

const KEYS = 10000;
const SIZES = [32, 1024];
const RSS_ITEMS = 200000;
const RSS_VALUE = 100;
const RSS_THREADS = 4;

function keyList(prefix, n) {
	return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

// Calls op(i) for `ms` milliseconds (in batches, so the clock is read rarely); ns per call.
function timeLoop(op, ms) {
	const deadline = process.hrtime.bigint() + BigInt(ms) * 1000000n;
	const start = process.hrtime.bigint();
	let n = 0;
	let now = start;
	while (now < deadline) {
		for (let j = 0; j < 1000; j++, n++) op(n);
		now = process.hrtime.bigint();
	}
	return { nsPerOp: Number(now - start) / n, ops: n };
}

// The synchronous caches, all holding strings, each answering the same three operations.
function syncTargets(size) {
	const value = 'v'.repeat(size);
	const engine = new Engine({ memoryLimit: 256 << 20, encoding: 'utf8' });
	const engineBuf = Engine.attach(engine.handle()); // Buffers out, from the same store
	const lru = new LRUCache({ max: KEYS * 2 });
	const map = new Map();
	return [
		{ label: 'Engine (main, strings)', get: (k) => engine.get(k), set: (k) => engine.set(k, value) },
		{ label: 'Engine (main, Buffers)', get: (k) => engineBuf.get(k), set: (k) => engineBuf.set(k, value) },
		{ label: 'lru-cache', get: (k) => lru.get(k), set: (k) => lru.set(k, value) },
		{ label: 'Map', get: (k) => map.get(k), set: (k) => map.set(k, value) },
	];
}

function measureSync(target, ms) {
	const hits = keyList('k', KEYS);
	const misses = keyList('missing', KEYS);
	const set = timeLoop((i) => target.set(hits[i % KEYS]), ms);
	const hit = timeLoop((i) => target.get(hits[i % KEYS]), ms);
	const miss = timeLoop((i) => target.get(misses[i % KEYS]), ms);
	return { hit: hit.nsPerOp, miss: miss.nsPerOp, set: set.nsPerOp };
}

// Threads running the same loops on one store at once, started together: aggregate ops/s.
async function measureWorkers(threads, size, ms) {
	const engine = new Engine({ memoryLimit: 256 << 20, encoding: 'utf8' });
	const value = 'v'.repeat(size);
	for (const k of keyList('k', KEYS)) engine.set(k, value);
	const result = {};
	for (const op of ['hit', 'miss', 'set']) {
		const gate = new Int32Array(new SharedArrayBuffer(4));
		const workers = Array.from({ length: threads }, () => new Worker(__filename, { workerData: { handle: engine.handle(), op, size, ms, gate } }));
		const done = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
		await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
		await sleep(50); // let them reach the gate
		Atomics.store(gate, 0, 1);
		Atomics.notify(gate, 0);
		const runs = await Promise.all(done);
		result[op] = { perThreadNs: runs.reduce((a, r) => a + r.nsPerOp, 0) / runs.length, opsPerSec: runs.reduce((a, r) => a + 1e9 / r.nsPerOp, 0) };
		await Promise.all(workers.map((w) => w.terminate()));
	}
	engine.close();
	return result;
}

function workerMain() {
	const engine = Engine.attach(workerData.handle, { encoding: 'utf8' });
	const value = 'v'.repeat(workerData.size);
	const keys = keyList(workerData.op === 'miss' ? 'missing' : 'k', KEYS);
	while (Atomics.load(workerData.gate, 0) === 0) Atomics.wait(workerData.gate, 0, 0);
	const op = workerData.op === 'set' ? (i) => engine.set(keys[i % KEYS], value) : (i) => engine.get(keys[i % KEYS]);
	parentPort.postMessage(timeLoop(op, workerData.ms));
}

// Our Client to a server in another process (memcached protocol): 100 requests in flight.
async function measureClient(size, ms) {
	const port = await freePort();
	const server = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'server.js'), '-p', 'off', '--memcached-port', String(port), '-m', '256'], { stdio: 'ignore' });
	try {
		for (let i = 0; i < 200 && !(await canConnect(port)); i++) await sleep(25);
		const client = new Client({ port, protocol: 'memcached' });
		const value = 'v'.repeat(size);
		const hits = keyList('k', KEYS);
		const misses = keyList('missing', KEYS);
		const run = async (op) => {
			const start = process.hrtime.bigint();
			const deadline = start + BigInt(ms) * 1000000n;
			let n = 0;
			while (process.hrtime.bigint() < deadline) {
				const batch = [];
				for (let j = 0; j < 100; j++, n++) batch.push(op(n));
				await Promise.all(batch);
			}
			return Number(process.hrtime.bigint() - start) / n;
		};
		const set = await run((i) => client.set(hits[i % KEYS], value));
		const hit = await run((i) => client.get(hits[i % KEYS]));
		const miss = await run((i) => client.get(misses[i % KEYS]));
		await client.close();
		return { hit, miss, set };
	} finally {
		server.kill('SIGTERM');
	}
}

// In a fresh process: RSS growth while RSS_ITEMS items come to be held by 4 worker threads. As
// an lru-cache in each (the same items in every one, as 4 workers caching alike would): the
// workers start and settle first, then fill. As one shared Engine: the store is filled before the
// workers exist (their start-up memory would swamp it), then they attach and read every item.
async function rssChild(kind) {
	const value = 'r'.repeat(RSS_VALUE);
	const engine = kind === 'engine' ? new Engine({ memoryLimit: 1 << 30, encoding: 'utf8' }) : null;
	const start = () => Array.from({ length: RSS_THREADS }, () => new Worker(__filename, {
		workerData: { rss: kind, handle: engine ? engine.handle() : null },
	}));
	const ready = (workers) => Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
	let workers = engine ? [] : start();
	await ready(workers);
	global.gc();
	const before = process.memoryUsage().rss;
	if (engine) {
		for (let i = 0; i < RSS_ITEMS; i++) engine.set(`item:${i}`, value);
		global.gc();
	}
	const grown = process.memoryUsage().rss;
	if (engine) await ready(workers = start());
	for (const w of workers) w.postMessage('fill');
	const reports = await ready(workers);
	global.gc();
	const bytes = engine ? grown - before : process.memoryUsage().rss - before;
	process.stdout.write(JSON.stringify({ bytes, heap: reports.reduce((a, r) => a + r.heap, 0), seen: reports.map((r) => r.items) }));
	process.exit(0);
}

function rssWorker() {
	const engine = workerData.rss === 'engine' ? Engine.attach(workerData.handle, { encoding: 'utf8' }) : null;
	const lru = workerData.rss === 'lru' ? new LRUCache({ max: RSS_ITEMS * 2 }) : null;
	global.gc();
	parentPort.postMessage('ready');
	parentPort.once('message', () => {
		global.gc();
		const heapBefore = v8.getHeapStatistics().used_heap_size;
		const value = 'r'.repeat(RSS_VALUE);
		let seen = 0;
		for (let i = 0; i < RSS_ITEMS; i++) {
			// Each thread reads every item once: the engine's are there; an lru-cache fills on a miss.
			const key = `item:${i}`;
			if (engine) seen += engine.get(key) !== null;
			else if (lru && lru.get(key) === undefined) lru.set(key, Buffer.from(value).toString()); // a string of its own, as a decoded reply is
		}
		global.keep = lru;
		global.gc();
		parentPort.postMessage({ items: engine ? seen : lru.size, heap: v8.getHeapStatistics().used_heap_size - heapBefore });
	});
}

function measureRss(kind) {
	const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--rss', kind], { encoding: 'utf8' });
	if (child.status !== 0) throw new Error(`rss child failed: ${child.stderr}`);
	const { bytes, heap, seen } = JSON.parse(child.stdout);
	if (seen.some((n) => n !== RSS_ITEMS)) throw new Error(`rss ${kind}: a worker holds ${seen} items, not ${RSS_ITEMS}`);
	return { bytes, heap };
}

function fmt(ns) {
	return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}

async function main() {
	const args = process.argv.slice(2);
	if (args[0] === '--rss') return rssChild(args[1]);
	const seconds = Number(args[args.indexOf('--duration') + 1]) || 5;
	const ms = Math.max(100, Math.min(400, seconds * 60)); // each measurement; the whole run stays near a minute
	const rows = [];
	for (const size of SIZES) {
		for (const target of syncTargets(size)) rows.push({ label: target.label, size, ...measureSync(target, ms) });
		for (const threads of [1, 2]) {
			const r = await measureWorkers(threads, size, ms);
			rows.push({
				label: `Engine (${threads} worker${threads > 1 ? 's' : ''} at once)`, size,
				hit: r.hit.perThreadNs, miss: r.miss.perThreadNs, set: r.set.perThreadNs,
				note: `aggregate Mops/s hit ${(r.hit.opsPerSec / 1e6).toFixed(2)}, miss ${(r.miss.opsPerSec / 1e6).toFixed(2)}, set ${(r.set.opsPerSec / 1e6).toFixed(2)}`,
			});
		}
		rows.push({ label: 'Client -> local server (100 in flight)', size, ...(await measureClient(size, ms)) });
	}
	console.log('\nengine: ns/op (per calling thread), strings in and out unless said; lower is better\n');
	console.log(`${'target'.padEnd(40)}${'value'.padStart(7)}${'get hit'.padStart(11)}${'get miss'.padStart(11)}${'set'.padStart(11)}`);
	for (const r of rows) {
		console.log(`${r.label.padEnd(40)}${`${r.size} B`.padStart(7)}${fmt(r.hit).padStart(11)}${fmt(r.miss).padStart(11)}${fmt(r.set).padStart(11)}${r.note ? `   ${r.note}` : ''}`);
	}
	const shared = measureRss('engine');
	const lru = measureRss('lru');
	const mib = (n) => `${(n / 1048576).toFixed(1)} MiB (${(n / RSS_ITEMS).toFixed(0)} B/item)`;
	console.log(`\n${RSS_ITEMS} items of ${RSS_VALUE} B held for ${RSS_THREADS} worker threads:` +
		`\n  one shared Engine: RSS growth ${mib(shared.bytes)}; the workers' JS heaps grow ${mib(shared.heap)}` +
		`\n  ${RSS_THREADS} lru-caches:       RSS growth ${mib(lru.bytes)}; the workers' JS heaps grow ${mib(lru.heap)}` +
		`\n  (RSS of worker heaps is noisy here; the heaps' own growth is the steadier figure)`);
	return undefined;
}

if (isMainThread) {
	main().catch((err) => {
		console.error(`bench/engine.js: ${err.stack}`);
		process.exit(1);
	});
} else if (workerData.rss !== undefined) {
	rssWorker();
} else {
	workerMain();
}

// restart: the restart file's costs — save and load of 1M × 100 B and 100k × 10 KiB items
// (seconds, MB/s), and the load generator's ops/s and p99 on a server saving every second vs one not.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { Engine } = require('../lib/engine');
const { freePort, canConnect, stopServer, sleep } = require('./servers');
const { buildProgram, programPath } = require('./build');

const LOADGEN = programPath('loadgen');
const ROOT = path.join(__dirname, '..');

function option(name, fallback) {
	const i = process.argv.indexOf(name);
	return i < 0 ? fallback : Number(process.argv[i + 1]);
}

// One store filled through the memcached protocol in batches of noreply sets (fast, and what a
// server would hold), saved and loaded back into a fresh one.
async function saveLoad(items, valueBytes, dir) {
	const memoryLimit = Math.max(64 << 20, Math.ceil(items * (valueBytes + 120) * 1.3));
	const engine = new Engine({ memoryLimit, maxItemSize: Math.max(1 << 20, valueBytes * 2) });
	const value = 'v'.repeat(valueBytes);
	// Batches of about 256 KiB: feed() holds at most the item size limit plus 2 MiB of input.
	const perBatch = Math.max(1, Math.floor((256 << 10) / (valueBytes + 40)));
	for (let first = 0; first < items; first += perBatch) {
		let batch = '';
		for (let i = first; i < Math.min(items, first + perBatch); i++) batch += `set key:${i} 0 0 ${valueBytes} noreply\r\n${value}\r\n`;
		engine.feed(batch, { protocol: 'memcached' });
	}
	const file = path.join(dir, `restart-${items}.snap`);
	const saved = await engine.save(file);   // full speed, as at a stop
	const copy = new Engine({ memoryLimit, maxItemSize: Math.max(1 << 20, valueBytes * 2) });
	const loaded = await copy.load(file);
	fs.rmSync(file, { force: true });
	if (loaded.items !== items) throw new Error(`loaded ${loaded.items} of ${items}`);
	const mb = saved.bytes / 1e6;
	return { items, value_bytes: valueBytes, file_mb: mb, save_s: saved.seconds, load_s: loaded.seconds,
		save_mb_s: mb / saved.seconds, load_mb_s: mb / loaded.seconds };
}

async function startServer(args) {
	const port = await freePort();
	const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'server.js'), '-p', 'off', '--memcached-port', String(port), ...args],
		{ stdio: ['ignore', 'ignore', 'inherit'] });
	for (let i = 0; i < 200 && !(await canConnect(port)); i++) await sleep(50);
	return { child, port };
}

function loadgen(port, extra) {
	const run = spawnSync(LOADGEN, ['--port', String(port), '--protocol', 'text', '--json', ...extra], { encoding: 'utf8' });
	if (run.status !== 0) throw new Error(`loadgen: ${run.stderr}`);
	return JSON.parse(run.stdout.trim().split('\n').pop());
}

// Two servers with the same million items, one saving every second; loadgen rounds alternate.
async function duringSnapshots(dir, duration, rounds) {
	const plain = await startServer(['-m', '1024']);
	const saving = await startServer(['-m', '1024', '-e', path.join(dir, 'during.snap'), '--snapshot-interval', '1']);
	try {
		for (const s of [plain, saving]) loadgen(s.port, ['--set-ratio', '1', '--keys', '1000000', '--value-size', '100', '--pipeline', '16', '--duration', '4', '--warmup', '0']);
		const results = { plain: [], saving: [] };
		for (let r = 0; r < rounds; r++) {
			for (const [name, s] of [['plain', plain], ['saving', saving]]) {
				results[name].push(loadgen(s.port, ['--keys', '1000000', '--value-size', '100', '--duration', String(duration), '--warmup', '1']));
			}
		}
		const median = (list, key) => list.map((x) => x[key]).sort((a, b) => a - b)[list.length >> 1];
		const row = (list) => ({ ops_per_sec: median(list, 'ops_per_sec'), p99_us: median(list, 'p99_us') });
		return { plain: row(results.plain), saving: row(results.saving) };
	} finally {
		await Promise.all([stopServer(plain), stopServer(saving)]);
	}
}

async function main() {
	buildProgram('loadgen');   // before the save and load figures, so a compile error does not wait for them
	const duration = option('--duration', 5);
	const rounds = option('--rounds', 1);
	const dir = fs.mkdtempSync(path.join(process.env.BENCH_RESTART_DIR || os.tmpdir(), 'simplecached-bench-restart-'));
	try {
		const files = [await saveLoad(1000000, 100, dir), await saveLoad(100000, 10240, dir)];
		console.log('restart file    items  value B   file MB  save s   load s  save MB/s  load MB/s');
		for (const f of files) {
			console.log(`${''.padEnd(12)}${String(f.items).padStart(8)} ${String(f.value_bytes).padStart(8)} ${f.file_mb.toFixed(1).padStart(9)} ${f.save_s.toFixed(3).padStart(7)} ${f.load_s.toFixed(3).padStart(8)} ${f.save_mb_s.toFixed(0).padStart(10)} ${f.load_mb_s.toFixed(0).padStart(10)}`);
		}
		const during = await duringSnapshots(dir, duration, rounds);
		console.log('\nloadgen (text, 50 conns, no pipeline, 1M keys of 100 B)   ops/s   p99 us');
		console.log(`  no snapshots${String(during.plain.ops_per_sec).padStart(43)} ${during.plain.p99_us.toFixed(0).padStart(8)}`);
		console.log(`  saving every second${String(during.saving.ops_per_sec).padStart(36)} ${during.saving.p99_us.toFixed(0).padStart(8)}`);
		console.log(`  ratio: ops/s ${(during.saving.ops_per_sec / during.plain.ops_per_sec).toFixed(2)}x, p99 ${(during.saving.p99_us / during.plain.p99_us).toFixed(2)}x`);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((err) => {
	console.error(`bench/restart.js: ${err.message}`);
	process.exit(1);
});

// values: the value-size matrix (issue 16) — 32 B to 1 MiB × seed, text and binary, plus multi-gets of 100 keys;
// per cell simplecached, memcached -t 1 and the floor (bench/floor.c) in one run: ops/s and server CPU µs/op.
'use strict';

const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { freePort, canConnect, stopServer, sleep } = require('./servers');
const { buildProgram } = require('./build');

const ROOT = path.join(__dirname, '..');
const READY_TIMEOUT_MS = 15000;

const SIZES = [32, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];
const LARGEST = 1 << 20;   // what -I 2m leaves room for, key and header included
const PROTOCOLS = ['seed', 'text', 'binary'];
// The loadgen and floor name the seed protocol "simple"; memcached has none, so its seed cells
// are driven in its text protocol, the nearest thing (the table says so).
const LOADGEN_PROTOCOL = { seed: 'simple', text: 'text', binary: 'binary' };
const MEMCACHED_PROTOCOL = { seed: 'text', text: 'text', binary: 'binary' };
// Room for the 1 MiB cells on both servers (a 1 MiB value plus key and header passes -I 1m).
const ITEM_LIMIT = ['-I', '2m'];
const MEMORY_MB = '256';
// Keys per cell: at most KEY_BYTES of values, so every cell's data fits both servers' memory
// (no eviction, every get a hit) and the preload stays short; never fewer than a multi-get needs.
const KEY_BYTES = 64 << 20;
const MAX_KEYS = 10000;
const MULTIGET = 100;
// Issue 16's goal for every cell: simplecached's CPU per op at most 0.9x memcached's, ops/s at least 1.0x.
const GOAL_CPU_RATIO = 0.9;
const GOAL_OPS_RATIO = 1.0;

const USAGE = `usage: node bench/values.js [options]     (npm run bench -- --only values [options])
  --duration SEC      measured seconds per loadgen run (2)
  --warmup SEC        unmeasured seconds before each run (0.5)
  --rounds N          runs per server per cell, the median is reported (3)
  --sizes LIST        value sizes in bytes, k or m for KiB or MiB, up to 1m (32,1k,4k,16k,64k,256k,1m)
  --protocols LIST    of ${PROTOCOLS.join(',')} (all); the multi-get cells run with text and binary
  --no-multiget       leave out the multi-get cells
  --uring-floor       a fourth server per cell: the floor on io_uring alone (bench/floor --uring)
  --also-env NAME=VAL one more simplecached per cell, with NAME=VAL in its environment (e.g.
                      SIMPLECACHED_IO_URING=receives): two modes compared round by round
  --json              one JSON document on stdout instead of the table`;

function parseOptions(argv) {
	const o = { duration: 2, warmup: 0.5, rounds: 3, sizes: SIZES, protocols: PROTOCOLS, multiget: true, uringFloor: false, alsoEnv: null, json: false };
	const list = (text, known, name) => {
		const items = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
		const bad = items.find((s) => !known.includes(s));
		if (bad !== undefined || items.length === 0) usageError(`bad ${name}: ${text}`);
		return items;
	};
	for (let i = 0; i < argv.length; i++) {
		const next = () => (i + 1 < argv.length ? argv[++i] : usageError(`${argv[i]} needs a value`));
		switch (argv[i]) {
			case '--duration': o.duration = positive(next(), '--duration'); break;
			case '--warmup': o.warmup = positive(next(), '--warmup', true); break;
			case '--rounds': o.rounds = Math.round(positive(next(), '--rounds')); break;
			case '--sizes': o.sizes = next().split(',').map(sizeOption); break;
			case '--protocols': o.protocols = list(next(), PROTOCOLS, 'protocols'); break;
			case '--no-multiget': o.multiget = false; break;
			case '--uring-floor': o.uringFloor = true; break;
			case '--also-env': o.alsoEnv = envOption(next()); break;
			case '--json': o.json = true; break;
			case '-h': case '--help': console.log(USAGE); process.exit(0); break;
			default: usageError(`unknown option ${argv[i]}`);
		}
	}
	return o;
}

function envOption(text) {
	const eq = text.indexOf('=');
	if (eq <= 0) usageError(`--also-env wants NAME=VALUE, got ${text}`);
	return { name: text.slice(0, eq), value: text.slice(eq + 1), label: `simplecached ${text}` };
}

function sizeOption(text) {
	const match = /^(\d+)([km]?)$/i.exec(text.trim());
	const bytes = match && Number(match[1]) * { '': 1, k: 1 << 10, m: 1 << 20 }[match[2].toLowerCase()];
	if (!bytes || bytes > LARGEST) usageError(`bad size: ${text}`);
	return bytes;
}

function positive(text, name, zeroAllowed = false) {
	const n = Number(text);
	if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) usageError(`bad value for ${name}: ${text}`);
	return n;
}

function usageError(message) {
	console.error(`values: ${message}\n${USAGE}`);
	process.exit(2);
}

const log = (message) => process.stderr.write(`${message}\n`);

// ---------------------------------------------------------------- programs and servers

// The three servers of a cell (four with the io_uring floor), each an argv for a port.
function cellServers(cell, floorBinary, options) {
	const node = [process.execPath, path.join(ROOT, 'bin', 'server.js'), '-m', MEMORY_MB, ...ITEM_LIMIT];
	const floor = [floorBinary, '--protocol', LOADGEN_PROTOCOL[cell.protocol], '--value-size', String(cell.valueSize), '--keys', String(cell.keys)];
	const simplecached = (port) => [...node, ...(cell.protocol === 'seed' ? ['--port', port, '--memcached-port', 'off'] : ['-p', 'off', '--memcached-port', port])];
	const servers = [
		{ label: 'simplecached', protocol: LOADGEN_PROTOCOL[cell.protocol], argv: simplecached },
		{ label: 'memcached', protocol: MEMCACHED_PROTOCOL[cell.protocol],
			argv: (port) => ['memcached', '-u', 'root', '-l', '127.0.0.1', '-p', port, '-U', '0', '-t', '1', '-m', MEMORY_MB, '-c', '4096', ...ITEM_LIMIT] },
		{ label: 'floor', protocol: LOADGEN_PROTOCOL[cell.protocol], argv: (port) => [...floor, '--port', port] },
	];
	if (options.uringFloor) servers.push({ label: 'uring floor', protocol: LOADGEN_PROTOCOL[cell.protocol], argv: (port) => [...floor, '--port', port, '--uring'] });
	const also = options.alsoEnv;
	if (also) servers.push({ label: also.label, protocol: LOADGEN_PROTOCOL[cell.protocol], argv: simplecached, env: { [also.name]: also.value } });
	return servers;
}

async function start(server, children) {
	const port = String(await freePort());
	const [command, ...args] = server.argv(port);
	const env = server.env ? { ...process.env, ...server.env } : process.env;
	const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
	children.add(child);
	child.once('exit', () => children.delete(child));
	let stderr = '';
	child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
	const deadline = Date.now() + READY_TIMEOUT_MS;
	while (!(await canConnect(Number(port)))) {
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${server.label} did not listen: ${command} ${args.join(' ')}\n${stderr}`);
		await sleep(30);
	}
	return { ...server, port, child };
}

function runLoadgen(loadgen, server, cell, options) {
	const args = ['--port', server.port, '--protocol', server.protocol, '--server-pid', String(server.child.pid),
		'--value-size', String(cell.valueSize), '--keys', String(cell.keys), '--multiget', String(cell.multiget),
		'--conns', '50', '--pipeline', '1', '--set-ratio', '0.1',
		'--duration', String(options.duration), '--warmup', String(options.warmup), '--json'];
	const run = spawnSync(loadgen, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
	if (run.status !== 0) throw new Error(`loadgen against ${server.label} (${cell.name}) failed: ${run.stderr.trim()}`);
	return JSON.parse(run.stdout.trim().split('\n').pop());
}

// ---------------------------------------------------------------- cells

function sizeLabel(bytes) {
	if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes >> 20} MiB`;
	if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes >> 10} KiB`;
	return `${bytes} B`;
}

function cells(options) {
	const list = [];
	for (const protocol of options.protocols) {
		for (const valueSize of options.sizes) {
			const keys = Math.max(MULTIGET, Math.min(MAX_KEYS, Math.floor(KEY_BYTES / valueSize)));
			list.push({ name: `${protocol} ${sizeLabel(valueSize)}`, protocol, valueSize, keys, multiget: 1 });
		}
	}
	if (options.multiget) {
		for (const protocol of options.protocols.filter((p) => p !== 'seed')) {
			list.push({ name: `${protocol} get×${MULTIGET} 32 B`, protocol, valueSize: 32, keys: MAX_KEYS, multiget: MULTIGET });
		}
	}
	return list;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// A server's runs in a cell: the round of median ops/s stands for it in the table.
function summarize(server, rounds) {
	const ops = median(rounds.map((r) => r.ops_per_sec));
	const pick = rounds.find((r) => r.ops_per_sec === ops);
	return { protocol: server.protocol, ops_per_sec: ops, cpu_us_per_op: pick.server_cpu_us_per_op,
		cpu_percent: pick.server_cpu_percent, p99_us: pick.p99_us, hit_ratio: pick.hit_ratio, rounds };
}

// The ratios are taken within each round (its runs, one per server, are back to back, so they
// share what the machine was doing then) and their median reported: steadier than a ratio of two medians. The
// floor's CPU ratio to memcached is the best any server that makes the same system calls can do.
function ratios(rounds, options) {
	const per = (key, a, b) => median(rounds.simplecached.map((_, i) => rounds[a][i][key] / rounds[b][i][key]));
	const also = options.alsoEnv;
	return {
		ops_ratio: per('ops_per_sec', 'simplecached', 'memcached'),
		cpu_ratio: per('server_cpu_us_per_op', 'simplecached', 'memcached'),
		floor_cpu_ratio: per('server_cpu_us_per_op', 'floor', 'memcached'),
		...(rounds['uring floor'] ? { uring_floor_cpu_ratio: per('server_cpu_us_per_op', 'uring floor', 'memcached') } : {}),
		...(also ? { also_env_cpu_ratio: per('server_cpu_us_per_op', also.label, 'memcached') } : {}),
	};
}

// met or missed; a miss where the floor itself needs more than the goal's share of memcached's CPU
// says so: no server making the same system calls could meet it.
function verdict(r) {
	if (r.cpu_ratio <= GOAL_CPU_RATIO && r.ops_ratio >= GOAL_OPS_RATIO) return 'met';
	return r.floor_cpu_ratio > GOAL_CPU_RATIO ? 'missed, floor too' : 'missed';
}

// Fresh servers for every cell (what a previous size left in the slabs does not count); the
// servers' rounds alternate so slow drifts of a shared machine hit all three alike.
async function runCell(cell, loadgen, floorBinary, options, children) {
	const servers = [];
	try {
		for (const server of cellServers(cell, floorBinary, options)) servers.push(await start(server, children));
		const rounds = Object.fromEntries(servers.map((server) => [server.label, []]));
		for (let round = 0; round < options.rounds; round++) {
			for (const server of servers) rounds[server.label].push(runLoadgen(loadgen, server, cell, options));
		}
		const results = Object.fromEntries(servers.map((server) => [server.label, summarize(server, rounds[server.label])]));
		const r = ratios(rounds, options);
		return { ...cell, results, ...r, verdict: verdict(r), goal_met: verdict(r) === 'met' };
	} finally {
		await Promise.all(servers.map(stopServer));
	}
}

// ---------------------------------------------------------------- report

function formatTable(results, options) {
	const uring = results.some((c) => c.uring_floor_cpu_ratio !== undefined);
	const also = options.alsoEnv;
	const header = ['cell', 'memcached via', 'floor ops/s', 'µs/op', 'memcached ops/s', 'µs/op', 'CPU%',
		'simplecached ops/s', 'µs/op', 'CPU%', 'ops ratio', 'CPU/op ratio', 'floor CPU/op ratio',
		...(uring ? ['uring floor µs/op', 'uring floor CPU/op ratio'] : []),
		...(also ? [`${also.name}=${also.value} µs/op`, 'its CPU/op ratio'] : []), 'goal'];
	const rows = results.map((c) => {
		const { floor, memcached: mc, simplecached: sim } = c.results;
		const uringCells = uring ? [c.results['uring floor'].cpu_us_per_op.toFixed(1), `${c.uring_floor_cpu_ratio.toFixed(2)}x`] : [];
		const alsoCells = also ? [c.results[also.label].cpu_us_per_op.toFixed(1), `${c.also_env_cpu_ratio.toFixed(2)}x`] : [];
		return [c.name, mc.protocol, String(Math.round(floor.ops_per_sec)), floor.cpu_us_per_op.toFixed(1),
			String(Math.round(mc.ops_per_sec)), mc.cpu_us_per_op.toFixed(1), mc.cpu_percent.toFixed(0),
			String(Math.round(sim.ops_per_sec)), sim.cpu_us_per_op.toFixed(1), sim.cpu_percent.toFixed(0),
			`${c.ops_ratio.toFixed(2)}x`, `${c.cpu_ratio.toFixed(2)}x`, `${c.floor_cpu_ratio.toFixed(2)}x`, ...uringCells, ...alsoCells, c.verdict];
	});
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
	return [line(header), ...rows.map(line)].join('\n');
}

function printReport(results, options) {
	if (options.json) {
		process.stdout.write(`${JSON.stringify({ duration_s: options.duration, warmup_s: options.warmup, rounds: options.rounds, cells: results })}\n`);
		return;
	}
	const rounds = options.rounds > 1 ? `median of ${options.rounds} rounds, ` : '';
	console.log(`\nvalues: ${rounds}${options.duration}s per run, 50 connections, 1 request in flight each, 10% sets;` +
		'\nµs/op = server CPU (all threads) per op; ops ratio = simplecached/memcached (higher is better),' +
		'\nCPU/op ratio = simplecached/memcached (lower is better); memcached has no seed protocol: its seed cells use text;' +
		'\nratios are medians of per-round ratios; floor CPU/op ratio = floor/memcached, the least CPU any server making' +
		'\nthe same system calls needs; uring floor CPU/op ratio (--uring-floor): the same on io_uring alone;' +
		(options.alsoEnv ? `\nits CPU/op ratio (--also-env): ${options.alsoEnv.label}/memcached, the same rounds;` : '') +
		`\ngoal (issue 16): CPU/op ratio <= ${GOAL_CPU_RATIO} and ops ratio >= ${GOAL_OPS_RATIO}; "floor too": the floor misses it as well\n`);
	console.log(formatTable(results, options));
}

async function main() {
	const options = parseOptions(process.argv.slice(2));
	const loadgen = buildProgram('loadgen');
	const floor = buildProgram('floor');
	const children = new Set();
	process.on('exit', () => { for (const child of children) child.kill('SIGKILL'); });
	for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
	const results = [];
	for (const cell of cells(options)) {
		const result = await runCell(cell, loadgen, floor, options, children);
		const { simplecached: sim, memcached: mc, floor: fl } = result.results;
		log(`   ${cell.name.padEnd(18)} floor ${Math.round(fl.ops_per_sec)} ops/s ${fl.cpu_us_per_op}µs | memcached ${Math.round(mc.ops_per_sec)} ${mc.cpu_us_per_op}µs` +
			` | simplecached ${Math.round(sim.ops_per_sec)} ${sim.cpu_us_per_op}µs | ops ${result.ops_ratio.toFixed(2)}x cpu ${result.cpu_ratio.toFixed(2)}x` +
			` floor ${result.floor_cpu_ratio.toFixed(2)}x`);
		results.push(result);
	}
	printReport(results, options);
}

main().catch((err) => {
	log(`values: ${err.message}`);
	process.exit(1);
});

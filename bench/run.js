// bench/run.js - `npm run bench`: simplecached and memcached side by side under the same C load generator.
// Builds bench/loadgen/, starts both servers for each case, alternates loadgen rounds between them, prints a comparison;
// then the memory cases (bench/memory.js): server RSS per idle connection and per item, one fresh server per run;
// then the Node clients side by side (bench/client.js); then restart (bench/restart.js) and the
// in-process Engine (bench/engine.js).
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const memory = require('./memory');
const { buildProgram, programPath } = require('./build');
const { sleep, freePort, canConnect, stopServer } = require('./servers');

const REPO_ROOT = path.resolve(__dirname, '..');
const LOADGEN_BINARY = programPath('loadgen');
const SERVER_READY_TIMEOUT_MS = 15000;
const DEFAULT_SERVER_CMD = `${process.execPath} bin/server.js --port {port}`;
// Seed port off, so the text-protocol cases measure a server that serves nothing else.
const DEFAULT_TEXT_SERVER_CMD = `${process.execPath} bin/server.js -p off --memcached-port {port}`;

// ---------------------------------------------------------------- servers and cases

// A server spec turns a port (and the runner options) into an argv. `binary` names an
// external program the runner must find on PATH before starting.

// simplecached listening on one port for one protocol. The command comes from the runner
// options, so --server-cmd / --text-server-cmd reach every case that uses that protocol.
const SIMPLECACHED_COMMANDS = {
  seed: { option: 'serverCmd', portFlag: '--port' },
  text: { option: 'textServerCmd', portFlag: '--memcached-port' },
};

function simplecachedServer(protocol, extraArgs = []) {
  const { option, portFlag } = SIMPLECACHED_COMMANDS[protocol];
  return {
    describe: (options) => [options[option], ...extraArgs].join(' '),
    argv: (port, options) => [...commandWithPort(options[option], port, portFlag), ...extraArgs],
  };
}

// Room for the throughput cases' items and connections; the memory cases pass their own limits.
const MEMCACHED_THROUGHPUT_LIMITS = ['-m', '1024', '-c', '4096'];

function memcachedServer(extraArgs = [], limits = MEMCACHED_THROUGHPUT_LIMITS) {
  const argv = (port) => ['memcached', '-u', 'root', '-l', '127.0.0.1', '-p', String(port),
    '-U', '0', '-t', '1', ...limits, ...extraArgs];
  return { binary: 'memcached', describe: () => argv('PORT').join(' '), argv };
}

// Load shared by the first cases; each case overrides what it is about.
const BASE_LOAD = { conns: 50, pipeline: 1, 'set-ratio': 0.1, 'value-size': 32, keys: 10000 };

// Each server is driven in its own protocol, so neither pays for translating the other's.
const SEED_VS_MEMCACHED_TEXT = [
  { label: 'simplecached', server: simplecachedServer('seed'), loadgen: { protocol: 'simple' } },
  { label: 'memcached', server: memcachedServer(), loadgen: { protocol: 'text' } },
];

// The same requests, byte for byte, to both: simplecached's memcached-protocol port against memcached.
const TEXT_VS_MEMCACHED_TEXT = [
  { label: 'simplecached', server: simplecachedServer('text'), loadgen: { protocol: 'text' } },
  { label: 'memcached', server: memcachedServer(), loadgen: { protocol: 'text' } },
];

// Two I/O threads on each side (memcached's later -t overrides the default -t 1).
const TEXT_THREADS_2 = [
  { label: 'simplecached', server: simplecachedServer('text', ['--threads', '2']), loadgen: { protocol: 'text' } },
  { label: 'memcached', server: memcachedServer(['-t', '2']), loadgen: { protocol: 'text' } },
];

// The memcached protocol on a Unix socket (-s): loadgen connects there instead of to the port.
// simplecached keeps its TCP port too (-s with --memcached-port); memcached -s serves no TCP.
const UNIX = { unix: true };
const simplecachedUnix = () => ({ ...simplecachedServer('text'), ...UNIX, argv: (port, options, socket) => [...simplecachedServer('text').argv(port, options), '-s', socket] });
const memcachedUnix = () => ({
  ...UNIX, binary: 'memcached', describe: () => `memcached -u root -s SOCKET -t 1 ${MEMCACHED_THROUGHPUT_LIMITS.join(' ')}`,
  argv: (port, options, socket) => ['memcached', '-u', 'root', '-s', socket, '-t', '1', ...MEMCACHED_THROUGHPUT_LIMITS],
});

// One entry per comparison. The ratio reported is targets[0] / targets[1] in ops/s.
const CASES = [
  {
    name: 'no-pipeline',
    description: 'seed protocol vs memcached text, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: SEED_VS_MEMCACHED_TEXT,
  },
  {
    name: 'pipeline-16',
    description: 'seed protocol vs memcached text, pipeline 16',
    loadgen: { ...BASE_LOAD, pipeline: 16 },
    targets: SEED_VS_MEMCACHED_TEXT,
  },
  {
    name: 'text-no-pipeline',
    description: 'memcached text protocol on both, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: TEXT_VS_MEMCACHED_TEXT,
  },
  {
    name: 'text-pipeline-16',
    description: 'memcached text protocol on both, pipeline 16',
    loadgen: { ...BASE_LOAD, pipeline: 16 },
    targets: TEXT_VS_MEMCACHED_TEXT,
  },
  {
    // One op is one `get` of 10 keys; keys/s is reported beside ops/s.
    name: 'text-multiget-10',
    description: 'memcached text protocol on both, gets of 10 keys, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1, multiget: 10 },
    targets: TEXT_VS_MEMCACHED_TEXT,
  },
  {
    name: 'unix-vs-tcp',
    description: 'memcached text protocol, simplecached on a Unix socket vs on TCP loopback, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: [
      { label: 'sc unix', server: simplecachedUnix(), loadgen: { protocol: 'text' } },
      { label: 'sc tcp', server: simplecachedServer('text'), loadgen: { protocol: 'text' } },
    ],
  },
  {
    name: 'unix-memcached-unix-vs-tcp',
    description: 'memcached text protocol, memcached -s (Unix socket) vs memcached on TCP loopback, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: [
      { label: 'mc unix', server: memcachedUnix(), loadgen: { protocol: 'text' } },
      { label: 'mc tcp', server: memcachedServer(), loadgen: { protocol: 'text' } },
    ],
  },
  {
    name: 'unix-vs-memcached',
    description: 'memcached text protocol on a Unix socket on both, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: [
      { label: 'simplecached', server: simplecachedUnix(), loadgen: { protocol: 'text' } },
      { label: 'memcached', server: memcachedUnix(), loadgen: { protocol: 'text' } },
    ],
  },
  {
    name: 'threads-2-no-pipeline',
    description: 'memcached text protocol, 2 I/O threads on both, no pipeline',
    loadgen: { ...BASE_LOAD, pipeline: 1 },
    targets: TEXT_THREADS_2,
  },
  {
    name: 'threads-2-pipeline-16',
    description: 'memcached text protocol, 2 I/O threads on both, pipeline 16',
    loadgen: { ...BASE_LOAD, pipeline: 16 },
    targets: TEXT_THREADS_2,
  },
];

// Memory cases: each server runs alone, `measure` (bench/memory.js) applies `load` and reports
// VmRSS before and after; the ratio is targets[0] / targets[1] in bytes per unit, lower is better.
// `goal` is the target for simplecached, in bytes per unit.
const IDLE_CONNECTIONS = 10000;
// Room beyond the measured connections for the readiness probe, warm-up and stats connections.
const IDLE_CONNECTION_LIMIT = String(IDLE_CONNECTIONS + 100);

const MEMORY_CASES = [
  {
    name: 'conns-10k',
    description: 'RSS per idle connection: 10,000 connections, each served one version and left idle',
    unit: 'conn',
    goal: 400,
    // Our 10,000 sockets plus Node's own descriptors; the servers inherit the limit.
    openFiles: IDLE_CONNECTIONS + 300,
    measure: memory.idleConnections,
    load: { connections: IDLE_CONNECTIONS, batch: 500, settleMs: 1500 },
    targets: [
      { label: 'simplecached', server: simplecachedServer('text', ['-c', IDLE_CONNECTION_LIMIT]) },
      { label: 'memcached', server: memcachedServer([], ['-c', IDLE_CONNECTION_LIMIT]) },
    ],
  },
  {
    name: 'items-1m',
    description: 'RSS per item: 1,000,000 noreply sets, 10-byte keys, 100-byte values, 1 GiB limit',
    unit: 'item',
    goal: 170,
    measure: memory.storedItems,
    load: { items: 1000000, valueBytes: 100, perWrite: 2000, syncEvery: 100000, settleMs: 500 },
    targets: [
      { label: 'simplecached', server: simplecachedServer('text', ['-m', '1024']) },
      { label: 'memcached', server: memcachedServer([], ['-m', '1024']) },
    ],
  },
];

// The client comparison drives Node clients rather than loadgen: bench/client.js runs it, in a
// process of its own so that only the clients' CPU is counted there.
const CLIENT_CASE = {
  name: 'clients',
  description: 'Node clients (simplecached Client, npm memcached, memjs, a bare socket) on both servers: CPU µs/op and ops/s',
};

// The restart file's save and load speed and the cost of saving while serving: bench/restart.js,
// in a process of its own (it runs an engine in-process for the save and load figures).
const RESTART_CASE = {
  name: 'restart',
  description: 'restart file: save and load of 1M x 100 B and 100k x 10 KiB items (MB/s); ops/s and p99 while saving every second vs not',
};

// The value-size matrix (issue 16): bench/values.js, in a process of its own, with its own short
// default duration (the whole matrix in a few minutes) unless --duration/--warmup/--rounds are given.
const VALUES_CASE = {
  name: 'values',
  description: 'value sizes 32 B-1 MiB x seed/text/binary + multi-get of 100: ops/s and server CPU µs/op, simplecached vs memcached -t 1 vs a read/write-only floor',
};

// The in-process Engine against lru-cache, a Map and our Client, and shared by worker threads:
// bench/engine.js, in a process of its own.
const ENGINE_CASE = {
  name: 'engine',
  description: 'in-process Engine vs lru-cache, Map and Client: ns/op of get hit/miss and set (32 B, 1 KiB), from 2 workers at once; RSS of one shared store vs 4 lru-caches',
};

// ---------------------------------------------------------------- options

const USAGE = `usage: node bench/run.js [options]
Throughput cases run first, then the memory cases (conns-10k, items-1m), then the clients, then restart,
then the value-size matrix (values; node bench/values.js --help for its own options).
  --duration SEC      measured seconds per loadgen run (5)
  --warmup SEC        unmeasured seconds before each run (1)
  --rounds N          runs per server per case, alternating servers; the median is reported (1)
                      (memory cases start a fresh server for every run)
  --only TEXT         run only cases whose name contains TEXT (if none does, whose description does)
  --server-cmd CMD    simplecached command for the seed-protocol cases, {port} is replaced by
                      the port (appended as --port if absent)
                      (env SIMPLECACHED_CMD; default "node bin/server.js --port {port}")
  --text-server-cmd CMD
                      simplecached command for the memcached-protocol cases (text-*), {port}
                      is replaced by the port (appended as --memcached-port if absent)
                      (env SIMPLECACHED_TEXT_CMD;
                      default "node bin/server.js -p off --memcached-port {port}"); also used by
                      the memory cases, which read the RSS of the process it starts (no wrapper)
  --json              print one JSON document with all results on stdout
  --list              list the cases and exit`;

function parseOptions(argv) {
  const options = {
    duration: 5, warmup: 1, rounds: 1, only: null, json: false, list: false,
    serverCmd: process.env.SIMPLECACHED_CMD || DEFAULT_SERVER_CMD,
    textServerCmd: process.env.SIMPLECACHED_TEXT_CMD || DEFAULT_TEXT_SERVER_CMD,
    given: new Set(),   // the options named on the command line
  };
  const valueOf = (i) => {
    if (i + 1 >= argv.length) usageError(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    options.given.add(argv[i]);
    switch (argv[i]) {
      case '--duration': options.duration = positiveNumber('--duration', valueOf(i++)); break;
      case '--warmup': options.warmup = positiveNumber('--warmup', valueOf(i++), true); break;
      case '--rounds': options.rounds = positiveInteger('--rounds', valueOf(i++)); break;
      case '--only': options.only = valueOf(i++); break;
      case '--server-cmd': options.serverCmd = valueOf(i++); break;
      case '--text-server-cmd': options.textServerCmd = valueOf(i++); break;
      case '--json': options.json = true; break;
      case '--list': options.list = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: usageError(`unknown option ${argv[i]}`);
    }
  }
  return options;
}

function positiveNumber(name, text, zeroAllowed = false) {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) usageError(`bad value for ${name}: ${text}`);
  return n;
}

function positiveInteger(name, text) {
  const n = positiveNumber(name, text);
  if (!Number.isInteger(n)) usageError(`bad value for ${name}: ${text}`);
  return n;
}

function usageError(message) {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function commandWithPort(template, port, portFlag) {
  const words = template.trim().split(/\s+/);
  if (!words.some((w) => w.includes('{port}'))) words.push(portFlag, '{port}');
  return words.map((w) => w.replace(/\{port\}/g, String(port)));
}

// ---------------------------------------------------------------- child process bookkeeping

// Every child we start is tracked so that any way out of this script (normal exit,
// thrown error, Ctrl-C) takes the servers and loadgen down with it.
const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAllChildren() {
  for (const child of children) child.kill('SIGKILL');
}

function installExitHandlers() {
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      log(`\nbench: ${signal}, stopping servers`);
      killAllChildren();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

// Progress goes to stderr so that stdout carries only results (and only JSON with --json).
function log(message) {
  process.stderr.write(`${message}\n`);
}

// ---------------------------------------------------------------- prerequisites

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function ensureBinary(name) {
  if (commandExists(name)) return;
  log(`bench: ${name} not found on PATH; install it with: apt-get install -y ${name}`);
  if (process.getuid && process.getuid() === 0) {
    log(`bench: running as root, trying apt-get install -y ${name}`);
    spawnSync('apt-get', ['install', '-y', name], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  if (!commandExists(name)) throw new Error(`${name} is required for the comparison (apt-get install -y ${name})`);
}

// ---------------------------------------------------------------- servers

// Keeps the last lines a server printed, to explain why it died or never listened.
function captureOutput(child) {
  const lines = [];
  const keep = (chunk) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 20));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return () => lines.join('\n');
}

async function startServer(target, options) {
  const port = await freePort();
  const socket = target.server.unix ? path.join(os.tmpdir(), `simplecached-bench-${process.pid}-${port}.sock`) : null;
  const [command, ...args] = target.server.argv(port, options, socket);
  const child = track(spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = captureOutput(child);
  let spawnError = null;
  child.once('error', (err) => { spawnError = err; });
  const server = { label: target.label, port, socket, child, output, commandLine: [command, ...args].join(' ') };

  // Polling the port rather than waiting for a "listening" line works for any server.
  const deadline = Date.now() + SERVER_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`${target.label}: cannot start "${server.commandLine}": ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${target.label} exited before listening ("${server.commandLine}"):\n${output()}`);
    }
    if (await canConnect(socket || port)) return server;
    await sleep(50);
  }
  throw new Error(`${target.label} did not listen on port ${port} within ${SERVER_READY_TIMEOUT_MS} ms:\n${output()}`);
}

// ---------------------------------------------------------------- loadgen

function loadgenArgs(server, loadgen, options) {
  const where = server.socket ? ['--socket', server.socket] : ['--port', String(server.port)];
  const args = [...where, '--duration', String(options.duration),
    '--warmup', String(options.warmup), '--json'];
  for (const [name, value] of Object.entries(loadgen)) args.push(`--${name}`, String(value));
  return args;
}

function runLoadgen(server, loadgen, options) {
  const args = loadgenArgs(server, loadgen, options);
  return new Promise((resolve, reject) => {
    const child = track(spawn(LOADGEN_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(JSON.parse(stdout.trim().split('\n').pop()));
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      const dead = server.child.exitCode !== null || server.child.signalCode !== null;
      reject(new Error(`loadgen against ${server.label} failed (${why}): ${stderr.trim()}` +
        (dead ? `\n${server.label} died; its last output:\n${server.output()}` : '')));
    });
  });
}

// ---------------------------------------------------------------- running cases

function median(results, key = 'ops_per_sec') {
  const sorted = [...results].sort((a, b) => a[key] - b[key]);
  return sorted[Math.floor(sorted.length / 2)];
}

function percent(ratio) {
  return ratio === null ? 'n/a' : `${(ratio * 100).toFixed(1)}%`;
}

// keys/s only where an op carries several keys; elsewhere it would repeat ops/s.
function keysPerSecond(r) {
  return r.multiget > 1 ? String(Math.round(r.keys_per_sec)) : '';
}

function describeResult(r) {
  const keys = r.multiget > 1 ? ` (${keysPerSecond(r)} keys/s)` : '';
  return `${Math.round(r.ops_per_sec)} ops/s${keys} p50 ${r.p50_us}us p99 ${r.p99_us}us hits ${percent(r.hit_ratio)}`;
}

async function runCase(testCase, options) {
  log(`\n== ${testCase.name}: ${testCase.description}`);
  const servers = [];
  try {
    for (const target of testCase.targets) {
      servers.push(await startServer(target, options));
      log(`   ${target.label}: ${servers[servers.length - 1].commandLine}`);
    }
    const rounds = testCase.targets.map(() => []);
    // Alternate servers round by round so slow drifts in machine load hit both alike.
    for (let round = 1; round <= options.rounds; round++) {
      for (const [i, target] of testCase.targets.entries()) {
        const result = await runLoadgen(servers[i], { ...testCase.loadgen, ...target.loadgen }, options);
        rounds[i].push(result);
        log(`   round ${round}/${options.rounds} ${target.label.padEnd(12)} ${describeResult(result)}`);
      }
    }
    const targets = testCase.targets.map((target, i) => ({
      label: target.label, result: median(rounds[i]), rounds: rounds[i],
    }));
    return {
      name: testCase.name,
      description: testCase.description,
      loadgen: testCase.loadgen,
      targets,
      ratio: targets[0].result.ops_per_sec / targets[1].result.ops_per_sec,
    };
  } finally {
    await Promise.all(servers.map(stopServer));
    // memcached leaves its socket file behind.
    for (const server of servers) if (server.socket) fs.rmSync(server.socket, { force: true });
  }
}

// Names first: descriptions share words ("text", "pipeline") across cases, so matching
// both would make --only text select every case. Descriptions are the fallback.
function selectCases(options) {
  const all = [...CASES, ...MEMORY_CASES, CLIENT_CASE, RESTART_CASE, VALUES_CASE, ENGINE_CASE];
  if (!options.only) return all;
  const byName = all.filter((c) => c.name.includes(options.only));
  const selected = byName.length > 0 ? byName : all.filter((c) => c.description.includes(options.only));
  if (selected.length === 0) usageError(`no case matches "${options.only}"; try --list`);
  return selected;
}

// ---------------------------------------------------------------- running memory cases

const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

function describeMemory(r, unit) {
  return `RSS ${mib(r.rss_before)} -> ${mib(r.rss_after)}, ${Math.round(r.bytes_per_unit)} B/${unit} ` +
    `(${r.seconds.toFixed(1)}s)`;
}

// A fresh server per measurement: what an earlier load left behind must not count.
// The time covers starting, loading and stopping the server.
async function measureMemory(testCase, target, options) {
  const started = Date.now();
  const server = await startServer(target, options);
  log(`   ${target.label}: ${server.commandLine}`);
  let result;
  try {
    result = await testCase.measure(server, testCase.load);
  } finally {
    await stopServer(server);
  }
  return { ...result, seconds: (Date.now() - started) / 1000 };
}

async function runMemoryCase(testCase, options) {
  log(`\n== ${testCase.name}: ${testCase.description}`);
  const started = Date.now();
  const rounds = testCase.targets.map(() => []);
  // One server at a time, alternating, as the throughput rounds do.
  for (let round = 1; round <= options.rounds; round++) {
    for (const [i, target] of testCase.targets.entries()) {
      const result = await measureMemory(testCase, target, options);
      rounds[i].push(result);
      log(`   round ${round}/${options.rounds} ${target.label.padEnd(12)} ${describeMemory(result, testCase.unit)}`);
    }
  }
  const targets = testCase.targets.map((target, i) => ({
    label: target.label, result: median(rounds[i], 'bytes_per_unit'), rounds: rounds[i],
  }));
  return {
    name: testCase.name,
    description: testCase.description,
    unit: testCase.unit,
    goal_bytes_per_unit: testCase.goal,
    load: testCase.load,
    targets,
    ratio: targets[0].result.bytes_per_unit / targets[1].result.bytes_per_unit,
    lower_is_better: true,
    seconds: (Date.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------- reporting

// Text columns before firstNumeric are left-aligned, the rest right-aligned.
function formatColumns(header, rows, firstNumeric) {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col].length)));
  const line = (cells) => cells
    .map((cell, col) => (col >= firstNumeric ? cell.padStart(widths[col]) : cell.padEnd(widths[col])))
    .join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function formatTable(caseResults) {
  const header = ['case', 'server', 'ops/s', 'keys/s', 'p50 us', 'p99 us', 'p99.9 us', 'hit', 'ratio'];
  const rows = [];
  for (const c of caseResults) {
    c.targets.forEach(({ label, result }, i) => rows.push([
      i === 0 ? c.name : '', label, String(Math.round(result.ops_per_sec)), keysPerSecond(result),
      result.p50_us.toFixed(1), result.p99_us.toFixed(1), result.p999_us.toFixed(1),
      percent(result.hit_ratio),
      i === 0 ? `${c.ratio.toFixed(2)}x` : '',
    ]));
  }
  return formatColumns(header, rows, 2);
}

function formatMemoryTable(memoryResults) {
  const header = ['case', 'server', 'RSS before', 'RSS after', 'per unit', 'issue target', 'ratio', 'time'];
  const rows = [];
  for (const c of memoryResults) {
    c.targets.forEach(({ label, result }, i) => rows.push([
      i === 0 ? c.name : '', label, mib(result.rss_before), mib(result.rss_after),
      `${Math.round(result.bytes_per_unit)} B/${c.unit}`,
      i === 0 ? `≤ ${c.goal_bytes_per_unit} B` : '',
      i === 0 ? `${c.ratio.toFixed(2)}x` : '',
      `${result.seconds.toFixed(1)}s`,
    ]));
  }
  return formatColumns(header, rows, 2);
}

function summaryLine(c, nameWidth) {
  const parts = c.targets.map(({ label, result }) =>
    `${label} ${Math.round(result.ops_per_sec)} ops/s p99 ${Math.round(result.p99_us)}us`);
  return `${c.name.padEnd(nameWidth)}  ${parts.join(' | ')} | ratio ${c.ratio.toFixed(2)}x`;
}

function memorySummaryLine(c, nameWidth) {
  const parts = c.targets.map(({ label, result }) => `${label} ${Math.round(result.bytes_per_unit)} B/${c.unit}`);
  const first = c.targets[0];
  const met = first.result.bytes_per_unit <= c.goal_bytes_per_unit ? 'met' : 'not met';
  return `${c.name.padEnd(nameWidth)}  ${parts.join(' | ')} | ratio ${c.ratio.toFixed(2)}x (lower is better)` +
    ` | target ≤ ${c.goal_bytes_per_unit} B/${c.unit} for ${first.label}: ${met}`;
}

function printThroughput(caseResults, options) {
  const roundsNote = options.rounds > 1 ? `median of ${options.rounds} rounds, ` : '';
  console.log(`\n${roundsNote}${options.duration}s per run; ratio = ops/s of first server / second server\n`);
  console.log(formatTable(caseResults));
  console.log('');
  const nameWidth = Math.max(...caseResults.map((c) => c.name.length));
  for (const c of caseResults) console.log(summaryLine(c, nameWidth));
}

function printMemory(memoryResults, options) {
  const roundsNote = options.rounds > 1 ? `median of ${options.rounds} rounds, ` : '';
  console.log(`\nmemory: ${roundsNote}server RSS growth (VmRSS after - before) per idle connection or per item;` +
    '\nratio = bytes of first server / second server, LOWER IS BETTER\n');
  console.log(formatMemoryTable(memoryResults));
  console.log('');
  const nameWidth = Math.max(...memoryResults.map((c) => c.name.length));
  for (const c of memoryResults) console.log(memorySummaryLine(c, nameWidth));
}

// bench/client.js with this run's duration and warm-up: its table goes straight to stdout, or
// its JSON document is returned for ours.
function runClients(options) {
  log(`\n== ${CLIENT_CASE.name}: ${CLIENT_CASE.description}`);
  const args = [path.join(__dirname, 'client.js'), '--duration', String(options.duration), '--warmup', String(options.warmup)];
  if (options.json) args.push('--json');
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', options.json ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`bench/client.js failed (exit ${child.status})`);
  return options.json ? JSON.parse(child.stdout) : null;
}

function runRestart(options) {
  log(`\n== ${RESTART_CASE.name}: ${RESTART_CASE.description}`);
  const args = [path.join(__dirname, 'restart.js'), '--duration', String(options.duration), '--rounds', String(options.rounds)];
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (child.status !== 0) throw new Error(`bench/restart.js failed (exit ${child.status})`);
}

// bench/values.js with the timing options given here (else its own defaults); its table goes
// straight to stdout, or its JSON document is returned for ours.
function runValues(options) {
  log(`\n== ${VALUES_CASE.name}: ${VALUES_CASE.description}`);
  const args = [path.join(__dirname, 'values.js')];
  for (const name of ['duration', 'warmup', 'rounds']) {
    if (options.given.has(`--${name}`)) args.push(`--${name}`, String(options[name]));
  }
  if (options.json) args.push('--json');
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', options.json ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`bench/values.js failed (exit ${child.status})`);
  return options.json ? JSON.parse(child.stdout) : null;
}

function runEngine(options) {
  log(`\n== ${ENGINE_CASE.name}: ${ENGINE_CASE.description}`);
  const args = [path.join(__dirname, 'engine.js'), '--duration', String(options.duration)];
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (child.status !== 0) throw new Error(`bench/engine.js failed (exit ${child.status})`);
}

function printReport(caseResults, memoryResults, clientResults, options, valuesResults = null) {
  if (options.json) {
    const doc = {
      duration_s: options.duration, warmup_s: options.warmup, rounds: options.rounds,
      cases: caseResults, memory_cases: memoryResults, clients: clientResults, values: valuesResults,
    };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    return;
  }
  if (caseResults.length > 0) printThroughput(caseResults, options);
  if (memoryResults.length > 0) printMemory(memoryResults, options);
}

// ---------------------------------------------------------------- main

// scripts: which of the cases run by scripts of their own were selected.
function listCases(cases, memoryCases, scripts, options) {
  for (const c of cases) {
    console.log(`${c.name}: ${c.description}`);
    for (const t of c.targets) console.log(`    ${t.label}: ${t.server.describe(options)}  loadgen ${JSON.stringify({ ...c.loadgen, ...t.loadgen })}`);
  }
  for (const c of memoryCases) {
    console.log(`${c.name}: ${c.description} (memory, target ≤ ${c.goal} B/${c.unit})`);
    for (const t of c.targets) console.log(`    ${t.label}: ${t.server.describe(options)}  load ${JSON.stringify(c.load)}`);
  }
  for (const c of [CLIENT_CASE, RESTART_CASE, VALUES_CASE, ENGINE_CASE]) {
    if (scripts[c.name]) console.log(`${c.name}: ${c.description}`);
  }
}

// Checked before any case runs, so a missing prerequisite does not surface after minutes of work.
function prepare(cases, memoryCases) {
  if (cases.length > 0) buildProgram('loadgen');
  const all = [...cases, ...memoryCases];
  const binaries = new Set(all.flatMap((c) => c.targets.map((t) => t.server.binary).filter(Boolean)));
  for (const binary of binaries) ensureBinary(binary);
  const openFiles = Math.max(0, ...memoryCases.map((c) => c.openFiles || 0));
  if (openFiles > 0) memory.ensureOpenFiles(openFiles);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const selected = selectCases(options);
  const cases = selected.filter((c) => CASES.includes(c));
  const memoryCases = selected.filter((c) => MEMORY_CASES.includes(c));
  const clients = selected.includes(CLIENT_CASE);
  const restart = selected.includes(RESTART_CASE);
  const values = selected.includes(VALUES_CASE);
  const engine = selected.includes(ENGINE_CASE);
  if (options.list) {
    listCases(cases, memoryCases, { clients, restart, values, engine }, options);
    return;
  }
  installExitHandlers();
  prepare(cases, memoryCases);

  const results = [];
  for (const testCase of cases) results.push(await runCase(testCase, options));
  const memoryResults = [];
  for (const testCase of memoryCases) memoryResults.push(await runMemoryCase(testCase, options));
  // The clients last: their script prints its own table, after ours, unless all goes in one JSON.
  if (options.json) {
    const clientResults = clients ? runClients(options) : null;
    printReport(results, memoryResults, clientResults, options, values ? runValues(options) : null);
  } else {
    printReport(results, memoryResults, null, options);
    if (clients) runClients(options);
  }
  if (restart && !options.json) runRestart(options);
  if (values && !options.json) runValues(options);
  if (engine && !options.json) runEngine(options);
}

main().catch((err) => {
  log(`bench: ${err.message}`);
  killAllChildren();
  process.exit(1);
});

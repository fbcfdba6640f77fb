// bench/client.js - Node memcached clients side by side: simplecached's Client, npm memcached, memjs and a
// bare net.Socket, each against the same servers in one run, by ops/s and by Node CPU µs per operation.
'use strict';

const { spawn } = require('child_process');
const net = require('net');
const os = require('os');
const path = require('path');
const { sleep, freePort, canConnect, stopServer } = require('./servers');

const REPO_ROOT = path.resolve(__dirname, '..');
const KEY_COUNT = 10000;
const VALUE_SIZE = 32;
const SET_RATIO = 0.1;
const SERVER_READY_TIMEOUT_MS = 10000;
const STALL_MS = 5000;
// simplecached's Client against npm memcached (CPU/op) and against the bare socket (ops/s).
const TARGET_CPU_RATIO = 0.4;
const TARGET_OPS_RATIO = 0.9;

const USAGE = `usage: node bench/client.js [options]
  --duration SEC     measured seconds per client and server (5)
  --inflight N       requests in flight from this process (50)
  --warmup SEC       unmeasured mixed load before each measurement (1)
  --clients LIST     comma-separated subset of: bare,simplecached,simplecached-promise,
                     simplecached-unbatched,simplecached-pool,memcached,memjs,bare-unix,simplecached-unix
                     (the -unix ones connect to simplecached's Unix socket; memcached -s serves no TCP)
  --servers LIST     comma-separated subset of: memcached,simplecached,simplecached-t2
  --json             print one JSON document instead of the table`;

// ---------------------------------------------------------------- options

function usageError(message) {
  console.error(`bench/client.js: ${message}\n${USAGE}`);
  process.exit(2);
}

function number(name, text, { integer = false, zero = false } = {}) {
  const value = Number(text);
  const ok = (zero ? value >= 0 : value > 0) && (!integer || Number.isInteger(value));
  if (!ok) usageError(`${name} must be a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got '${text}'`);
  return value;
}

function subset(name, text, known) {
  const names = text.split(',').filter(Boolean);
  for (const n of names) if (!known.includes(n)) usageError(`${name}: unknown name ${n}`);
  return names;
}

function parseOptions(argv) {
  const options = { duration: 5, inflight: 50, warmup: 1, json: false, clients: Object.keys(CLIENTS), servers: Object.keys(SERVERS).filter((name) => !SERVERS[name].optional) };
  const valueOf = (i) => (i + 1 < argv.length ? argv[i + 1] : usageError(`${argv[i]} needs a value`));
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--duration': options.duration = number('--duration', valueOf(i++)); break;
      case '--inflight': options.inflight = number('--inflight', valueOf(i++), { integer: true }); break;
      case '--warmup': options.warmup = number('--warmup', valueOf(i++), { zero: true }); break;
      case '--clients': options.clients = subset('--clients', valueOf(i++), Object.keys(CLIENTS)); break;
      case '--servers': options.servers = subset('--servers', valueOf(i++), Object.keys(SERVERS)); break;
      case '--json': options.json = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: usageError(`unknown option ${argv[i]}`);
    }
  }
  return options;
}

// ---------------------------------------------------------------- servers

// Both speak memcached's text and binary protocols on one port.
const SERVERS = {
  memcached: {
    describe: 'memcached -t 1',
    argv: (port) => ['memcached', '-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1'],
  },
  // Also on a Unix socket (-s), for the clients that compare it with TCP loopback.
  simplecached: {
    describe: 'simplecached --memcached-port -s',
    argv: (port, socket) => [process.execPath, 'bin/server.js', '-p', 'off', '--memcached-port', String(port), '-s', socket],
    unix: true,
  },
  // Not run by default: for the pool, whose connections two threads can serve side by side.
  'simplecached-t2': {
    describe: 'simplecached --threads 2',
    optional: true,
    argv: (port) => [process.execPath, 'bin/server.js', '-p', 'off', '--memcached-port', String(port), '--threads', '2'],
  },
};

const children = new Set();

// Synchronous, so it also works from the 'exit' handler.
function killChildren() {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

function installCleanup() {
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      killChildren();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

async function startServer(name) {
  const port = await freePort();
  const socket = SERVERS[name].unix ? path.join(os.tmpdir(), `simplecached-bench-${process.pid}-${port}.sock`) : null;
  const [command, ...args] = SERVERS[name].argv(port, socket);
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-2000); });
  child.on('error', (err) => { stderr += `\n${err.message}`; });
  child.on('exit', () => children.delete(child));
  children.add(child);
  const deadline = Date.now() + SERVER_READY_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      killChildren();
      throw new Error(`${command} ${args.join(' ')} did not start: ${stderr.trim() || 'no output'}`);
    }
    await sleep(50);
  }
  return { name, port, socket, child };
}


// The server's own counters, on a connection of their own, so no client under test is involved.
function serverStats(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write('stats\r\n'));
    socket.on('data', (chunk) => {
      text += chunk;
      if (!text.endsWith('END\r\n')) return;
      socket.destroy();
      resolve(parseStats(text));
    });
    socket.on('error', reject);
  });
}

function parseStats(text) {
  const stats = {};
  for (const line of text.split('\r\n')) {
    const [word, name, value] = line.split(' ');
    if (word === 'STAT') stats[name] = Number(value);
  }
  return stats;
}

// ---------------------------------------------------------------- clients

// Every client is wrapped to the same shape, so the load loop costs each of them the same:
// get(key, callback(err, value)), set(key, value, callback(err, stored)), close().

function openSimplecached(where, options = {}) {
  const { Client } = require('..');
  const address = typeof where === 'string' ? { path: where } : { port: where };
  return new Promise((resolve, reject) => {
    const c = new Client({ ...address, protocol: 'memcached', ...options }, (err) => (err ? reject(err) : resolve(c)));
  });
}

// Node-style callbacks, as the npm memcached client and the bare socket are driven; `options`
// are the Client's own.
function simplecachedClient(options = {}) {
  return async (port) => {
    const client = await openSimplecached(port, options);
    return {
      get: (key, callback) => client.get(key, callback),
      set: (key, value, callback) => client.set(key, value, callback),
      close: () => client.close(),
    };
  };
}

// Through the Promises, as async/await callers use it: one Promise per request on top.
async function simplecachedPromiseClient(port) {
  const client = await openSimplecached(port);
  return {
    get: (key, callback) => client.get(key).then((value) => callback(null, value), callback),
    set: (key, value, callback) => client.set(key, value).then((stored) => callback(null, stored), callback),
    close: () => client.close(),
  };
}

function memcachedClient(port) {
  const Memcached = require('memcached');
  // Its defaults (a pool of up to 10 connections), as it is usually run.
  const client = new Memcached(`127.0.0.1:${port}`);
  return {
    get: (key, callback) => client.get(key, callback),
    set: (key, value, callback) => client.set(key, value, 0, callback),
    close: () => client.end(),
  };
}

function memjsClient(port) {
  const memjs = require('memjs');
  // A 5 s timeout instead of 0.5 s, so a stall on this noisy machine is not counted as a failure.
  const client = memjs.Client.create(`127.0.0.1:${port}`, { timeout: 5, logger: { log() {} } });
  return {
    get: (key, callback) => client.get(key, (err, value) => callback(err, value)),
    set: (key, value, callback) => client.set(key, value, { expires: 0 }, callback),
    close: () => client.close(),
  };
}

// The baseline: one socket, requests written once per tick as text, replies counted by the least
// parsing that still hands each get its value. No key checks, no options, no Promises.
class BareClient {
  constructor(socket) {
    this.socket = socket;
    this.out = '';
    this.callbacks = [];
    this.head = 0;          // index of the oldest unanswered callback, so no Array.shift
    this.rest = null;       // bytes of an incomplete reply
    this.flush = () => { this.socket.write(this.out, 'latin1'); this.out = ''; };
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection closed')));
  }

  get(key, callback) {
    this.send(`get ${key}\r\n`, callback);
  }

  set(key, value, callback) {
    this.send(`set ${key} 0 0 ${value.length}\r\n${value}\r\n`, callback);
  }

  send(text, callback) {
    if (this.out === '') process.nextTick(this.flush);
    this.out += text;
    this.callbacks.push(callback);
  }

  onData(chunk) {
    const data = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    for (let next; (next = this.reply(data, pos)) > 0;) pos = next;
    this.rest = pos < data.length ? data.subarray(pos) : null;
  }

  // Answers one reply starting at pos; returns where the next starts, or 0 if it is incomplete.
  reply(data, pos) {
    const nl = data.indexOf(10, pos);
    if (nl < 0) return 0;
    if (data[pos] === 0x53 && data[pos + 1] === 0x54) return this.answer(nl + 1, null, true); // STORED
    if (data[pos] === 0x45 && data[pos + 1] === 0x4e) return this.answer(nl + 1, null, null); // END: a miss
    if (data[pos] !== 0x56) return this.answer(nl + 1, new Error(data.toString('latin1', pos, nl)), null);
    const bytes = Number(data.toString('latin1', data.lastIndexOf(32, nl) + 1, nl - 1));
    const end = nl + 1 + bytes;
    if (data.length < end + 7) return 0;                                   // value, CRLF, END CRLF
    return this.answer(end + 7, null, data.subarray(nl + 1, end));
  }

  answer(next, err, value) {
    const callback = this.callbacks[this.head++];
    if (this.head === this.callbacks.length) { this.callbacks = []; this.head = 0; }
    callback(err, value);
    return next;
  }

  failAll(err) {
    const waiting = this.callbacks.slice(this.head);
    this.callbacks = [];
    this.head = 0;
    for (const callback of waiting) callback(err);
  }

  close() {
    this.socket.end();
  }
}

// `where`: a port on 127.0.0.1, or a Unix socket's path.
function bareClient(where) {
  return new Promise((resolve, reject) => {
    const socket = typeof where === 'string' ? net.connect(where) : net.connect(where, '127.0.0.1');
    socket.once('connect', () => resolve(new BareClient(socket)));
    socket.once('error', reject);
  });
}

const CLIENTS = {
  bare: { label: 'bare net.Socket', connect: bareClient },
  simplecached: { label: 'simplecached Client', connect: simplecachedClient() },
  'simplecached-promise': { label: 'simplecached, Promises', connect: simplecachedPromiseClient },
  // Each get sent as its own command: what batching gets saves.
  'simplecached-unbatched': { label: 'simplecached, no batch', connect: simplecachedClient({ batchGets: false }) },
  'simplecached-pool': { label: 'simplecached, pool 4', connect: simplecachedClient({ poolSize: 4 }) },
  memcached: { label: 'npm memcached', connect: memcachedClient },
  memjs: { label: 'memjs (binary)', connect: memjsClient },
  // The same two over the server's Unix socket, beside their TCP loopback rows.
  'bare-unix': { label: 'bare, Unix socket', connect: bareClient, unix: true },
  'simplecached-unix': { label: 'simplecached, Unix', connect: simplecachedClient(), unix: true },
};

// ---------------------------------------------------------------- load

// Keys and values unique to one (server, client) run, so a value left by an earlier run cannot
// pass for this one's. Strings for the clients, Buffers to compare Buffer replies against.
function makeKeys(prefix) {
  const names = [];
  const values = [];
  const buffers = [];
  for (let i = 0; i < KEY_COUNT; i++) {
    names.push(`${prefix}:${i}`);
    values.push(`${prefix}:${i}:`.padEnd(VALUE_SIZE, 'v'));
    buffers.push(Buffer.from(values[i], 'latin1'));
  }
  return { names, values, buffers };
}

function sameValue(keys, i, value) {
  if (typeof value === 'string') return value === keys.values[i];
  return Buffer.isBuffer(value) && keys.buffers[i].equals(value);
}

// `inflight` slots, each with its callbacks made once, so the loop allocates no closure per
// request and its own cost stays small beside the client's. `pick(slot)` issues the slot's next
// request, or returns false when there is none; resolves once every slot has drained.
function drive(client, keys, inflight, pick) {
  return new Promise((resolve) => {
    const tally = { gets: 0, sets: 0, failure: null };
    let active = inflight;
    const watchdog = stallWatchdog(tally, () => active, resolve);
    const next = (slot) => {
      if (tally.failure === null && pick(slot)) return;
      if (--active === 0) {
        clearInterval(watchdog);
        resolve(tally);
      }
    };
    const fail = (message) => { if (tally.failure === null) tally.failure = message; };
    for (let n = 0; n < inflight; n++) {
      const slot = { i: 0 };
      slot.onGet = (err, value) => {
        if (err) fail(`get: ${err.message}`);
        else if (!sameValue(keys, slot.i, value)) fail(`get ${keys.names[slot.i]} returned ${String(value)}`);
        else tally.gets++;
        next(slot);
      };
      slot.onSet = (err, stored) => {
        if (err) fail(`set: ${err.message}`);
        else if (stored !== true) fail(`set ${keys.names[slot.i]} returned ${stored}`);
        else tally.sets++;
        next(slot);
      };
      next(slot);
    }
  });
}

// A client that loses a reply would leave its slot waiting forever: give up once a whole
// interval passes without any reply, and report it as a failure rather than hang.
function stallWatchdog(tally, activeCount, resolve) {
  let seen = -1;
  const timer = setInterval(() => {
    const done = tally.gets + tally.sets;
    if (done !== seen) {
      seen = done;
      return;
    }
    clearInterval(timer);
    tally.failure = tally.failure || `stalled: ${activeCount()} requests unanswered for ${STALL_MS / 1000} s`;
    resolve(tally);
  }, STALL_MS);
  return timer;
}

// Stores every key once, through the client under test.
function preload(client, keys, inflight) {
  let index = 0;
  return drive(client, keys, inflight, (slot) => {
    if (index === KEY_COUNT) return false;
    slot.i = index++;
    client.set(keys.names[slot.i], keys.values[slot.i], slot.onSet);
    return true;
  });
}

// 90% gets and 10% sets of random keys until `ms` have passed, then waits for the replies due.
function mixedLoad(client, keys, inflight, ms) {
  let stopping = false;
  const timer = setTimeout(() => { stopping = true; }, ms);
  return drive(client, keys, inflight, (slot) => {
    if (stopping) return false;
    slot.i = (Math.random() * KEY_COUNT) | 0;
    if (Math.random() < SET_RATIO) client.set(keys.names[slot.i], keys.values[slot.i], slot.onSet);
    else client.get(keys.names[slot.i], slot.onGet);
    return true;
  }).finally(() => clearTimeout(timer));
}

// Wall time and this process's CPU (user + system, every thread) over one mixed load.
async function measure(client, keys, options) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const tally = await mixedLoad(client, keys, options.inflight, options.duration * 1000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { ...tally, seconds, cpuMicros: cpu.user + cpu.system };
}

// ---------------------------------------------------------------- one run

// The server must have seen exactly the requests the client says were answered, all gets hits:
// a client that answered from anywhere but the server would fail here.
function checkServerCounts(before, after, tally) {
  const delta = (name) => after[name] - before[name];
  if (delta('cmd_get') !== tally.gets || delta('get_hits') !== tally.gets) {
    return `server counted ${delta('cmd_get')} gets (${delta('get_hits')} hits), client ${tally.gets}`;
  }
  if (delta('cmd_set') !== tally.sets) return `server counted ${delta('cmd_set')} sets, client ${tally.sets}`;
  return null;
}

function rowFrom(server, clientName, tally, before, after, baseline) {
  const ops = tally.gets + tally.sets;
  const serverCpu = (after.rusage_user + after.rusage_system - before.rusage_user - before.rusage_system) * 1e6;
  return {
    server: server.name,
    client: clientName,
    // Connections opened since `baseline`, less the two stats connections opened since.
    connections: after.total_connections - baseline.total_connections - 2,
    gets: tally.gets,
    sets: tally.sets,
    seconds: tally.seconds,
    opsPerSec: ops / tally.seconds,
    cpuMicrosPerOp: tally.cpuMicros / ops,
    serverCpuMicrosPerOp: serverCpu / ops,
    failure: tally.failure || checkServerCounts(before, after, tally),
  };
}

async function runClient(server, clientName, options, runIndex) {
  const keys = makeKeys(`r${runIndex}`);
  const baseline = await serverStats(server.port);
  const client = await CLIENTS[clientName].connect(CLIENTS[clientName].unix ? server.socket : server.port);
  try {
    const loaded = await preload(client, keys, options.inflight);
    if (loaded.failure) return { server: server.name, client: clientName, failure: `preload: ${loaded.failure}` };
    if (options.warmup > 0) {
      const warm = await mixedLoad(client, keys, options.inflight, options.warmup * 1000);
      if (warm.failure) return { server: server.name, client: clientName, failure: `warm-up: ${warm.failure}` };
    }
    const before = await serverStats(server.port);
    const tally = await measure(client, keys, options);
    const after = await serverStats(server.port);
    return rowFrom(server, clientName, tally, before, after, baseline);
  } finally {
    await client.close();
  }
}

async function runServer(serverName, options, results) {
  const server = await startServer(serverName);
  const clients = options.clients.filter((name) => !CLIENTS[name].unix || server.socket);
  try {
    for (const clientName of clients) {
      let row;
      try {
        row = await runClient(server, clientName, options, results.rows.length);
      } catch (err) {
        row = { server: serverName, client: clientName, failure: err.message };
      }
      results.rows.push(row);
      if (!options.json) console.error(`  ${serverName} / ${clientName}: ${row.failure ? `FAILED (${row.failure})` : `${Math.round(row.opsPerSec)} ops/s`}`);
    }
  } finally {
    await stopServer(server);
  }
}

// ---------------------------------------------------------------- report

// The targets, for each way of driving simplecached's Client that ran.
const OURS = ['simplecached', 'simplecached-promise', 'simplecached-unbatched', 'simplecached-pool'];

function ratiosFor(rows, serverName, client) {
  const find = (name) => rows.find((r) => r.server === serverName && r.client === name && !r.failure);
  const ours = find(client);
  const npm = find('memcached');
  const bare = find('bare');
  return {
    server: serverName,
    client,
    cpuVsMemcached: ours && npm ? ours.cpuMicrosPerOp / npm.cpuMicrosPerOp : null,
    opsVsBare: ours && bare ? ours.opsPerSec / bare.opsPerSec : null,
  };
}

// A client over the Unix socket against the same client over TCP loopback, on one server.
function unixVsTcp(rows, serverName, [tcpClient, unixClient]) {
  const find = (name) => rows.find((r) => r.server === serverName && r.client === name && !r.failure);
  const tcp = find(tcpClient);
  const unix = find(unixClient);
  if (!tcp || !unix) return null;
  return {
    server: serverName, client: tcpClient,
    ops: unix.opsPerSec / tcp.opsPerSec, cpu: unix.cpuMicrosPerOp / tcp.cpuMicrosPerOp,
    serverCpu: unix.serverCpuMicrosPerOp / tcp.serverCpuMicrosPerOp,
  };
}

const pad = (text, width) => String(text).padEnd(width);
const padLeft = (text, width) => String(text).padStart(width);

function formatRow(row) {
  const name = `${pad(row.server, 13)} ${pad(CLIENTS[row.client].label, 22)}`;
  if (row.failure) return `${name} FAILED: ${row.failure}`;
  return `${name} ${padLeft(row.connections, 5)} ${padLeft(Math.round(row.opsPerSec).toLocaleString('en-US'), 10)}`
    + ` ${padLeft(row.cpuMicrosPerOp.toFixed(2), 11)} ${padLeft(row.serverCpuMicrosPerOp.toFixed(2), 13)}`;
}

function formatRatio(value, target, atMost) {
  if (value === null) return 'n/a (a row is missing or failed)';
  const met = atMost ? value <= target : value >= target;
  return `${value.toFixed(2)} (target ${atMost ? '≤' : '≥'} ${target}: ${met ? 'met' : 'MISSED'})`;
}

function printTable(results) {
  const { options } = results;
  console.log(`${options.duration}s per client, ${options.inflight} in flight, 90% get / 10% set, ${VALUE_SIZE}-byte values, ${KEY_COUNT} keys`);
  console.log(`CPU µs/op: this Node process's user+system CPU over completed ops; server µs/op: the server's own rusage`);
  console.log(`${pad('server', 13)} ${pad('client', 22)} conns      ops/s  Node µs/op  server µs/op`);
  for (const row of results.rows) console.log(formatRow(row));
  for (const r of results.ratios) {
    console.log(`${r.server}, ${CLIENTS[r.client].label}: CPU/op ÷ npm memcached = ${formatRatio(r.cpuVsMemcached, TARGET_CPU_RATIO, true)};`
      + ` ops/s ÷ bare socket = ${formatRatio(r.opsVsBare, TARGET_OPS_RATIO, false)}`);
  }
  for (const r of results.unixRatios) {
    const show = (value) => (value === null ? 'n/a' : value.toFixed(2));
    console.log(`${r.server}, Unix socket ÷ TCP loopback, ${r.client}: ops/s ${show(r.ops)}, Node CPU/op ${show(r.cpu)}, server CPU/op ${show(r.serverCpu)}`);
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  installCleanup();
  const results = { options, rows: [], ratios: [], unixRatios: [] };
  for (const serverName of options.servers) await runServer(serverName, options, results);
  results.ratios = options.servers.flatMap((name) => OURS.filter((c) => options.clients.includes(c)).map((c) => ratiosFor(results.rows, name, c)));
  results.unixRatios = options.servers.flatMap((name) => [['bare', 'bare-unix'], ['simplecached', 'simplecached-unix']]
    .map((pair) => unixVsTcp(results.rows, name, pair)).filter(Boolean));
  if (options.json) console.log(JSON.stringify(results, null, 2));
  else printTable(results);
  // A failed row must not pass silently in a script or CI.
  if (results.rows.some((row) => row.failure)) process.exitCode = 1;
}

main().catch((err) => {
  killChildren();
  console.error(`bench/client.js: ${err.stack || err.message}`);
  process.exitCode = 1;
});

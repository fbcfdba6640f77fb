// bench/memory.js - the memory cases of bench/run.js: how much a server's resident memory (VmRSS)
// grows per idle connection and per stored item, measured around a load this module applies.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');

const HOST = '127.0.0.1';
const REPLY_TIMEOUT_MS = 30000;
// Node keeps allocating for a moment after it starts listening (about 200 KiB, which would be
// 20 B per connection of the 10k case), so the baseline is read only after a pause.
const BASELINE_SETTLE_MS = 500;

const { sleep } = require('./servers');

// ---------------------------------------------------------------- reading memory and limits

// VmRSS of a process in bytes. The pid must be the server itself, not a shell around it.
function residentBytes(pid) {
  let status;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw new Error(`cannot read /proc/${pid}/status (has the server exited?): ${err.message}`);
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

function openFilesLimit() {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  const value = (text) => (text === 'unlimited' ? Infinity : Number(text));
  return { soft: value(match[1]), hard: value(match[2]) };
}

// Node has already raised its soft limit to the hard one, so only the hard limit can fall short.
// Root may lift that for this process; servers started afterwards inherit the new limit.
function ensureOpenFiles(needed) {
  if (openFilesLimit().soft >= needed) return;
  if (process.getuid && process.getuid() === 0) {
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${needed}`], { stdio: 'ignore' });
  }
  const { soft } = openFilesLimit();
  if (soft < needed) {
    throw new Error(`the memory cases need ${needed} open files, but the limit is ${soft}; ` +
      `raise it (ulimit -n ${needed}) or leave them out (--only)`);
  }
}

// ---------------------------------------------------------------- a line-oriented connection

// One client connection to the memcached text protocol, reading replies line by line.
// Writes may start before the connection is up: the socket queues them.
class LineConnection {
  constructor(port) {
    this.socket = net.connect(port, HOST);
    this.socket.setEncoding('latin1');
    this.buffered = '';
    this.lines = [];
    this.waiters = [];
    this.closing = false;
    this.closedByServer = false;
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.closed());
  }

  receive(chunk) {
    this.buffered += chunk;
    let end;
    while ((end = this.buffered.indexOf('\r\n')) >= 0) {
      this.lines.push(this.buffered.slice(0, end));
      this.buffered = this.buffered.slice(end + 2);
    }
    this.dispatch();
  }

  dispatch() {
    while (this.lines.length > 0 && this.waiters.length > 0) this.waiters.shift().resolve(this.lines.shift());
  }

  fail(err) {
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
  }

  closed() {
    // A server that drops idle connections would otherwise look cheaper than it is.
    if (!this.closing) this.closedByServer = true;
    this.fail(new Error('connection closed by the server'));
  }

  send(text) {
    this.socket.write(text, 'latin1');
  }

  nextLine() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      const settle = (fn) => (value) => { clearTimeout(timer); fn(value); };
      this.waiters.push({ resolve: settle(resolve), reject: settle(reject) });
      this.dispatch();
    });
  }

  // Any other line (an error, a reply to a set that should have been noreply) means the load
  // did not go as intended, so the figure would be wrong.
  async version() {
    this.send('version\r\n');
    const line = await this.nextLine();
    if (!line.startsWith('VERSION ')) throw new Error(`expected a VERSION reply, got "${line}"`);
  }

  async stats() {
    this.send('stats\r\n');
    const stats = {};
    for (let line = await this.nextLine(); line !== 'END'; line = await this.nextLine()) {
      const [word, name, value] = line.split(' ');
      if (word !== 'STAT') throw new Error(`unexpected line in stats reply: "${line}"`);
      stats[name] = Number(value);
    }
    return stats;
  }

  close() {
    this.closing = true;
    this.socket.destroy();
  }
}

// Stats from a connection of its own, opened only after the memory was read.
async function serverStats(port) {
  const connection = new LineConnection(port);
  try {
    return await connection.stats();
  } finally {
    connection.close();
  }
}

// ---------------------------------------------------------------- measurements

// One round trip before the baseline, so code paths run for the first time and buffers sized
// once are not charged to the connections or items that follow.
async function readBaseline(server, connection) {
  await connection.version();
  await sleep(BASELINE_SETTLE_MS);
  return residentBytes(server.child.pid);
}

// Sequential round trips on the warm-up connection before the baseline: each is a turn of the
// server's event loop, and Node allocates a little garbage on every turn, so its young generation
// reaches its working size (~1 MiB, whatever the load) during the warm-up rather than while the
// connections being measured arrive. Both servers get the same warm-up.
const WARMUP_ROUND_TRIPS = 20000;

// The warm-up connection is closed before the load, so only the measured connections are open.
async function baselineAfterWarmup(server) {
  const warmup = new LineConnection(server.port);
  try {
    for (let i = 1; i < WARMUP_ROUND_TRIPS; i++) await warmup.version();
    return await readBaseline(server, warmup);
  } finally {
    warmup.close();
  }
}

function growth(before, after, count) {
  return { rss_before: before, rss_after: after, count, bytes_per_unit: (after - before) / count };
}

// Opens a batch at once, like a burst of clients; each is served one `version` and left idle.
function serveBatch(port, size, open) {
  return Promise.all(Array.from({ length: size }, () => {
    const connection = new LineConnection(port);
    open.push(connection);
    return connection.version();
  }));
}

// Server RSS growth per idle connection. load: { connections, batch, settleMs }.
async function idleConnections(server, load) {
  const before = await baselineAfterWarmup(server);
  const open = [];
  try {
    for (let done = 0; done < load.connections; done += load.batch) {
      await serveBatch(server.port, Math.min(load.batch, load.connections - done), open);
    }
    await sleep(load.settleMs);
    const after = residentBytes(server.child.pid);
    await checkConnections(server, open, load.connections);
    return growth(before, after, load.connections);
  } finally {
    for (const connection of open) connection.close();
  }
}

async function checkConnections(server, open, expected) {
  const dropped = open.filter((connection) => connection.closedByServer).length;
  if (dropped > 0) throw new Error(`${server.label} closed ${dropped} of the ${expected} idle connections`);
  // Counted by the server too (it includes the stats connection, memcached also its listener).
  const { curr_connections: current } = await serverStats(server.port);
  if (!(current >= expected)) {
    throw new Error(`${server.label} reports ${current} connections, expected at least ${expected}`);
  }
}

// 10-byte keys, k000000000 to k999999999.
function itemKey(i) {
  return `k${String(i).padStart(9, '0')}`;
}

function setCommands(first, count, value) {
  let text = '';
  for (let i = first; i < first + count; i++) text += `set ${itemKey(i)} 0 0 ${value.length} noreply\r\n${value}\r\n`;
  return text;
}

// noreply sets are never answered, so a version round trip every syncEvery sets bounds what is
// queued between us and the server, and the last one returns only once every set was processed.
async function storeItems(connection, load) {
  const value = 'v'.repeat(load.valueBytes);
  let sinceSync = 0;
  for (let first = 0; first < load.items; first += load.perWrite) {
    const count = Math.min(load.perWrite, load.items - first);
    connection.send(setCommands(first, count, value));
    sinceSync += count;
    if (sinceSync >= load.syncEvery && first + count < load.items) {
      await connection.version();
      sinceSync = 0;
    }
  }
  await connection.version();
}

// Server RSS growth per stored item. load: { items, valueBytes, perWrite, syncEvery, settleMs }.
async function storedItems(server, load) {
  const connection = new LineConnection(server.port);
  try {
    const before = await readBaseline(server, connection);
    await storeItems(connection, load);
    await sleep(load.settleMs);
    const after = residentBytes(server.child.pid);
    await checkItems(server, connection, load.items);
    return growth(before, after, load.items);
  } finally {
    connection.close();
  }
}

// A server that dropped or evicted items would otherwise look cheaper than it is.
async function checkItems(server, connection, expected) {
  const { curr_items: items, evictions } = await connection.stats();
  if (items !== expected || evictions !== 0) {
    throw new Error(`${server.label} holds ${items} items (${evictions} evicted), expected ${expected}`);
  }
}

module.exports = { idleConnections, storedItems, ensureOpenFiles };

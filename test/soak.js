#!/usr/bin/env node
// Soak (npm run soak): a server under a bounded mixed workload with faults injected, then checked:
// alive, RSS within bounds, every acknowledged write readable unless evicted or expired, counters consistent.
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { parseArgs } = require('util');
const { Client } = require('..');

const USAGE = `Usage: node test/soak.js [--duration <s>] [--memory <MiB>] [--threads <n>] [--seed <n>]
  Runs bin/server.js under writers, readers and faults for --duration seconds (default 600),
  then checks it. Exits 0 when every check passes, 1 otherwise.`;

const MAX_ITEM = 256 * 1024;
const WRITERS = 6;
const READERS = 4;
// A kernel, Node and the server's own buffers and tables come on top of the items' memory.
const RSS_SLACK = 48 * 1024 * 1024;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function options() {
	const { values } = parseArgs({
		options: { duration: { type: 'string' }, memory: { type: 'string' }, threads: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' } },
	});
	if (values.help) {
		console.log(USAGE);
		process.exit(0);
	}
	return {
		duration: Number(values.duration || 600) * 1000,
		memory: Number(values.memory || 32),
		threads: Number(values.threads || 2),
		seed: Number(values.seed || Date.now() % 2 ** 31),
	};
}

// A small deterministic generator, so a failing run can be repeated with --seed.
function rng(seed) {
	let s = seed >>> 0 || 1;
	const next = () => {
		s ^= s << 13; s >>>= 0;
		s ^= s >>> 17;
		s ^= s << 5; s >>>= 0;
		return s / 2 ** 32;
	};
	return { next, int: (n) => Math.floor(next() * n), chance: (p) => next() < p };
}

function residentBytes(pid) {
	return Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

async function startServer(opts) {
	const args = [path.join(__dirname, '..', 'bin', 'server.js'), '-p', '0', '--memcached-port', '0', '-m', String(opts.memory),
		'-t', String(opts.threads), '-I', String(MAX_ITEM), '--write-timeout', '2'];
	const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
	let out = '';
	child.stdout.on('data', (d) => { out += d; });
	const match = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 10000);
		child.stdout.on('data', () => {
			const m = /listening on [\d.]+:(\d+) .*, [\d.]+:(\d+) \(memcached/.exec(out);
			if (m) { clearTimeout(timer); resolve(m); }
		});
		child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
	});
	return { child, seedPort: Number(match[1]), port: Number(match[2]) };
}

// Every write per key, in order, stamped with a logical clock when it was sent and when it was
// acknowledged. One writer owns each key, so a read that started at time `since` may return the
// last write acknowledged before `since`, or any write sent after it (in flight, or acknowledged
// while the read was on its way), or nothing (eviction, expiry) — never an older value.
const HISTORY = 16;

class Ledger {
	constructor() {
		this.keys = new Map();
		this.clock = 0;
		this.acknowledged = 0;
	}

	begin(key, state) {
		const history = this.keys.get(key) || [];
		history.push({ state, sent: ++this.clock, acked: Infinity });
		if (history.length > HISTORY) history.shift();
		this.keys.set(key, history);
	}

	end(key) {
		const history = this.keys.get(key);
		const last = history[history.length - 1];
		last.acked = ++this.clock;
		if (!last.state.deleted) this.acknowledged++;
	}

	// The last write of a key if it was acknowledged (none is in flight once the writers stop).
	final(key) {
		const history = this.keys.get(key);
		const last = history[history.length - 1];
		return last.acked === Infinity ? null : last.state;
	}

	static stored(value, ttl) {
		return { digest: digest(value), length: value.length, expires: ttl ? Date.now() + ttl * 1000 : 0 };
	}

	// Throws when a read that started at `since` shows a value it may not; 'absent' or 'present'.
	check(key, value, since, readAt = Date.now()) {
		if (value === null) return 'absent';
		const history = this.keys.get(key);
		if (!history) throw new Error(`${key}: a value that was never written`);
		let from = 0;
		history.forEach((write, i) => { if (write.acked <= since) from = i; });
		const matches = ({ state }) => !state.deleted && value.length === state.length && digest(value) === state.digest &&
			// Expiry has one-second granularity on the server's clock.
			!(state.expires && readAt > state.expires + 2000);
		if (!history.slice(from).some(matches)) {
			const base = history[from].state;
			throw new Error(`${key}: ${value.length} bytes, which is neither the write acknowledged before the read ` +
				`(${base.deleted ? 'a delete' : `${base.length} bytes`}) nor a later one`);
		}
		return 'present';
	}
}

const digest = (buf) => crypto.createHash('sha1').update(buf).digest('base64');

function valueOf(r) {
	// The item limit counts the key and memcached's item header too, hence the margin.
	const size = r.chance(0.7) ? r.int(200) : r.chance(0.8) ? r.int(8192) : r.int(MAX_ITEM - 1024);
	const value = Buffer.allocUnsafe(size);
	for (let i = 0; i < size; i += 4096) value[i] = r.int(256);
	return crypto.randomFillSync(value, 0, Math.min(size, 64));
}

async function writer(id, port, ledger, until, r, counts) {
	const client = new Client({ port, protocol: 'memcached', encoding: null });
	try {
		while (Date.now() < until) {
			const key = `w${id}:${r.int(2000)}`;
			if (r.chance(0.1)) {
				ledger.begin(key, { deleted: true });
				await client.delete(key);
			} else {
				const value = valueOf(r);
				const ttl = r.chance(0.05) ? 1 + r.int(3) : 0;
				ledger.begin(key, Ledger.stored(value, ttl));
				assert.strictEqual(await client.set(key, value, { ttl }), true);
			}
			ledger.end(key);
			counts.writes++;
		}
	} finally {
		await client.close();
	}
}

async function reader(id, port, ledger, until, r, counts) {
	const client = new Client({ port, protocol: 'memcached', encoding: null });
	try {
		while (Date.now() < until) {
			const key = `w${r.int(WRITERS)}:${r.int(2000)}`;
			const since = ledger.clock;
			ledger.check(key, await client.get(key), since);
			counts.reads++;
		}
	} finally {
		await client.close();
	}
}

// One fault: a raw connection that misbehaves, then goes away. None may disturb the others.
async function fault(r, ports, counts) {
	const kind = r.int(5);
	const socket = net.connect(kind === 4 ? ports.seedPort : ports.port, '127.0.0.1');
	socket.on('error', () => {});
	await new Promise((resolve) => { socket.once('connect', resolve); socket.once('close', resolve); });
	switch (kind) {
	case 0: // dropped in the middle of a data block
		socket.write(`set w0:${r.int(2000)} 0 0 1000\r\n${'x'.repeat(r.int(999))}`);
		break;
	case 1: // a slow reader that never reads its replies
		socket.pause();
		socket.write(`get ${Array.from({ length: 40 }, () => `w${r.int(WRITERS)}:${r.int(2000)}`).join(' ')}\r\n`.repeat(50));
		await sleep(500 + r.int(3000));
		break;
	case 2: // an oversized value, which must be refused
		socket.write(`set oversized 0 0 ${MAX_ITEM + 1}\r\n`);
		socket.write(Buffer.alloc(MAX_ITEM + 3));
		break;
	case 3: // garbage
		socket.write(crypto.randomBytes(r.int(5000)));
		break;
	default: // the seed protocol, with garbage among valid lines
		socket.write(`set soak-seed ${r.int(1e6)}\r\nget soak-seed\r\n${crypto.randomBytes(200).toString('latin1')}\r\n`);
	}
	await sleep(r.int(200));
	socket.destroy();
	counts.faults++;
}

async function faults(ports, until, r, counts) {
	while (Date.now() < until) {
		await Promise.all(Array.from({ length: 4 }, () => fault(r, ports, counts)));
	}
}

async function main() {
	const opts = options();
	console.log(`soak: ${opts.duration / 1000} s, ${opts.memory} MiB, ${opts.threads} threads, seed ${opts.seed}`);
	const server = await startServer(opts);
	const failures = [];
	try {
		await sleep(500);
		const rssStart = residentBytes(server.child.pid);
		const ledger = new Ledger();
		const counts = { writes: 0, reads: 0, faults: 0 };
		const until = Date.now() + opts.duration;
		let rssPeak = rssStart;
		const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, residentBytes(server.child.pid)); }, 500);
		const work = [
			...Array.from({ length: WRITERS }, (_, i) => writer(i, server.port, ledger, until, rng(opts.seed + i), counts)),
			...Array.from({ length: READERS }, (_, i) => reader(i, server.port, ledger, until, rng(opts.seed + 100 + i), counts)),
			faults(server, until, rng(opts.seed + 200), counts),
		];
		const outcomes = await Promise.allSettled(work);
		clearInterval(sampler);
		for (const o of outcomes) if (o.status === 'rejected') failures.push(`during the load: ${o.reason.stack || o.reason}`);

		// The server is alive and every acknowledged write reads back, unless evicted or expired.
		const checker = new Client({ port: server.port, protocol: 'memcached', encoding: null });
		assert.match(await checker.version(), /^1\.6\.18$/);
		await sleep(2500);
		let absent = 0;
		let present = 0;
		for (const key of ledger.keys.keys()) {
			try {
				const last = ledger.final(key);
				const state = ledger.check(key, await checker.get(key), ledger.clock);
				if (state === 'present') present++;
				else if (last && !last.deleted && !last.expires) absent++;
			} catch (err) {
				failures.push(err.message);
			}
		}
		const stats = await checker.stats();
		await checker.close();
		await sleep(3000);
		const after = new Client({ port: server.port, protocol: 'memcached' });
		const final = await after.stats();
		await after.close();

		// Counters agree with one another and with what the load did.
		const check = (ok, what) => { if (!ok) failures.push(what); };
		check(absent <= Number(stats.evictions), `${absent} acknowledged keys are gone but only ${stats.evictions} items were evicted`);
		check(Number(stats.cmd_set) >= ledger.acknowledged, `cmd_set ${stats.cmd_set} < ${ledger.acknowledged} acknowledged sets`);
		check(Number(stats.get_hits) + Number(stats.get_misses) === Number(stats.cmd_get), 'get_hits + get_misses != cmd_get');
		check(Number(final.curr_connections) === 1, `${final.curr_connections} connections open at the end, expected only the stats one`);
		check(Number(stats.store_too_large) > 0 || counts.faults < 20, 'no oversized value was refused');
		const rssLimit = rssStart + opts.memory * 1024 * 1024 + RSS_SLACK;
		check(rssPeak <= rssLimit, `RSS peaked at ${(rssPeak / 2 ** 20).toFixed(1)} MiB, over ${(rssLimit / 2 ** 20).toFixed(1)} MiB`);
		console.log(JSON.stringify({
			...counts, acknowledged: ledger.acknowledged, keys: ledger.keys.size, present, absent, evictions: Number(stats.evictions),
			rss_start_mib: +(rssStart / 2 ** 20).toFixed(1), rss_peak_mib: +(rssPeak / 2 ** 20).toFixed(1), connections_total: Number(final.total_connections),
		}));
	} catch (err) {
		failures.push(err.stack || String(err));
	} finally {
		server.child.kill('SIGTERM');
		const code = await new Promise((resolve) => server.child.once('exit', resolve));
		if (code !== 0) failures.push(`the server exited with ${code} after SIGTERM`);
	}
	if (failures.length > 0) {
		console.error(`soak: ${failures.length} failure(s):\n  ${failures.slice(0, 20).join('\n  ')}`);
		process.exit(1);
	}
	console.log('soak: every check passed');
}

main();

// Warm restart: a server with a restart file keeps its items across a graceful stop (values, flags,
// expiry in wall-clock time, cas uniques), keeps the most recently used when the new limit is smaller,
// and refuses damaged, truncated or half-written files whole, moving them aside.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Engine } = require('../lib/engine');
const { exchange, pipeline: run, waitFor, startServer, connect } = require('./helpers/server');
const { run: spawnNode, startCli, exitWithin } = require('./helpers/process');

function tmpFile(name) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-restart-'));
	return path.join(dir, name);
}

// The port of the memcached protocol named in the CLI's banner.
const memcachedPortOf = (cli) => Number(/memcached on [^\s,]+:(\d+)/.exec(cli.out.stdout)[1]);

async function stopCli(cli, signal = 'SIGTERM') {
	cli.child.kill(signal);
	const result = await exitWithin(cli, 60000, `server after ${signal}`);
	assert.strictEqual(result.code, 0, result.stderr);
	return result;
}

// `gets` of every key, in order, as the server answers them (values, flags and cas uniques).
async function getsAll(port, keys) {
	const out = [];
	for (let i = 0; i < keys.length; i += 100) out.push(await run(port, [`gets ${keys.slice(i, i + 100).join(' ')}`]));
	return out.join('');
}

const casValues = (text) => [...text.matchAll(/^VALUE \S+ \d+ \d+ (\d+)\r$/gm)].map((m) => BigInt(m[1]));

describe('restart: a restart file keeps the cache across a graceful stop', function () {
	this.timeout(120000);

	it('100k items of mixed sizes, flags and expiries come back byte for byte with their cas; expired ones do not; later cas are higher', async function () {
		const file = tmpFile('cache.snap');
		const args = ['-p', '0', '--memcached-port', '0', '-m', '128', '-e', file];
		let cli = await startCli(args);
		const port = memcachedPortOf(cli);
		const keys = [];
		const lines = [];
		for (let i = 0; i < 100000; i++) {
			const key = `k${i}`;
			const size = i % 97 === 0 ? 5000 + (i % 3000) : i % 200;
			const ttl = i % 10 === 0 ? 3600 : 0;
			lines.push(`set ${key} ${i % 7 === 0 ? 0 : i} ${ttl} ${size} noreply`, String.fromCharCode(97 + (i % 26)).repeat(size));
			keys.push(key);
		}
		await run(port, lines);
		const before = await getsAll(port, keys);
		assert.strictEqual(casValues(before).length, keys.length);
		// Items with a 3-second expiry, saved and then expired during the downtime (on a machine slow
		// enough to take 3 s to stop, expired before the save: gone either way).
		await run(port, Array.from({ length: 50 }, (_, i) => [`set short${i} 0 3 1`, 's']).flat());
		const expiry = Date.now() + 4000;
		await stopCli(cli);
		await waitFor(() => Date.now() > expiry, { what: 'the 3-second items to expire', timeoutMs: 10000 });
		cli = await startCli(args);
		try {
			const [, items, expired] = /restored (\d+) items from .* \((\d+) expired, 0 did not fit\)/.exec(cli.out.stdout) || [];
			assert.strictEqual(Number(items), 100000, cli.out.stdout);
			assert.ok(Number(expired) <= 50, cli.out.stdout);
			const port2 = memcachedPortOf(cli);
			assert.strictEqual(await getsAll(port2, keys), before);
			assert.match(await run(port2, ['stats']), /STAT restart_loaded_items 100000\r\nSTAT restart_expired_items \d+\r\nSTAT restart_dropped_items 0\r\n/);
			assert.strictEqual(await run(port2, ['get short0 short49']), 'END\r\n');
			// The seed protocol sees them too.
			assert.strictEqual(await exchange(cli.port, ['get k1\r\n'], 'VALUE k1 b\r\nEND\r\n'), 'VALUE k1 b\r\nEND\r\n');
			const highest = casValues(before).reduce((a, b) => (a > b ? a : b));
			const fresh = await run(port2, ['set new 0 0 1', 'n', 'gets new']);
			assert.ok(casValues(fresh)[0] > highest, `${casValues(fresh)[0]} after ${highest}`);
		} finally {
			await stopCli(cli);
		}
	});

	it('a smaller memory limit after the restart keeps the most recently used items', async function () {
		const file = tmpFile('cache.snap');
		let server = await startServer({ memcachedPort: 0, memoryLimit: 32 << 20, restartFile: file });
		const port = server.address('memcached').port;
		const value = 'v'.repeat(1000);
		const lines = [];
		for (let i = 0; i < 20000; i++) lines.push(`set old${i} 0 0 1000 noreply`, value);
		await run(port, lines);
		// Read 2,000 of them a second later: their last access is then the newest.
		const uptime = async () => Number(/STAT uptime (\d+)/.exec(await run(port, ['stats']))[1]);
		const t0 = await uptime();
		await waitFor(async () => (await uptime()) > t0, { what: 'the server clock to tick', timeoutMs: 10000 });
		const recent = Array.from({ length: 2000 }, (_, i) => `old${i * 10}`);
		for (let i = 0; i < recent.length; i += 100) await run(port, [`get ${recent.slice(i, i + 100).join(' ')}`]);
		await server.close();
		const restored = [];
		server = await new Promise((resolve, reject) => {
			const s = new (require('../lib/server'))({ port: 0, memcachedPort: 0, memoryLimit: 8 << 20, restartFile: file }, (e) => (e ? reject(e) : resolve(s)));
			s.on('restore', (r) => restored.push(r));
		});
		try {
			assert.strictEqual(restored.length, 1);
			assert.ok(restored[0].dropped > 10000 && restored[0].items + restored[0].dropped === 20000, JSON.stringify(restored[0]));
			const text = await getsAll(server.address('memcached').port, recent);
			assert.strictEqual(casValues(text).length, recent.length, 'every recently read item was kept');
		} finally {
			await server.close();
		}
	});
});

describe("restart: memcached's t/restart.t, in its equivalent form", function () {
	this.timeout(120000);

	it('values of every power-of-two size to 1 MiB and large ones come back; a short TTL expires while stopped, a longer one stays; then -I, -m and -t change', async function () {
		const file = tmpFile('mc_restart');
		const args = ['-p', 'off', '--memcached-port', '0', '-m', '128', '-e', file, '-I', '2m'];
		let cli = await startCli(args);
		let port = memcachedPortOf(cli);
		const sizes = [];
		for (let size = 2; size <= 1 << 20; size *= 2) sizes.push(size);
		const chunked = [];
		for (let size = 768000; size <= 768000 + 1024; size += 50) chunked.push(size);
		const sets = [...sizes.map((n, i) => [`set foo${i} 0 0 ${n}`, 'x'.repeat(n)]), ...chunked.map((n, i) => [`set chunk${i} 0 0 ${n}`, 'x'.repeat(n)])];
		assert.strictEqual(await run(port, sets.flat()), 'STORED\r\n'.repeat(sets.length));
		assert.strictEqual(await run(port, [`delete chunk${chunked.length - 1}`, 'set low1 0 3 2', 'bo', 'set low2 0 3600 2', 'mo']), 'DELETED\r\nSTORED\r\nSTORED\r\n');
		// As restart.t: stopping with a log watcher attached is fine.
		const watcher = await connect(port);
		assert.strictEqual(await watcher.request('watch fetchers mutations\n', 'OK\r\n'), 'OK\r\n');
		const expiry = Date.now() + 4000;
		await stopCli(cli);
		await watcher.closed;
		await waitFor(() => Date.now() > expiry, { what: 'low1 to expire', timeoutMs: 10000 });
		cli = await startCli(args);
		port = memcachedPortOf(cli);
		const value = (key, n) => `VALUE ${key} 0 ${n}\r\n${'x'.repeat(n)}\r\nEND\r\n`;
		try {
			assert.strictEqual(await run(port, ['get low1', 'get low2']), 'END\r\nVALUE low2 0 2\r\nmo\r\nEND\r\n');
			for (const [i, n] of sizes.entries()) assert.strictEqual(await run(port, [`get foo${i}`]), value(`foo${i}`, n), `foo${i}`);
			for (const [i, n] of chunked.entries()) {
				assert.strictEqual(await run(port, [`get chunk${i}`]), i === chunked.length - 1 ? 'END\r\n' : value(`chunk${i}`, n), `chunk${i}`);
			}
		} finally {
			await stopCli(cli);
		}
		// memcached refuses its file when -m or -I change; here what still fits stays: -I 512k drops
		// the items over it, -t 4 shards the store differently.
		cli = await startCli(['-p', 'off', '--memcached-port', '0', '-m', '64', '-e', file, '-I', '512k', '-t', '4']);
		try {
			const over = sizes.filter((n) => n + 60 > 512 * 1024).length + chunked.length - 1;
			assert.match(cli.out.stdout, new RegExp(`restored ${sizes.length - sizes.filter((n) => n + 60 > 512 * 1024).length + 1} items .*\\(0 expired, ${over} did not fit\\)`));
			port = memcachedPortOf(cli);
			assert.strictEqual(await run(port, ['get foo9']), value('foo9', 1024));
			assert.strictEqual(await run(port, [`get foo${sizes.length - 1}`]), 'END\r\n');
		} finally {
			await stopCli(cli);
		}
	});
});

describe('restart: snapshots while serving', function () {
	it('snapshotInterval saves in the background, counted in stats; each file loads whole', async function () {
		const file = tmpFile('cache.snap');
		const server = await startServer({ memcachedPort: 0, restartFile: file, snapshotInterval: 1 });
		try {
			const port = server.address('memcached').port;
			const saves = async () => Number(/STAT snapshot_saves (\d+)\r/.exec(await run(port, ['stats']))[1]);
			assert.strictEqual(await saves(), 0);
			await run(port, ['set a 0 0 1', 'x']);
			await waitFor(async () => (await saves()) >= 1, { what: 'a background save', timeoutMs: 20000 });
			await run(port, ['set b 0 0 1', 'y']);
			const report = await server.snapshot();
			assert.strictEqual(report.items, 2);
			assert.match(await run(port, ['stats']), /STAT snapshot_failures 0\r\nSTAT snapshot_last_items 2\r\n/);
			const copy = new Engine({ memoryLimit: 16 << 20 });
			assert.strictEqual((await copy.load(file)).items, 2);
			assert.strictEqual(String(copy.get('b')), 'y');
		} finally {
			await server.close();
		}
	});
});

describe('restart: partial saves of processes that died while saving', function () {
	it("are removed at the next start, with a warning each; a running process's and other files stay", async function () {
		const file = tmpFile('cache.snap');
		const dead = spawnNode(['-e', '']);
		await dead.exited;
		const abandoned = [`${file}.tmp.${dead.child.pid}.1`, `${file}.tmp.${dead.child.pid}.7`];
		// This test's process runs on while the server starts: its partial save may still be written.
		const running = `${file}.tmp.${process.pid}.1`;
		const others = [`${file}.tmp.notapid.1`, `${file}.bad`, `${file}x.tmp.${dead.child.pid}.1`];
		for (const f of [...abandoned, running, ...others]) fs.writeFileSync(f, 'partial');
		const cli = await startCli(['-p', '0', '--memcached-port', '0', '--restart-file', file]);
		try {
			for (const f of abandoned) {
				assert.ok(!fs.existsSync(f), `${f} removed`);
				// stderr and stdout are two pipes: the warning, written first, may be read after the banner.
				await waitFor(() => cli.out.stderr.includes(`removed ${f}: a save its process did not finish`), { what: `the warning for ${f}` });
			}
			for (const f of [running, ...others]) assert.ok(fs.existsSync(f), `${f} left alone`);
			assert.match(await run(memcachedPortOf(cli), ['set k 0 0 1', 'v']), /^STORED\r\n$/);
		} finally {
			await stopCli(cli);
		}
		assert.ok(fs.existsSync(file), 'the stop saved the file');
	});
});

describe('restart: damaged files are refused whole', function () {
	this.timeout(120000);
	let file;
	let good;
	before(async () => {
		file = tmpFile('cache.snap');
		const engine = new Engine({ memoryLimit: 16 << 20 });
		for (let i = 0; i < 3000; i++) engine.set(`key${i}`, 'x'.repeat(i % 300));
		const report = await engine.save(file);
		assert.strictEqual(report.items, 3000);
		good = fs.readFileSync(file);
	});

	it('every one of 200 flipped bytes or truncations fails the load with EBADSNAPSHOT and loads nothing', async function () {
		let seed = 12345;
		const random = (n) => {
			seed = (seed * 1103515245 + 12345) % 2147483648;
			return seed % n;
		};
		const damaged = tmpFile('damaged.snap');
		for (let round = 0; round < 200; round++) {
			const offset = random(good.length);
			const bytes = round % 2 === 0 ? Buffer.from(good) : good.subarray(0, offset);
			if (round % 2 === 0) bytes[offset] ^= 1 << random(8);
			fs.writeFileSync(damaged, bytes);
			const engine = new Engine({ memoryLimit: 16 << 20 });
			await assert.rejects(engine.load(damaged), (err) => err.code === 'EBADSNAPSHOT' && err.message.startsWith(damaged), `round ${round}, offset ${offset}`);
			assert.strictEqual(engine.stats().curr_items, 0, `round ${round}: nothing loaded`);
		}
		const intact = new Engine({ memoryLimit: 16 << 20 });
		assert.strictEqual((await intact.load(file)).items, 3000);
	});

	it('a server given a damaged file says so, moves it to .bad and starts empty', async function () {
		const damaged = tmpFile('cache.snap');
		const bytes = Buffer.from(good);
		bytes[bytes.length >> 1] ^= 0x40;
		fs.writeFileSync(damaged, bytes);
		const cli = await startCli(['-p', '0', '--memcached-port', '0', '--restart-file', damaged]);
		try {
			assert.match(cli.out.stderr, /fails its checksum; moved it to .*\.bad and started empty/);
			assert.ok(fs.existsSync(`${damaged}.bad`) && !fs.existsSync(damaged));
			assert.match(await run(memcachedPortOf(cli), ['stats']), /STAT curr_items 0\r/);
		} finally {
			await stopCli(cli);
		}
		assert.ok(fs.existsSync(damaged), 'the stop saved a new file');
	});

	it('a process killed -9 during 50 saves always leaves a complete snapshot: the last whole one', async function () {
		const file = tmpFile('cache.snap');
		// The child saves generation after generation: every item of one save carries its number.
		const script = `
			const { Engine } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'engine'))});
			const engine = new Engine({ memoryLimit: 16 << 20 });
			(async () => {
				for (let gen = 1; ; gen++) {
					for (let i = 0; i < 2000; i++) engine.set('k' + i, gen + ':' + 'x'.repeat(i % 200));
					process.stdout.write('saving ' + gen + '\\n');
					await engine.save(${JSON.stringify(file)});
				}
			})();`;
		for (let round = 0; round < 50; round++) {
			const child = spawnNode(['-e', script]);
			const target = 2 + (round % 5);
			await waitFor(() => child.out.stdout.includes(`saving ${target}\n`), { what: `save ${target}`, timeoutMs: 30000 });
			child.child.kill('SIGKILL');
			await child.exited;
			const engine = new Engine({ memoryLimit: 16 << 20 });
			const report = await engine.load(file);
			assert.strictEqual(report.items, 2000, `round ${round}`);
			const generations = new Set();
			for (let i = 0; i < 2000; i++) generations.add(engine.get(`k${i}`).toString().split(':')[0]);
			assert.strictEqual(generations.size, 1, `round ${round}: one save's items, not a mix (${[...generations]})`);
			assert.ok(Number([...generations][0]) >= target - 1, `round ${round}: generation ${[...generations]} before ${target}`);
		}
	});
});

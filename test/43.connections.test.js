// Connection limits: the idle timeout (memcached's idle_timeout, also the cure for slowloris), the
// write timeout for readers that stop reading, max-connections from the open-files limit, EMFILE.
'use strict';

const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { startServer, connect, waitFor, exchange } = require('./helpers/server');
const { CLI, startCli, exitWithin, run } = require('./helpers/process');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function statsOf(port, group = '') {
	const reply = await exchange(port, [`stats${group ? ` ${group}` : ''}\r\n`], (text) => text.endsWith('END\r\n'));
	return new Map(reply.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => l.split(' ').slice(1)));
}

describe('connections: idle timeout', function () {
	this.timeout(60000);
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0, idleTimeout: 1 });
		port = server.address('memcached').port;
	});
	after(() => server.close());

	it('closes a connection that sends nothing, and keeps one that sends commands', async () => {
		const kicksBefore = Number((await statsOf(port)).get('idle_kicks'));
		const idle = await connect(port);
		const busy = await connect(port);
		const started = Date.now();
		// The busy connection sends command after command until the idle one is closed.
		while (!idle.isClosed) {
			assert.strictEqual(await busy.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
			await new Promise(setImmediate);
		}
		assert.ok(!busy.isClosed, 'the busy connection was closed');
		assert.ok(Date.now() - started >= 1000, `the idle connection was closed after ${Date.now() - started} ms`);
		assert.strictEqual(Number((await statsOf(port)).get('idle_kicks')), kicksBefore + 1);
		await busy.destroy();
	});

	it('closes a slowloris connection that trickles a command without ever finishing it', async () => {
		const slow = await connect(port);
		// A byte every 200 ms, until the server closes it (or mocha's timeout fails the test).
		while (!slow.isClosed) {
			slow.write('g');
			await Promise.race([slow.closed, sleep(200)]);
		}
		assert.strictEqual(slow.buffer.length, 0, 'it was answered although it never sent a whole command');
	});

	it('reports idle_timeout and idle_kicks where memcached does', async function () {
		needs('memcached').call(this);
		const memcached = await startMemcached(['-o', 'idle_timeout=1']);
		const plain = await startServer({ port: false, memcachedPort: 0 });
		try {
			const names = (stats) => [...stats.keys()].filter((n) => ['store_no_memory', 'idle_kicks', 'bytes_read'].includes(n));
			assert.deepStrictEqual(names(await statsOf(port)), names(await statsOf(memcached.port)));
			assert.deepStrictEqual(names(await statsOf(plain.address('memcached').port)), ['store_no_memory', 'bytes_read']);
			assert.strictEqual((await statsOf(port, 'settings')).get('idle_timeout'), '1');
			assert.strictEqual((await statsOf(memcached.port, 'settings')).get('idle_timeout'), '1');
		} finally {
			await Promise.all([memcached.stop(), plain.close()]);
		}
	});
});

describe('connections: readers that stop reading, writers that stop writing', function () {
	this.timeout(60000);
	let server;
	let port;
	const VALUE = 'x'.repeat(256 * 1024);
	const REPLY = `VALUE big 0 ${VALUE.length}\r\n${VALUE}\r\nEND\r\n`;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0, writeTimeout: 1 });
		port = server.address('memcached').port;
		assert.strictEqual(await exchange(port, [`set big 0 0 ${VALUE.length}\r\n${VALUE}\r\n`], 'STORED\r\n'), 'STORED\r\n');
	});
	after(() => server.close());

	it('drops a reader that never reads its replies, and serves the others meanwhile', async () => {
		const stalled = await connect(port);
		stalled.socket.pause();
		stalled.write('get big\r\n'.repeat(64));
		const other = await connect(port);
		// The other connection is served all along, until the stalled reader is dropped.
		let served = 0;
		while (server.stats().connections > 1) {
			assert.ok(await other.request('get big\r\n', REPLY) === REPLY, 'a wrong reply to get big');
			served++;
			await new Promise(setImmediate);
		}
		assert.ok(served > 0);
		assert.ok(!other.isClosed);
		await other.destroy();
		stalled.socket.destroy();
	});

	it('keeps a reader that is slow but keeps reading', async () => {
		const slow = await connect(port);
		slow.socket.pause();
		slow.write('get big\r\n'.repeat(64));
		let received = 0;
		let wake = null;
		slow.socket.on('data', (d) => {
			received += d.length;
			if (wake) wake();
		});
		const expected = 64 * REPLY.length;
		const started = Date.now();
		// 24 bursts, each until its share has arrived, 100 ms apart: the reading lasts well past
		// the 1 s write timeout, while no pause comes near it even on a loaded machine.
		for (let burst = 1; received < expected && !slow.isClosed; burst++) {
			const target = Math.min(expected, Math.ceil((expected * burst) / 24));
			slow.socket.resume();
			while (received < target && !slow.isClosed) await new Promise((resolve) => { wake = resolve; });
			slow.socket.pause();
			await sleep(100);
		}
		assert.strictEqual(received, expected);
		assert.ok(!slow.isClosed);
		// Only meaningful if the reading outlasted the write timeout.
		assert.ok(Date.now() - started > 1500, `read everything in ${Date.now() - started} ms`);
		await slow.destroy();
	});

	it('leaves the store unchanged when a client dies in the middle of a value', async () => {
		assert.strictEqual(await exchange(port, ['set half 0 0 5\r\nolder\r\n'], 'STORED\r\n'), 'STORED\r\n');
		const dying = await connect(port);
		const readBefore = server.stats().bytes_read;
		const partial = 'set half 0 0 100\r\n' + 'n'.repeat(60);
		dying.write(partial);
		await waitFor(() => server.stats().bytes_read >= readBefore + partial.length, { what: 'the server to read the partial value' });
		await dying.destroy();
		const seed = await connect(port);
		await waitFor(() => server.stats().connections === 1, { what: 'the dead client to be gone' });
		assert.strictEqual(await seed.request('get half\r\n', 'VALUE half 0 5\r\nolder\r\nEND\r\n'), 'VALUE half 0 5\r\nolder\r\nEND\r\n');
		await seed.destroy();
	});
});

describe('connections: the open-files limit', function () {
	this.timeout(60000);
	const LIMIT = 200;
	// prlimit execs the command, so the child's pid is the server's.
	const wrapper = ['prlimit', `--nofile=${LIMIT}:${LIMIT}`];

	it('defaults max-connections to what the open-files limit leaves room for', async () => {
		const cli = await startCli(['-p', 'off', '--memcached-port', '0'], 30000, { wrapper });
		try {
			const maxconns = Number((await statsOf(cli.port, 'settings')).get('maxconns'));
			assert.ok(maxconns > LIMIT / 2 && maxconns < LIMIT, `maxconns ${maxconns} for a limit of ${LIMIT}`);
		} finally {
			cli.child.kill('SIGTERM');
			await exitWithin(cli, 30000, 'server');
		}
	});

	it('refuses to start with more connections than the limit allows', async () => {
		const result = await exitWithin(run([CLI, '-p', '0', '-c', '1000'], { wrapper }), 30000, 'server');
		assert.strictEqual(result.code, 64, 'a usage error, as memcached exits on one');
		assert.match(result.stderr, /open-files limit \(200\)/);
	});

	it('survives EMFILE: no spinning, open connections keep working, accepting resumes', async () => {
		const child = spawn(wrapper[0], [...wrapper.slice(1), process.execPath, path.join(__dirname, 'fixtures', 'emfile_server.js')], {
			stdio: ['pipe', 'pipe', 'inherit'],
		});
		let output = '';
		child.stdout.on('data', (d) => { output += d; });
		const exited = new Promise((resolve) => child.on('exit', resolve));
		try {
			const [, port] = (await waitFor(() => /listening (\d+)/.exec(output), { what: 'the fixture to listen' })).map(Number);
			const kept = await connect(port);
			assert.strictEqual(await kept.request('set k 0 0 1\r\nv\r\n', 'STORED\r\n'), 'STORED\r\n');
			child.stdin.write('exhaust\n');
			await waitFor(() => output.includes('exhausted'), { what: 'the fixture to use up its descriptors' });
			// Clients arriving now cannot be given a descriptor: each is dropped without an answer.
			const refused = await Promise.all(Array.from({ length: 5 }, () => exchange(port, ['version\r\n'], null)));
			assert.deepStrictEqual(refused, ['', '', '', '', '']);
			// While more wait in the backlog the server must not spin on accept().
			const waiting = await Promise.all(Array.from({ length: 3 }, () => connect(port).catch(() => null)));
			const cpuBefore = cpuTicks(child.pid);
			await sleep(1000);
			const spent = cpuTicks(child.pid) - cpuBefore;
			assert.ok(spent < 20, `the server used ${spent} CPU ticks in 1 s while out of descriptors`);
			for (const conn of waiting) if (conn) conn.destroy();
			assert.strictEqual(await kept.request('get k\r\n', 'VALUE k 0 1\r\nv\r\nEND\r\n'), 'VALUE k 0 1\r\nv\r\nEND\r\n');
			await kept.destroy();
			child.stdin.write('release\n');
			await waitFor(() => output.includes('released'), { what: 'the fixture to release its descriptors' });
			assert.strictEqual(await exchange(port, ['version\r\n'], 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
			child.stdin.write('close\n');
			assert.strictEqual(await exited, 0);
		} finally {
			child.kill('SIGKILL');
		}
	});
});

// utime + stime of a process, in clock ticks.
function cpuTicks(pid) {
	const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return Number(fields[11]) + Number(fields[12]);
}

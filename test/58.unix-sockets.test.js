// Unix domain sockets (memcached's -s and -a): every protocol served on a socket file, on Node's
// loop and on I/O threads; the file's mode, stale files, removal on close; the Client's { path }.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn, execFile } = require('child_process');
const { promisify } = require('util');
const { Client } = require('..');
const { startServer, exchange, waitFor } = require('./helpers/server');
const { OP, request, parse, storeExtras } = require('./helpers/binary');
const { needs } = require('./helpers/references');
const { CLI, run, exitWithin } = require('./helpers/process');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-unix-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const socketFile = (name) => path.join(dir, `${name}-${serial++}.sock`);

// A real memcached on a Unix socket: resolves {path, stop()} once it accepts connections.
async function startMemcachedUnix(extra = []) {
	const file = socketFile('memcached');
	const child = spawn('memcached', ['-u', 'root', '-s', file, '-t', '1', ...extra], { stdio: 'ignore' });
	const killOnExit = () => child.kill('SIGKILL');
	process.once('exit', killOnExit);
	const connects = () => new Promise((resolve) => {
		const s = net.connect(file, () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
	await waitFor(connects, { what: 'memcached on its Unix socket' });
	return {
		path: file,
		stop: () => {
			process.removeListener('exit', killOnExit);
			child.kill('SIGKILL');
			return new Promise((resolve) => child.once('exit', resolve));
		},
	};
}

const binaryGet = (key, opaque) => request(OP.GET, { key, opaque });
const binarySet = (key, value, opaque) => request(OP.SET, { key, value, extras: storeExtras(0, 0), opaque });

for (const threads of [1, 2]) {
	describe(`Unix domain sockets, ${threads === 1 ? "on Node's loop" : 'on 2 I/O threads'}`, function () {
		this.timeout(30000);
		let server;
		const memcachedFile = socketFile('ours');
		const seedFile = socketFile('seed');
		before(async () => {
			server = await startServer({ port: false, socketPath: memcachedFile, seedSocketPath: seedFile, threads });
		});
		after(() => server && server.close());

		it('serves the seed protocol on seedSocketPath', async () => {
			const expected = 'STORED\r\nVALUE k hello there\r\nEND\r\n';
			assert.strictEqual(await exchange(seedFile, ['set k hello there\r\n', 'get k\r\n'], expected), expected);
		});

		it('serves the text, meta and binary protocols on socketPath', async () => {
			const text = await exchange(memcachedFile, ['set t 3 0 2\r\nhi\r\nget t\r\n'], 'STORED\r\nVALUE t 3 2\r\nhi\r\nEND\r\n');
			assert.strictEqual(text, 'STORED\r\nVALUE t 3 2\r\nhi\r\nEND\r\n');
			const meta = await exchange(memcachedFile, ['ms m 2 T0\r\nyo\r\nmg m v f\r\nmn\r\n'], (t) => t.endsWith('MN\r\n'));
			assert.strictEqual(meta, 'HD\r\nVA 2 f0\r\nyo\r\nMN\r\n');
			const raw = await exchange(memcachedFile, [Buffer.concat([binarySet('b', 'bin', 1), binaryGet('b', 2)])], (t) => parse(Buffer.from(t, 'latin1')).packets.length === 2);
			const [set, get] = parse(Buffer.from(raw, 'latin1')).packets;
			assert.deepStrictEqual([set.status, set.opaque, get.status, get.opaque, get.value.toString()], [0, 1, 0, 2, 'bin']);
		});

		it("lists its sockets in stats conns as memcached does (unix:<path>, a client as ?:<AF 0>)", async () => {
			const text = await exchange(memcachedFile, ['stats conns\r\n'], (t) => t.endsWith('END\r\n'));
			const lines = text.split('\r\n').filter((l) => l.includes(':addr') || l.includes('listen_addr'));
			assert.ok(lines.includes(`STAT ${lines.find((l) => l.endsWith(`unix:${memcachedFile}`)).split(' ')[1]} unix:${memcachedFile}`));
			assert.ok(lines.some((l) => /^STAT \d+:addr \?:<AF 0>$/.test(l)), text);
			assert.ok(lines.some((l) => l.match(/^STAT \d+:listen_addr (.*)$/) && l.endsWith(`unix:${memcachedFile}`)), text);
		});

		it('the Client connects with { path } on either protocol', async () => {
			const memcachedClient = new Client({ path: memcachedFile, protocol: 'memcached' });
			const seedClient = new Client({ path: seedFile });
			try {
				await memcachedClient.set('c', 'over unix');
				assert.strictEqual(await memcachedClient.get('c'), 'over unix');
				await seedClient.set('s', 'seed over unix');
				assert.strictEqual(await seedClient.get('s'), 'seed over unix');
				assert.deepStrictEqual(memcachedClient.servers, [memcachedFile]);
				assert.strictEqual(memcachedClient.path, memcachedFile);
			} finally {
				memcachedClient.close();
				seedClient.close();
			}
		});
	});
}

describe('Unix socket files', function () {
	this.timeout(30000);

	it('applies socketMode (memcached -a) and 0700 by default', async () => {
		const [a, b] = [socketFile('mode'), socketFile('mode')];
		const servers = [await startServer({ port: false, socketPath: a, socketMode: 0o660 }), await startServer({ port: false, socketPath: b })];
		try {
			assert.strictEqual(fs.statSync(a).mode & 0o777, 0o660);
			assert.strictEqual(fs.statSync(b).mode & 0o777, 0o700);
			assert.ok(fs.statSync(a).isSocket());
		} finally {
			await Promise.all(servers.map((s) => s.close()));
		}
	});

	it('removes the file on close, replaces a stale socket file and refuses any other file, as memcached', async () => {
		const file = socketFile('stale');
		// A socket file left behind by a process that is gone.
		const stale = net.createServer().listen(file);
		await new Promise((resolve) => stale.once('listening', resolve));
		const handle = stale._handle;
		stale.unref();
		assert.ok(fs.statSync(file).isSocket() && handle);
		const server = await startServer({ port: false, socketPath: file });
		assert.strictEqual(await exchange(file, ['version\r\n'], (t) => t.endsWith('\r\n')), 'VERSION 1.6.18\r\n');
		await server.close();
		assert.strictEqual(fs.existsSync(file), false);
		stale.close();
		const regular = socketFile('regular');
		fs.writeFileSync(regular, 'not a socket');
		await assert.rejects(startServer({ port: false, socketPath: regular }), (err) => err.code === 'EADDRINUSE' && err.path === regular);
		assert.strictEqual(fs.readFileSync(regular, 'utf8'), 'not a socket');
	});

	it('refuses a path longer than a Unix socket address holds, rather than bind it cut short', () => {
		const { Server } = require('..');
		assert.throws(() => new Server({ port: false, socketPath: `/tmp/${'x'.repeat(120)}` }), /socketPath: a Unix socket's path can be at most 107 bytes/);
	});

	it('a servers entry that is a path connects over the Unix socket, beside TCP ones', async () => {
		const file = socketFile('ring');
		const server = await startServer({ port: false, memcachedPort: 0, socketPath: file });
		const client = new Client({ protocol: 'memcached', servers: [`${file}:2 local`, `127.0.0.1:${server.address('memcached').port}`] });
		try {
			const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
			await Promise.all(keys.map((k) => client.set(k, k)));
			assert.deepStrictEqual(await Promise.all(keys.map((k) => client.get(k))), keys);
			assert.ok(keys.some((k) => client.serverFor(k) === file), 'some keys hash to the socket');
			const conns = await exchange(file, ['stats\r\n'], (t) => t.endsWith('END\r\n'));
			assert.match(conns, /STAT curr_connections [2-9]/);
		} finally {
			client.close();
			await server.close();
		}
	});

	it('bin/server.js -s <file> -a <mask>: memcached on the socket and, as memcached -s, no TCP listener', async () => {
		const file = socketFile('cli');
		const cli = run([CLI, '-s', file, '-a', '0770']);
		try {
			await waitFor(() => /^simplecached \S+: /m.test(cli.out.stdout), { what: 'the banner' });
			assert.match(cli.out.stdout, new RegExp(`unix:${file}`));
			assert.strictEqual(fs.statSync(file).mode & 0o777, 0o770);
			const conns = await exchange(file, ['stats conns\r\n'], (t) => t.endsWith('END\r\n'));
			assert.doesNotMatch(conns, /tcp6?:/);
			assert.match(conns, /:addr unix:/);
		} finally {
			cli.child.kill('SIGTERM');
			await exitWithin(cli, 20000, 'bin/server.js');
		}
		assert.strictEqual(fs.existsSync(file), false);
	});

	it('bin/server.js -s on a file that is not a socket: one line naming it, exit 1; a bad -a is a usage error', async () => {
		const regular = socketFile('cli-regular');
		fs.writeFileSync(regular, '');
		const refused = await exitWithin(run([CLI, '-s', regular]), 20000, 'bin/server.js');
		assert.strictEqual(refused.code, 1);
		assert.match(refused.stderr, new RegExp(`cannot listen on unix:${regular}: .*EADDRINUSE`));
		const badMask = await exitWithin(run([CLI, '-s', socketFile('cli-mask'), '-a', '0800']), 20000, 'bin/server.js');
		assert.notStrictEqual(badMask.code, 0);
		assert.match(badMask.stderr, /--unix-mask must be octal permissions/);
	});

	it('memcached tools (memcstat, memccp, memccat --servers=/path) work as against memcached -s', async function () {
		needs('memcstat', 'memcached').call(this);
		const reference = await startMemcachedUnix();
		const file = socketFile('tools');
		const server = await startServer({ port: false, socketPath: file });
		const source = path.join(dir, 'payload.txt');
		fs.writeFileSync(source, 'copied over a unix socket\n');
		try {
			// Asynchronously: the server under test answers on this process's loop.
			const run = async (tool, servers, args) => (await promisify(execFile)(tool, [`--servers=${servers}`, ...args], { cwd: dir, encoding: 'latin1', timeout: 10000 })).stdout;
			for (const where of [reference.path, file]) {
				await run('memccp', where, [source]);
				assert.strictEqual(await run('memccat', where, ['payload.txt']), 'copied over a unix socket\n\n'); // memccat adds a newline
				const stats = await run('memcstat', where, []);
				assert.match(stats, new RegExp(`^Server: ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(0\\)`));
				assert.match(stats, /version: 1\.6\.18/);
				assert.match(stats, /curr_items: 1\n/);
			}
		} finally {
			await Promise.all([reference.stop(), server.close()]);
		}
	});

	it('stats settings show domain_socket and umask as memcached -s -a shows them', async function () {
		needs('memcached').call(this);
		const reference = await startMemcachedUnix(['-a', '0750']);
		const file = socketFile('settings');
		const server = await startServer({ port: false, socketPath: file, socketMode: 0o750 });
		try {
			const pick = async (where) => {
				const text = await exchange(where, ['stats settings\r\n'], (t) => t.endsWith('END\r\n'));
				return text.split('\r\n').filter((l) => /^STAT (domain_socket|umask) /.test(l)).map((l) => l.replace(where, 'PATH'));
			};
			const [theirs, ours] = await Promise.all([pick(reference.path), pick(file)]);
			assert.deepStrictEqual(theirs, ['STAT domain_socket PATH', 'STAT umask 750']);
			assert.deepStrictEqual(ours, theirs);
		} finally {
			await Promise.all([reference.stop(), server.close()]);
		}
	});

	it('stats conns lines match memcached -s for one client', async function () {
		needs('memcached').call(this);
		const reference = await startMemcachedUnix();
		const file = socketFile('conns');
		const server = await startServer({ port: false, socketPath: file });
		try {
			const shape = (text, where) => text.replaceAll(where, 'PATH').replace(/STAT \d+:/g, 'STAT N:').replace(/secs_since_last_cmd \d+/g, 'secs_since_last_cmd S');
			const [theirs, ours] = await Promise.all([reference.path, file].map((where) => exchange(where, ['stats conns\r\n'], (t) => t.endsWith('END\r\n'))));
			assert.strictEqual(shape(ours, file), shape(theirs, reference.path));
		} finally {
			await Promise.all([reference.stop(), server.close()]);
		}
	});
});

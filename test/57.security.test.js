// Security defaults: loopback unless told otherwise, a warning for every listener anyone can use,
// no UDP listener at all, an item size cap, and garbage before authentication harming nobody.
'use strict';

const assert = require('assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { startServer, exchange } = require('./helpers/server');
const { CLI, run, exitWithin, startCli } = require('./helpers/process');

// The socket inodes a process holds, and those of the system's UDP sockets.
function socketInodes(pid) {
	const dir = `/proc/${pid}/fd`;
	return fs.readdirSync(dir).map((fd) => {
		try {
			return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(path.join(dir, fd)));
		} catch (err) {
			return null;
		}
	}).filter(Boolean).map((m) => m[1]);
}

function udpInodes() {
	return ['/proc/net/udp', '/proc/net/udp6'].filter((f) => fs.existsSync(f))
		.flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/)[9]));
}

// Writes the chunks one per tick, then hangs up a moment later (or when the server does).
function blast(port, chunks) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.on('error', () => {});
		socket.on('close', resolve);
		socket.on('connect', async () => {
			for (const chunk of chunks) {
				if (socket.destroyed) return;
				socket.write(chunk);
				await new Promise((r) => setImmediate(r));
			}
			setTimeout(() => socket.destroy(), 100);
		});
	});
}

async function stopCli(server) {
	server.child.kill('SIGTERM');
	return exitWithin(server, 30000, 'server');
}

describe('security defaults', function () {
	this.timeout(60000);
	let dir;
	before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-sec-')); });
	after(() => fs.rmSync(dir, { recursive: true, force: true }));

	it('binds 127.0.0.1 by default, unreachable from the machine\'s other addresses', async () => {
		const server = await startServer({ port: 0, memcachedPort: 0 });
		try {
			assert.strictEqual(server.address('simple').address, '127.0.0.1');
			assert.strictEqual(server.address('memcached').address, '127.0.0.1');
			const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
			if (external) {
				const err = await new Promise((resolve) => {
					const socket = net.connect(server.address('simple').port, external.address);
					socket.on('connect', () => { socket.destroy(); resolve(null); });
					socket.on('error', resolve);
				});
				assert.ok(err && err.code === 'ECONNREFUSED', `reachable on ${external.address}`);
			}
		} finally {
			await server.close();
		}
	});

	it('opens no UDP socket, with every listener on', async () => {
		const server = await startCli(['-p', '0', '--memcached-port', '0']);
		try {
			const udp = new Set(udpInodes());
			const held = socketInodes(server.child.pid);
			assert.ok(held.length >= 2, `only ${held.length} sockets`);
			assert.deepStrictEqual(held.filter((inode) => udp.has(inode)), []);
		} finally {
			assert.strictEqual((await stopCli(server)).code, 0);
		}
	});

	it('caps items at 1 MiB by default, in both protocols', async () => {
		const server = await startServer({ port: 0, memcachedPort: 0 });
		try {
			const max = 1024 * 1024;
			const seed = await exchange(server.address('simple').port, [`set big ${'x'.repeat(max + 1)}\r\n`], 'SERVER_ERROR object too large for cache\r\n');
			assert.strictEqual(seed, 'SERVER_ERROR object too large for cache\r\n');
			const text = await exchange(server.address('memcached').port, [`set big 0 0 ${max + 1}\r\n`, Buffer.alloc(max + 1, 'x'), '\r\nget big\r\n'], 'SERVER_ERROR object too large for cache\r\nEND\r\n');
			assert.strictEqual(text, 'SERVER_ERROR object too large for cache\r\nEND\r\n');
		} finally {
			await server.close();
		}
	});

	it('warns on stderr for each listener on a non-loopback address that anyone can use', async () => {
		const file = path.join(dir, 'users');
		fs.writeFileSync(file, 'alice:secret\n');
		const cases = [
			[['-l', '127.0.0.1', '-p', '0', '--memcached-port', '0'], []],
			[['-l', '0.0.0.0', '-p', '0', '--memcached-port', '0'], [/seed protocol on 0\.0\.0\.0:\d+ has no authentication/, /memcached protocol on 0\.0\.0\.0:\d+ has no authentication/]],
			[['-l', '0.0.0.0', '--memcached-port', '0', '-Y', file], [/memcached protocol on 0\.0\.0\.0:\d+ sends passwords and data unencrypted/]],
			[['-l', '0.0.0.0', '-p', '0', '--memcached-port', '0', '-Y', file, '--allow-unauthenticated-seed'], [/seed protocol .* has no authentication/, /unencrypted/]],
		];
		for (const [args, expected] of cases) {
			// The warnings are written as the listeners open; stopCli() collects stderr to the exit.
			const server = await startCli(args);
			const result = await stopCli(server);
			const warnings = result.stderr.split('\n').filter((l) => l.includes('warning'));
			assert.strictEqual(warnings.length, expected.length, `${args.join(' ')}: ${result.stderr}`);
			expected.forEach((re, i) => assert.match(warnings[i], re));
		}
	});

	it('survives random bytes from many connections before authentication', async () => {
		const file = path.join(dir, 'users');
		fs.writeFileSync(file, 'alice:secret\n');
		const server = await startServer({ port: false, memcachedPort: 0, authFile: file });
		const port = server.address('memcached').port;
		let seed = 12345;
		const random = (n) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
		const pieces = ['set ', 'a ', '0 ', '4294967295', '16383', '-1', '\r\n', '\n', ' ', '\0', 'alice ', 'secret', 'get a', 'x'.repeat(3000)];
		try {
			await Promise.all(Array.from({ length: 30 }, () => {
				const chunks = Array.from({ length: 20 }, () => (random(4) === 0
					? Buffer.from(Array.from({ length: random(300) }, () => random(256)))
					: pieces[random(pieces.length)]));
				return blast(port, chunks);
			}));
			const login = 'set k 0 0 12\r\nalice secret\r\nset k 0 0 1\r\nv\r\nget k\r\n';
			assert.strictEqual(await exchange(port, [login], 'STORED\r\nSTORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n'), 'STORED\r\nSTORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n');
		} finally {
			await server.close();
		}
	});
});

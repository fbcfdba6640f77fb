// The command line (bin/server.js) run as a child process: --help, --version, bad flags and values,
// serving with -p 0, graceful exit on SIGTERM/SIGINT, and a port already in use.
'use strict';

const assert = require('assert');
const pkg = require('../package.json');
const { startServer, exchange, connect } = require('./helpers/server');
const { CLI, run, exitWithin, startCli } = require('./helpers/process');

describe('cli: flags', () => {
	it('prints usage for --help and -h and exits 0', async () => {
		for (const flag of ['--help', '-h']) {
			const result = await exitWithin(run([CLI, flag]), 30000, `simplecached ${flag}`);
			assert.strictEqual(result.code, 0, flag);
			assert.match(result.stdout, /^Usage: simplecached \[options\]/);
			for (const option of ['-p, --port', '--memcached-port', '-l, --listen', '-m, --memory-limit', '-c, --conn-limit', '-I, --max-item-size', '-h, --help', '-V, --version', 'seed (simplecached) protocol', '11311', '11211']) {
				assert.ok(result.stdout.includes(option), `usage lacks ${option}`);
			}
			assert.strictEqual(result.stderr, '');
		}
	});

	it('prints its version and the memcached protocol version for --version and -V, and exits 0', async () => {
		for (const flag of ['--version', '-V']) {
			const result = await exitWithin(run([CLI, flag]), 30000, `simplecached ${flag}`);
			assert.strictEqual(result.code, 0);
			assert.strictEqual(result.stdout, `simplecached ${pkg.version} (memcached 1.6.18 protocol)\n`);
			assert.strictEqual(result.stderr, '');
		}
	});

	const bad = [
		[['--no-such-flag'], /no-such-flag/],
		[['-z'], /-z/],
		[['--port'], /port/],
		[['-p', 'abc'], /port.*abc/],
		[['-p', '70000'], /port/],
		[['-p', '1.5'], /port/],
		[['-m', '0'], /^simplecached: -m\/--memory-limit must be at least 1 \(MiB\), got 0 \(see --help\)\n$/],
		[['-m', '-1'], /^simplecached: -m\/--memory-limit must be a whole number \(MiB\), got '-1' \(see --help\)\n$/],
		[['-m', 'lots'], /memory-limit.*lots/],
		[['-c', '0'], /-c\/--conn-limit must be at least 1/],
		[['-c', '-3'], /max-connections|-3/],
		[['-I', '5g'], /max-item-size.*5g/],
		[['-I', '0'], /-I\/--max-item-size must be at least 1k/],
		[['-p', '0', 'extra'], /extra/],
	];
	for (const [args, message] of bad) {
		it(`exits 64 (memcached's EX_USAGE) with one line on stderr for ${args.join(' ')}`, async () => {
			const result = await exitWithin(run([CLI, ...args]), 30000, `simplecached ${args.join(' ')}`);
			assert.strictEqual(result.code, 64, `exit code for ${args.join(' ')}; stderr: ${result.stderr}`);
			assert.match(result.stderr, /^simplecached: [^\n]* \(see --help\)\n$/);
			assert.match(result.stderr, message);
			assert.strictEqual(result.stdout, '');
		});
	}
});

describe('cli: serving and signals', () => {
	for (const signal of ['SIGTERM', 'SIGINT']) {
		it(`serves on -p 0, then exits 0 by itself on ${signal}, with a client still connected`, async () => {
			const server = await startCli(['-p', '0', '-m', '16', '-c', '8', '-I', '64k']);
			let conn;
			try {
				assert.strictEqual(server.version, pkg.version);
				assert.strictEqual(server.address, '127.0.0.1');
				assert.ok(server.port > 0);
				const reply = await exchange(server.port, ['set cli-key cli value\r\nget cli-key\r\n'], 'STORED\r\nVALUE cli-key cli value\r\nEND\r\n');
				assert.strictEqual(reply, 'STORED\r\nVALUE cli-key cli value\r\nEND\r\n');
				// The -I limit is in force: 64 KiB fits, one byte more does not.
				const big = 'x'.repeat(64 * 1024);
				const sizes = await exchange(server.port, [`set big ${big}\r\nset big ${big}x\r\n`], 'STORED\r\nSERVER_ERROR object too large for cache\r\n');
				assert.strictEqual(sizes, 'STORED\r\nSERVER_ERROR object too large for cache\r\n');
				conn = await connect(server.port);
				assert.strictEqual(await conn.request('get cli-key\r\n', 'VALUE cli-key cli value\r\nEND\r\n'), 'VALUE cli-key cli value\r\nEND\r\n');
			} catch (err) {
				server.child.kill('SIGKILL');
				throw err;
			}
			server.child.kill(signal);
			const result = await exitWithin(server, 30000, `server after ${signal}`);
			assert.strictEqual(result.code, 0, `exit code; stderr: ${result.stderr}`);
			assert.strictEqual(result.signal, null);
			assert.ok(result.stdout.includes(`simplecached: ${signal}, closing`), result.stdout);
			// The connected client was closed by the server, not left hanging.
			assert.strictEqual(await conn.closed, '');
		});
	}

	it('exits non-zero with a message when the port is in use', async () => {
		const other = await startServer();
		try {
			const { port } = other.address();
			const result = await exitWithin(run([CLI, '-p', String(port)]), 30000, 'server on a busy port');
			assert.notStrictEqual(result.code, 0);
			assert.match(result.stderr, new RegExp(`simplecached: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
			assert.ok(!/listening on/.test(result.stdout), result.stdout);
		} finally {
			await other.close();
		}
	});

	it('listens on the address given with -l', async () => {
		const server = await startCli(['-p', '0', '-l', '127.0.0.1']);
		try {
			assert.strictEqual(server.address, '127.0.0.1');
			assert.strictEqual(await exchange(server.port, ['get nothing\r\n'], 'END\r\n'), 'END\r\n');
		} finally {
			server.child.kill('SIGTERM');
			assert.strictEqual((await exitWithin(server, 30000, 'server')).code, 0);
		}
	});
});

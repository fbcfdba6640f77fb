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

describe('cli: memcached habits', () => {
	const fs = require('fs');
	const os = require('os');
	const path = require('path');
	const usage = async (args) => {
		const result = await exitWithin(run([CLI, ...args]), 30000, `simplecached ${args.join(' ')}`);
		assert.strictEqual(result.stdout, '');
		return result;
	};
	const refused = [
		// memcached's -I rule, in its order: at least 1k, at most half of -m, at most a gigabyte.
		[['-I', '512'], /^simplecached: -I\/--max-item-size must be at least 1k \(1024 bytes\), got 512 \(see --help\)\n$/],
		[['-m', '1', '-I', '2m'], /^simplecached: -I\/--max-item-size 2m is more than half of -m\/--memory-limit \(1 MiB\); raise -m or lower -I \(see --help\)\n$/],
		[['-m', '1'], /-I\/--max-item-size 1m \(the default\) is more than half of -m\/--memory-limit \(1 MiB\)/],
		[['-m', '4096', '-I', '2048m'], /-I\/--max-item-size must be at most 1024m \(a gigabyte\), got 2048m/],
		[['-d'], /^simplecached: -d\/--daemon: simplecached does not fork into the background/],
		[['-C'], /^simplecached: -C\/--disable-cas: /],
		[['-b', '10'], /^simplecached: -b\/--listen-backlog: /],
		[['-R', '5'], /^simplecached: -R\/--max-reqs-per-event: /],
		[['-B', 'ascii'], /^simplecached: -B\/--protocol ascii: only auto/],
		[['-B', 'udp'], /^simplecached: -B\/--protocol must be ascii, binary or auto, got 'udp'/],
		[['-o', 'ext_path=/tmp/x:1G'], /^simplecached: -o ext_path: there is no external storage/],
		[['-o', 'hashpower=20'], /^simplecached: -o hashpower: the hash table here sizes itself/],
		[['-o', 'modern,ssl_ciphers=x'], /^simplecached: -o modern: not adjustable here/],
		[['-o', 'bogus'], /^simplecached: -o bogus: unknown extended option/],
		[['-l', '999.1.1.1'], /^simplecached: -l\/--listen 999\.1\.1\.1 is not an IPv4 address/],
		[['--memcached-port', '11311'], /^simplecached: --memcached-port 11311 is the port of our own -p\/--port \(seed protocol\) listener; pick another/],
		[['-p', '12345', '--metrics-port', '12345'], /--metrics-port 12345 is the port of our own -p\/--port \(seed protocol\) listener/],
	];
	for (const [args, message] of refused) {
		it(`refuses ${args.join(' ')} in one line, exit 64`, async () => {
			const result = await usage(args);
			assert.strictEqual(result.code, 64, result.stderr);
			assert.match(result.stderr, message);
			assert.match(result.stderr, /^[^\n]*\(see --help\)\n$/);
		});
	}

	it('-Y with a missing file names the file (exit 1, as memcached)', async () => {
		const result = await usage(['-Y', '/nonexistent/users', '--memcached-port', '0']);
		assert.strictEqual(result.code, 1);
		assert.match(result.stderr, /^simplecached: -Y\/--auth-file: auth file \/nonexistent\/users: cannot read it: ENOENT/);
	});

	it('-l with a name that does not resolve says so in the flag\'s words', async () => {
		const result = await usage(['-l', 'no-such-host.invalid', '-p', '0']);
		assert.strictEqual(result.code, 1);
		assert.match(result.stderr, /^simplecached: -l\/--listen no-such-host\.invalid: not an address of this host/);
	});

	it('an explicit --memcached-port that is taken is an error naming it', async () => {
		const other = await startServer();
		try {
			const { port } = other.address();
			const result = await usage(['-p', '0', '--memcached-port', String(port)]);
			assert.strictEqual(result.code, 1);
			assert.match(result.stderr, new RegExp(`^simplecached: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
		} finally {
			await other.close();
		}
	});

	it('accepts -u (with a warning), -vv, -B auto, -o idle_timeout, -m 2 -I 1m, -F, -M; writes -P and -o port_file', async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-cli-'));
		const pidFile = path.join(dir, 'pid');
		const portFile = path.join(dir, 'ports');
		const server = await startCli(['-p', '0', '--memcached-port', '0', '-u', 'root', '-vv', '-B', 'auto', '-m', '2', '-I', '1m',
			'-o', `idle_timeout=7,maxconns_fast,port_file=${portFile}`, '-P', pidFile, '-F', '-M']);
		try {
			assert.match(server.banner, /^simplecached \S+: seed protocol on 127\.0\.0\.1:\d+, memcached on 127\.0\.0\.1:\d+$/);
			assert.strictEqual(fs.readFileSync(pidFile, 'utf8'), `${server.child.pid}\n`);
			assert.strictEqual(fs.readFileSync(portFile, 'utf8'), `TCP INET: ${server.ports.memcached}\nSEED INET: ${server.ports.seed}\n`);
			const settings = await exchange(server.ports.memcached, ['stats settings\r\n'], (t) => t.endsWith('END\r\n'));
			assert.match(settings, /STAT idle_timeout 7\r\n/);
			assert.match(settings, /STAT item_size_max 1048576\r\n/);
			assert.match(settings, /STAT verbosity 2\r\n/);
			assert.match(settings, /STAT flush_enabled no\r\n/);
			assert.match(settings, /STAT evictions off\r\n/);
			// "version" stays memcached's protocol version; simplecached_version tells which server answers.
			const general = await exchange(server.ports.memcached, ['stats\r\n'], (t) => t.endsWith('END\r\n'));
			assert.match(general, new RegExp(`STAT version 1\\.6\\.18\r\nSTAT simplecached_version ${pkg.version.replace(/\./g, '\\.')}\r\n`));
		} finally {
			server.child.kill('SIGTERM');
		}
		const result = await exitWithin(server, 30000, 'server');
		assert.strictEqual(result.code, 0, result.stderr);
		assert.match(result.stderr, /^simplecached: warning: -u root ignored: simplecached does not switch users/m);
		assert.ok(!fs.existsSync(pidFile), 'the pid file is removed on exit');
		fs.rmSync(dir, { recursive: true, force: true });
	});
});

describe('cli: the default memcached port', () => {
	const { settleDefaultPort } = require('../lib/cli');
	const { parse } = require('../lib/cli_options');

	it('is 11211 when --memcached-port is not given, and --help says which port speaks what', async () => {
		const parsed = parse([]);
		assert.strictEqual(parsed.server.port, 11311);
		assert.strictEqual(parsed.server.memcachedPort, 11211);
		assert.strictEqual(parsed.memcachedPortDefault, true);
		assert.strictEqual(parse(['--memcached-port', '11211']).memcachedPortDefault, false);
		assert.strictEqual(parse(['--memcached-port', 'off']).server.memcachedPort, false);
	});

	// The default port held by someone else (a system memcached): a busy free port stands in for 11211.
	it('left off with one warning when taken, unless nothing else would listen', async () => {
		const other = await startServer();
		try {
			const busy = other.address().port;
			const warnings = [];
			const parsed = parse(['-p', '0']);
			parsed.server.memcachedPort = busy;
			await settleDefaultPort(parsed, (w) => warnings.push(w));
			assert.strictEqual(parsed.server.memcachedPort, false);
			assert.deepStrictEqual(warnings, [`port ${busy} is in use (a memcached already running?): memcached's protocol is off; give --memcached-port <n> to serve it on another port`]);
			// With -p off nothing else listens: no fallback, the listen error will name the port.
			const only = parse(['-p', 'off']);
			only.server.memcachedPort = busy;
			await settleDefaultPort(only, (w) => warnings.push(w));
			assert.strictEqual(only.server.memcachedPort, busy);
			// Given explicitly: never replaced.
			const explicit = parse(['-p', '0', '--memcached-port', String(busy)]);
			await settleDefaultPort(explicit, (w) => warnings.push(w));
			assert.strictEqual(explicit.server.memcachedPort, busy);
			assert.strictEqual(warnings.length, 1);
		} finally {
			await other.close();
		}
	});
});

#!/usr/bin/env node
// simplecached command line: parses flags, starts a Server, and closes it gracefully on a signal.
// Flags follow memcached's letters where they exist (-p, -l, -m, -c, -t, -I, -Y, -A).
'use strict';

const fs = require('fs');
const net = require('net');
const { parseArgs } = require('util');
const Server = require('../lib/server');
const pkg = require('../package.json');

const USAGE = `Usage: simplecached [options]

  -p, --port <n|off>         TCP port for the simplecached protocol (default 11311; 0 picks one)
      --memcached-port <n>   TCP port for the memcached text protocol (default off; 11211 is usual)
  -l, --host <addr>          address to listen on (default 127.0.0.1)
  -m, --memory-limit <MiB>   memory for items, in megabytes (default 64)
  -c, --max-connections <n>  simultaneous connections (default: what the open-files limit allows)
      --idle-timeout <s>     close connections idle for this many seconds (default 0: never)
      --write-timeout <s>    drop connections whose replies wait unread this long (default 30; 0: never)
  -t, --threads <n>          I/O threads: 1 serves on Node's loop, more start native threads (default 1)
  -I, --max-item-size <size> largest value, in bytes or with k/m suffix (default 1m)
  -Y, --auth-file <file>     memcached ascii authentication: "user:password" lines; clients must
                             first send "set <any> 0 0 <n>" with data "<user> <password>"
                             (turns the seed port off unless -p and --allow-unauthenticated-seed)
      --allow-unauthenticated-seed  serve the seed protocol (no authentication) beside -Y
  -S, --enable-sasl          memcached's binary protocol with SASL PLAIN, checked against -Y's users;
                             the memcached port then speaks binary only (as memcached -S)
  -s, --unix-socket <file>   serve the memcached protocol on this Unix socket; as memcached -s, no
                             TCP listener then unless -p or --memcached-port asks for one
      --seed-unix-socket <file>  serve the simplecached protocol on this Unix socket too
  -a, --unix-mask <mask>     the Unix sockets' permissions, in octal (default 700)
      --tls-port <n>         TCP port for memcached's text protocol over TLS (needs the two below)
      --tls-cert <file>      TLS certificate chain (PEM)
      --tls-key <file>       TLS private key (PEM)
      --tls-ca <file>        CA (PEM) to require and verify client certificates on the TLS port
      --metrics-port <n>     HTTP port serving /metrics for Prometheus (default off)
  -e, --restart-file <file>  keep the cache across restarts: load it from this file at start,
                             save it there on SIGTERM, SIGINT or SIGUSR1 (as memcached -e)
      --snapshot-interval <s>  also save it every this many seconds, while serving (default 0: off)
  -A, --enable-shutdown      allow the "shutdown [graceful]" command: the server closes, the process exits 0
  -v, --verbose              log errors to stderr; -vv also every command and reply line, as
                             memcached does ("verbosity <n>" changes it while running)
  -h, --help                 show this help
      --version              show the version
`;

const FLAGS = {
	port: { type: 'string', short: 'p' },
	'memcached-port': { type: 'string' },
	host: { type: 'string', short: 'l' },
	'memory-limit': { type: 'string', short: 'm' },
	'max-connections': { type: 'string', short: 'c' },
	'idle-timeout': { type: 'string' },
	'write-timeout': { type: 'string' },
	threads: { type: 'string', short: 't' },
	'max-item-size': { type: 'string', short: 'I' },
	'auth-file': { type: 'string', short: 'Y' },
	'allow-unauthenticated-seed': { type: 'boolean' },
	'enable-sasl': { type: 'boolean', short: 'S' },
	'unix-socket': { type: 'string', short: 's' },
	'seed-unix-socket': { type: 'string' },
	'unix-mask': { type: 'string', short: 'a' },
	'tls-port': { type: 'string' },
	'tls-cert': { type: 'string' },
	'tls-key': { type: 'string' },
	'tls-ca': { type: 'string' },
	'metrics-port': { type: 'string' },
	'restart-file': { type: 'string', short: 'e' },
	'snapshot-interval': { type: 'string' },
	'enable-shutdown': { type: 'boolean', short: 'A' },
	verbose: { type: 'boolean', short: 'v', multiple: true },
	help: { type: 'boolean', short: 'h' },
	version: { type: 'boolean' },
};

class UsageError extends Error {}

function integerFlag(values, name, scale = 1) {
	const text = values[name];
	if (text === undefined) return undefined;
	if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got '${text}'`);
	return Number(text) * scale;
}

// memcached's -a: permission bits in octal, e.g. 700 or 0660.
function maskFlag(values, name) {
	const text = values[name];
	if (text === undefined) return undefined;
	if (!/^[0-7]{1,4}$/.test(text) || parseInt(text, 8) > 0o777) throw new UsageError(`--${name} must be octal permissions like 700 or 0660, got '${text}'`);
	return parseInt(text, 8);
}

// Sizes as memcached's -I takes them: 1048576, 1024k, 1m.
function sizeFlag(values, name) {
	const text = values[name];
	if (text === undefined) return undefined;
	const match = /^(\d+)([kKmM]?)$/.exec(text);
	if (!match) throw new UsageError(`--${name} must be a size like 1048576, 512k or 1m, got '${text}'`);
	const scale = { '': 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()];
	return Number(match[1]) * scale;
}

// The TLS flags as the Server's tls option (files read now, so a bad path is a usage error).
function tlsFlags(v) {
	const files = { cert: v['tls-cert'], key: v['tls-key'], ca: v['tls-ca'] };
	if (!files.cert && !files.key && !files.ca) return undefined;
	if (!files.cert || !files.key) throw new UsageError('--tls-cert and --tls-key go together');
	const tls = {};
	for (const [name, file] of Object.entries(files)) {
		if (file === undefined) continue;
		try {
			tls[name] = fs.readFileSync(file);
		} catch (err) {
			throw new UsageError(`--tls-${name}: cannot read ${file}: ${err.code || err.message}`);
		}
	}
	// A CA means client certificates are required and checked against it.
	if (tls.ca) Object.assign(tls, { requestCert: true, rejectUnauthorized: true });
	return tls;
}

function parseOptions(argv) {
	let parsed;
	try {
		parsed = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
	} catch (err) {
		throw new UsageError(err.message);
	}
	const v = parsed.values;
	// memcached's -s disables network support: the TCP ports stay off unless asked for by flag.
	const local = v['unix-socket'] !== undefined || v['seed-unix-socket'] !== undefined;
	return {
		help: v.help,
		version: v.version,
		server: {
			port: v.port === 'off' || (local && v.port === undefined) ? false : integerFlag(v, 'port'),
			memcachedPort: local && v['memcached-port'] === undefined ? false : integerFlag(v, 'memcached-port'),
			socketPath: v['unix-socket'],
			seedSocketPath: v['seed-unix-socket'],
			socketMode: maskFlag(v, 'unix-mask'),
			sasl: v['enable-sasl'],
			host: v.host,
			memoryLimit: integerFlag(v, 'memory-limit', 1024 * 1024),
			maxConnections: integerFlag(v, 'max-connections'),
			idleTimeout: integerFlag(v, 'idle-timeout'),
			writeTimeout: integerFlag(v, 'write-timeout'),
			threads: integerFlag(v, 'threads'),
			maxItemSize: sizeFlag(v, 'max-item-size'),
			authFile: v['auth-file'],
			allowUnauthenticatedSeed: v['allow-unauthenticated-seed'],
			tlsPort: integerFlag(v, 'tls-port'),
			// memcached's -v (errors), -vv (every command and reply line): stderr; more is -vv.
			verbose: v.verbose ? Math.min(v.verbose.length, 2) : undefined,
			tls: tlsFlags(v),
			metricsPort: integerFlag(v, 'metrics-port'),
			restartFile: v['restart-file'],
			snapshotInterval: integerFlag(v, 'snapshot-interval'),
			enableShutdown: v['enable-shutdown'],
		},
	};
}

// Listeners on a non-loopback address that anyone who reaches them can use: warn about each.
function exposureWarnings(server, options) {
	const warnings = [];
	const exposed = (address) => address && !(net.isIPv4(address.address) ? address.address.startsWith('127.') : address.address === '::1');
	const where = (address) => `${address.address}:${address.port}`;
	const anyone = 'anyone who can reach it can read and change the cache';
	const seed = server.address('simple');
	const memcached = server.address('memcached');
	const tls = server.address('tls');
	if (exposed(seed)) warnings.push(`the simplecached protocol on ${where(seed)} has no authentication: ${anyone}`);
	if (exposed(memcached)) {
		warnings.push(options.authFile
			? `the memcached protocol on ${where(memcached)} sends passwords and data unencrypted (prefer --tls-port)`
			: `the memcached protocol on ${where(memcached)} has no authentication (-Y): ${anyone}`);
	}
	if (exposed(tls) && !options.authFile && !(options.tls && options.tls.requestCert)) {
		warnings.push(`the TLS port ${where(tls)} has no authentication (-Y or --tls-ca): ${anyone}`);
	}
	return warnings.map((text) => `simplecached: warning: ${text}`);
}

function main() {
	let opts;
	try {
		opts = parseOptions(process.argv.slice(2));
		if (opts.help) return process.stdout.write(USAGE);
		if (opts.version) return process.stdout.write(`${pkg.version}\n`);
		const server = new Server(opts.server, (err) => {
			if (err) {
				const where = err.path ? `unix:${err.path}` : `${err.address || opts.server.host || '127.0.0.1'}:${err.port}`;
				console.error(`simplecached: cannot listen on ${where}: ${err.message}`);
				process.exit(1);
			}
			const where = ['simple', 'memcached'].map((protocol) => [protocol, server.address(protocol)])
				.filter(([, address]) => address)
				.map(([protocol, { address, port }]) => `${address}:${port} (${protocol === 'simple' ? 'simplecached' : 'memcached'} protocol)`);
			for (const [path, what] of [[opts.server.socketPath, 'memcached'], [opts.server.seedSocketPath, 'simplecached']]) {
				if (path) where.push(`unix:${path} (${what} protocol)`);
			}
			const tls = server.address('tls');
			if (tls) where.push(`${tls.address}:${tls.port} (memcached protocol over TLS)`);
			const metrics = server.address('metrics');
			if (metrics) where.push(`http://${metrics.address}:${metrics.port}/metrics (Prometheus)`);
			console.log(`simplecached ${pkg.version} listening on ${where.join(', ')}`);
			for (const warning of exposureWarnings(server, opts.server)) console.error(warning);
		});
		server.on('restore', (report) => {
			if (report.error) console.error(`simplecached: ${report.error.message}; moved it to ${report.movedTo} and started empty`);
			else console.log(`simplecached: restored ${report.items} items from ${opts.server.restartFile} (${report.expired} expired, ${report.dropped} did not fit) in ${report.seconds.toFixed(3)} s`);
		});
		server.on('warning', (err) => console.error(`simplecached: ${err.message}`));
		handleSignals(server);
	} catch (err) {
		if (err.authFile) {
			// As memcached: an unreadable or malformed auth file is a failure to start, not a usage error.
			process.stderr.write(`simplecached: ${err.message}\n`);
			process.exitCode = 1;
			return undefined;
		}
		if (!(err instanceof UsageError || err instanceof TypeError || err instanceof RangeError)) throw err;
		process.stderr.write(`simplecached: ${err.message}\n\n${USAGE}`);
		process.exitCode = 2;
	}
	return undefined;
}

// First signal: close gracefully (replies already due are sent), exit 0. Second: exit at once.
function handleSignals(server) {
	let stopping = false;
	const stop = (signal) => {
		if (stopping) process.exit(1);
		stopping = true;
		console.log(`simplecached: ${signal}, closing`);
		// No process.exit(): the process ends by itself once every handle is closed, which proves none leaked.
		server.close().then(() => {
			if (server.options.restartFile) console.log(`simplecached: saved the cache to ${server.options.restartFile}`);
			process.exitCode = 0;
		}, (err) => {
			console.error(`simplecached: ${err.message}`);
			process.exitCode = 1;
		});
	};
	// A client's "shutdown" (-A): the Server closes itself; the process then ends as after a signal.
	server.on('shutdown', ({ graceful }) => {
		stopping = true;
		console.log(`simplecached: ${graceful ? 'shutdown graceful' : 'shutdown'} command, closing`);
	});
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	// memcached -e saves its memory file and exits on SIGUSR1; here every graceful stop saves.
	process.on('SIGUSR1', stop);
	// As memcached: SIGHUP reloads the auth file; a bad file keeps the users already loaded.
	process.on('SIGHUP', () => {
		if (!server.options.authFile) return;
		try {
			server.reloadAuth();
			console.log(`simplecached: SIGHUP, reloaded ${server.options.authFile}`);
		} catch (err) {
			console.error(`simplecached: SIGHUP: ${err.message}; keeping the users loaded before`);
		}
	});
}

main();

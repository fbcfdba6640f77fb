// cli: what `simplecached` (bin/server.js) does with its parsed flags — start the Server, say which
// port speaks what, write the pid and port files, and close gracefully on a signal.
'use strict';

const fs = require('fs');
const net = require('net');
const Server = require('./server');
const { parse, USAGE, UsageError, MEMCACHED_PORT } = require('./cli_options');
const pkg = require('../package.json');

const PROTOCOL_VERSION = '1.6.18';
const VERSION_LINE = `simplecached ${pkg.version} (memcached ${PROTOCOL_VERSION} protocol)`;

function where({ address, port }) {
	return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

// The startup line: every listener and the protocol it speaks, in one line.
function banner(server) {
	const parts = [];
	const seed = server.address('simple');
	const memcached = server.address('memcached');
	const tls = server.address('tls');
	const metrics = server.address('metrics');
	if (seed) parts.push(`seed protocol on ${where(seed)}`);
	if (memcached) parts.push(`memcached on ${where(memcached)}`);
	if (tls) parts.push(`memcached over TLS on ${where(tls)}`);
	if (metrics) parts.push(`Prometheus metrics on http://${where(metrics)}/metrics`);
	for (const [path, what] of [[server.options.socketPath, 'memcached'], [server.options.seedSocketPath, 'seed protocol']]) {
		if (path) parts.push(`${what} on unix:${path}`);
	}
	return `simplecached ${pkg.version}: ${parts.join(', ')}`;
}

// Listeners on a non-loopback address that anyone who reaches them can use: warn about each.
function exposureWarnings(server, options) {
	const warnings = [];
	const exposed = (address) => address && !(net.isIPv4(address.address) ? address.address.startsWith('127.') : address.address === '::1');
	const anyone = 'anyone who can reach it can read and change the cache';
	const seed = server.address('simple');
	const memcached = server.address('memcached');
	const tls = server.address('tls');
	if (exposed(seed)) warnings.push(`the seed protocol on ${where(seed)} has no authentication: ${anyone}`);
	if (exposed(memcached)) {
		warnings.push(options.authFile
			? `the memcached protocol on ${where(memcached)} sends passwords and data unencrypted (prefer --tls-port)`
			: `the memcached protocol on ${where(memcached)} has no authentication (-Y): ${anyone}`);
	}
	if (exposed(tls) && !options.authFile && !(options.tls && options.tls.requestCert)) {
		warnings.push(`the TLS port ${where(tls)} has no authentication (-Y or --tls-ca): ${anyone}`);
	}
	return warnings;
}

// Whether a TCP port can be listened on now (false: someone holds it).
function portFree(host, port) {
	return new Promise((resolve) => {
		const probe = net.createServer();
		probe.once('error', () => resolve(false));
		probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
	});
}

// memcached's default port taken (a system memcached, typically) must not stop a default start:
// the memcached listener is left off with one warning, unless it would be the only listener.
async function settleDefaultPort(parsed, warn) {
	const options = parsed.server;
	if (!parsed.memcachedPortDefault || options.memcachedPort === false) return;
	if (await portFree(options.host || '127.0.0.1', options.memcachedPort)) return;
	const others = (options.authFile === undefined && options.port !== false) || (options.tlsPort !== undefined && options.tlsPort !== false);
	if (!others) return;   // listening fails below, with the port named
	warn(`port ${options.memcachedPort} is in use (a memcached already running?): memcached's protocol is off; give --memcached-port <n> to serve it on another port`);
	options.memcachedPort = false;
}

// memcached's MEMCACHED_PORT_FILENAME format, one line per listener, written beside then renamed.
function writePortFile(file, server) {
	const lines = [];
	for (const [protocol, kind] of [['memcached', 'TCP'], ['simple', 'SEED'], ['tls', 'TLS']]) {
		const address = server.address(protocol);
		if (address) lines.push(`${kind} ${address.family === 'IPv6' ? 'INET6' : 'INET'}: ${address.port}\n`);
	}
	fs.writeFileSync(`${file}.lck`, lines.join(''));
	fs.renameSync(`${file}.lck`, file);
}

// Why listening failed, in the flags' words.
function listenFailure(err, options) {
	if (err.path) return `cannot listen on unix:${err.path}: ${err.message}`;
	const host = err.address || options.host || '127.0.0.1';
	if (err.port === undefined || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
		return `-l/--listen ${host}: not an address of this host (${err.code || err.message})`;
	}
	return `cannot listen on ${where({ address: host, port: err.port })}: ${err.message}`;
}

// Runs the command line; io: {stdout, stderr, exit(code)}. Resolves with the Server once it
// listens (undefined for --help, --version and failures).
async function main(argv, io = { stdout: process.stdout, stderr: process.stderr, exit: process.exit }) {
	const say = (line) => io.stdout.write(`${line}\n`);
	const warn = (line) => io.stderr.write(`simplecached: warning: ${line}\n`);
	const fail = (message, code) => {
		io.stderr.write(`simplecached: ${message}\n`);
		process.exitCode = code;
		return undefined;
	};
	let parsed;
	try {
		parsed = parse(argv);
	} catch (err) {
		if (err instanceof UsageError) return fail(`${err.message} (see --help)`, err.exitCode);
		throw err;
	}
	if (parsed.action === 'help') return io.stdout.write(USAGE) && undefined;
	if (parsed.action === 'version') return say(VERSION_LINE);
	parsed.warnings.forEach(warn);
	await settleDefaultPort(parsed, warn);
	let server;
	try {
		server = await new Promise((resolve, reject) => {
			const s = new Server(parsed.server, (err) => (err ? reject(err) : resolve(s)));
			s.on('restore', (report) => {
				if (report.error) io.stderr.write(`simplecached: ${report.error.message}; moved it to ${report.movedTo} and started empty\n`);
				else say(`simplecached: restored ${report.items} items from ${parsed.server.restartFile} (${report.expired} expired, ${report.dropped} did not fit) in ${report.seconds.toFixed(3)} s`);
			});
			// Warnings of the start itself (a partial save removed) come before the banner.
			s.on('warning', (err) => io.stderr.write(`simplecached: ${err.message}\n`));
		});
	} catch (err) {
		// As memcached: an unreadable or malformed auth file is a failure to start, not a usage error.
		if (err.authFile) return fail(`-Y/--auth-file: ${err.message}`, 1);
		if (err instanceof TypeError || err instanceof RangeError) return fail(`${err.message} (see --help)`, 64);
		fail(listenFailure(err, parsed.server), 1);
		// Whatever the failed Server still holds must not keep the process alive.
		return io.exit(1);
	}
	// Signals first: whoever waits for the banner may signal at once.
	handleSignals(server, say, writeFiles(parsed, server, fail));
	say(banner(server));
	exposureWarnings(server, parsed.server).forEach(warn);
	return server;
}

// -P and -o port_file, written once listening; the pid file is removed when the process exits.
function writeFiles(parsed, server, fail) {
	const files = [];
	try {
		if (parsed.pidFile) {
			fs.writeFileSync(parsed.pidFile, `${process.pid}\n`);
			files.push(parsed.pidFile);
		}
		if (parsed.portFile) writePortFile(parsed.portFile, server);
	} catch (err) {
		fail(`cannot write ${err.path}: ${err.code || err.message}`, 1);
		server.close();
	}
	return () => files.forEach((file) => fs.rmSync(file, { force: true }));
}

// First signal: close gracefully (replies already due are sent), exit 0. Second: exit at once.
function handleSignals(server, say, cleanup) {
	let stopping = false;
	process.on('exit', cleanup);
	const stop = (signal) => {
		if (stopping) process.exit(1);
		stopping = true;
		say(`simplecached: ${signal}, closing`);
		// No process.exit(): the process ends by itself once every handle is closed, which proves none leaked.
		server.close().then(() => {
			if (server.options.restartFile) say(`simplecached: saved the cache to ${server.options.restartFile}`);
			process.exitCode = 0;
		}, (err) => {
			process.stderr.write(`simplecached: ${err.message}\n`);
			process.exitCode = 1;
		});
	};
	// A client's "shutdown" (-A): the Server closes itself; the process then ends as after a signal.
	server.on('shutdown', ({ graceful }) => {
		stopping = true;
		say(`simplecached: ${graceful ? 'shutdown graceful' : 'shutdown'} command, closing`);
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
			say(`simplecached: SIGHUP, reloaded ${server.options.authFile}`);
		} catch (err) {
			process.stderr.write(`simplecached: SIGHUP: ${err.message}; keeping the users loaded before\n`);
		}
	});
}

module.exports = { main, banner, settleDefaultPort, VERSION_LINE, MEMCACHED_PORT };

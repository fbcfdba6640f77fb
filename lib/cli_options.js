// cli_options: the command line's flags (memcached's letters where they exist) turned into Server
// options, with every usage error worded in the user's flags and units (UsageError, exit 64).
'use strict';

const fs = require('fs');
const net = require('net');

const SEED_PORT = 11311;
const MEMCACHED_PORT = 11211;
const MIB = 1024 * 1024;
// memcached's EX_USAGE (sysexits.h): what it exits with for a bad flag.
const EX_USAGE = 64;

const USAGE = `Usage: simplecached [options]

Ports: the seed (simplecached) protocol — "set <key> <value>", "get <key>", "delete <key>" — is on
11311; memcached's protocols (text, meta and binary) are on 11211, as memcached's own. When 11211
is taken (a system memcached) and --memcached-port was not given, it is left off with a warning.

  -p, --port <n|off>         TCP port for the seed protocol (default 11311; 0 picks one)
      --memcached-port <n|off>  TCP port for memcached's protocols (default 11211; 0 picks one)
  -l, --listen <addr>        address to listen on (default 127.0.0.1; also --host)
  -m, --memory-limit <MiB>   memory for items, in megabytes (default 64)
  -c, --conn-limit <n>       simultaneous connections (default: what the open-files limit allows;
                             also --max-connections)
      --idle-timeout <s>     close connections idle for this many seconds (default 0: never)
      --write-timeout <s>    drop connections whose replies wait unread this long (default 30; 0: never)
  -t, --threads <n>          I/O threads: 1 serves on Node's loop, more start native threads (default 1)
  -I, --max-item-size <size> largest value, in bytes or with k/m suffix (default 1m, min 1k, max
                             1024m, at most half of -m)
  -Y, --auth-file <file>     memcached ascii authentication: "user:password" lines; clients must
                             first send "set <any> 0 0 <n>" with data "<user> <password>"
                             (turns the seed port off unless -p and --allow-unauthenticated-seed)
      --allow-unauthenticated-seed  serve the seed protocol (no authentication) beside -Y
  -S, --enable-sasl          memcached's binary protocol with SASL PLAIN, checked against -Y's users;
                             the memcached port then speaks binary only (as memcached -S)
  -s, --unix-socket <file>   serve the memcached protocol on this Unix socket; as memcached -s, no
                             TCP listener then unless -p or --memcached-port asks for one
      --seed-unix-socket <file>  serve the seed protocol on this Unix socket too
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
  -F, --disable-flush-all    refuse clients' flush_all, as memcached -F
  -M, --disable-evictions    when memory is full, refuse writes instead of evicting items (as memcached -M)
  -P, --pidfile <file>       write the process id there once listening; removed on exit
  -o, --extended <opts>      memcached's comma-separated extended options: idle_timeout=<s>,
                             port_file=<file> (the ports as memcached's MEMCACHED_PORT_FILENAME
                             writes them); maxconns_fast is always on; the others are refused
  -B, --protocol auto        memcached's port tells text from binary by the first byte (only auto)
  -v, --verbose              log errors to stderr; -vv also every command and reply line, as
                             memcached does ("verbosity <n>" changes it while running)
  -u, --user <user>          accepted for memcached's command lines and ignored (no user switch)
  -h, --help                 show this help
  -V, --version              show the version
`;

class UsageError extends Error {
	constructor(message) {
		super(message);
		this.exitCode = EX_USAGE;
	}
}

// Each flag: its long name, memcached's letter, whether it takes a value, and other long names.
const FLAGS = [
	['port', 'p', true], ['memcached-port', null, true], ['listen', 'l', true, ['host']],
	['memory-limit', 'm', true], ['conn-limit', 'c', true, ['max-connections']],
	['idle-timeout', null, true], ['write-timeout', null, true], ['threads', 't', true],
	['max-item-size', 'I', true], ['auth-file', 'Y', true], ['allow-unauthenticated-seed', null, false],
	['enable-sasl', 'S', false], ['unix-socket', 's', true], ['seed-unix-socket', null, true], ['unix-mask', 'a', true],
	['tls-port', null, true], ['tls-cert', null, true], ['tls-key', null, true], ['tls-ca', null, true],
	['metrics-port', null, true], ['restart-file', 'e', true, ['memory-file']], ['snapshot-interval', null, true],
	['enable-shutdown', 'A', false], ['pidfile', 'P', true], ['extended', 'o', true], ['protocol', 'B', true],
	['verbose', 'v', false], ['user', 'u', true], ['help', 'h', false], ['version', 'V', false],
	['daemon', 'd', false], ['disable-evictions', 'M', false], ['disable-flush-all', 'F', false],
	['disable-cas', 'C', false], ['listen-backlog', 'b', true], ['max-reqs-per-event', 'R', true],
].map(([name, short, value, aliases = []]) => ({ name, short, value, aliases }));

// memcached flags refused, each with its one-line reason.
const REFUSED = {
	daemon: 'simplecached does not fork into the background; run it under a service manager (systemd, pm2) or with &',
	'disable-cas': 'not supported yet: cas is always enabled',
	'listen-backlog': 'not adjustable here: the listen backlog is 1024, as memcached\'s default',
	'max-reqs-per-event': 'not adjustable here: a connection yields once its pending replies reach a mark, not after a count of requests',
};

// memcached 1.6.18's -o options this server cannot honour, by name or prefix, with the reason.
const EXTENDED_REFUSED = [
	[/^ext_/, 'there is no external storage (extstore) here'],
	[/^ssl_/, 'TLS is configured with --tls-port, --tls-cert, --tls-key and --tls-ca'],
	[/^(hashpower|no_hashexpand|hash_algorithm)$/, 'the hash table here sizes itself and has one hash function'],
	[/^(no_lru_crawler|lru_crawler_sleep|lru_crawler_tocrawl|no_lru_maintainer|hot_lru_pct|warm_lru_pct|hot_max_factor|warm_max_factor|temporary_ttl|tail_repair_time|slab_automove_freeratio)$/,
		'the cache here evicts by one clock per size class, without memcached\'s LRU segments and crawler to tune'],
	[/^(slab_chunk_max|track_sizes|read_buf_mem_limit|watcher_logbuf_size|worker_logbuf_size|sock_cookie_id|modern|no_modern)$/,
		'not adjustable here'],
];

const byName = new Map();
for (const flag of FLAGS) for (const name of [flag.name, ...flag.aliases]) byName.set(name, flag);
const byShort = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short, f]));

function label(flag) {
	return flag.short ? `-${flag.short}/--${flag.name}` : `--${flag.name}`;
}

// argv → Map(flag name → [values]); memcached's forms: -p 11211, -p11211, --port=11211,
// --port 11211, grouped letters (-vv, -vA). A value may start with '-' (-m -1 is then refused by
// its own check, in the flag's words).
function tokenize(argv) {
	const seen = new Map();
	const add = (flag, value) => {
		if (!seen.has(flag.name)) seen.set(flag.name, []);
		seen.get(flag.name).push(value);
	};
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		const takeValue = (flag, inline) => {
			if (!flag.value) {
				if (inline !== undefined) throw new UsageError(`${label(flag)} takes no value, got '${inline}'`);
				return add(flag, true);
			}
			if (inline !== undefined) return add(flag, inline);
			if (i + 1 >= argv.length) throw new UsageError(`${label(flag)} needs a value`);
			return add(flag, argv[++i]);
		};
		if (arg.startsWith('--')) {
			const eq = arg.indexOf('=');
			const name = arg.slice(2, eq < 0 ? undefined : eq);
			const flag = byName.get(name);
			if (!flag) throw new UsageError(`unknown option '--${name}'`);
			takeValue(flag, eq < 0 ? undefined : arg.slice(eq + 1));
		} else if (arg.startsWith('-') && arg.length > 1) {
			for (let j = 1; j < arg.length; j++) {
				const flag = byShort.get(arg[j]);
				if (!flag) throw new UsageError(`unknown option '-${arg[j]}'`);
				if (flag.value) {
					takeValue(flag, j + 1 < arg.length ? arg.slice(j + 1) : undefined);
					break;
				}
				takeValue(flag);
			}
		} else {
			throw new UsageError(`unexpected argument '${arg}'`);
		}
	}
	return seen;
}

// The readers below each take the flag's values and give the option (the last value wins, as in memcached).
function last(seen, name) {
	const values = seen.get(name);
	return values ? values[values.length - 1] : undefined;
}

function wholeNumber(seen, name, { min = 0, max = Number.MAX_SAFE_INTEGER, unit = '' } = {}) {
	const text = last(seen, name);
	if (text === undefined) return undefined;
	const flag = label(byName.get(name));
	const units = unit ? ` (${unit})` : '';
	if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number${units}, got '${text}'`);
	const value = Number(text);
	if (value < min) throw new UsageError(`${flag} must be at least ${min}${units}, got ${text}`);
	if (value > max) throw new UsageError(`${flag} must be at most ${max}${units}, got ${text}`);
	return value;
}

// A port: a number, or "off" for no listener.
function portFlag(seen, name) {
	if (last(seen, name) === 'off') return false;
	return wholeNumber(seen, name, { max: 65535 });
}

// Sizes as memcached's -I takes them: 1048576, 1024k, 1m.
function sizeFlag(seen, name) {
	const text = last(seen, name);
	if (text === undefined) return undefined;
	const match = /^(\d+)([kKmM]?)$/.exec(text);
	if (!match) throw new UsageError(`${label(byName.get(name))} must be a size like 1048576, 512k or 1m, got '${text}'`);
	return Number(match[1]) * { '': 1, k: 1024, m: MIB }[match[2].toLowerCase()];
}

// memcached's own rule for -I, checked in its order, worded with both flags.
function checkItemSize(itemSize, memoryLimit, text) {
	if (itemSize < 1024) throw new UsageError(`-I/--max-item-size must be at least 1k (1024 bytes), got ${text}`);
	if (itemSize > memoryLimit / 2) {
		throw new UsageError(`-I/--max-item-size ${text} is more than half of -m/--memory-limit (${memoryLimit / MIB} MiB); raise -m or lower -I`);
	}
	if (itemSize > 1024 * MIB) throw new UsageError(`-I/--max-item-size must be at most 1024m (a gigabyte), got ${text}`);
}

// memcached's -a: permission bits in octal, e.g. 700 or 0660.
function maskFlag(seen, name) {
	const text = last(seen, name);
	if (text === undefined) return undefined;
	if (!/^[0-7]{1,4}$/.test(text) || parseInt(text, 8) > 0o777) {
		throw new UsageError(`${label(byName.get(name))} must be octal permissions like 700 or 0660, got '${text}'`);
	}
	return parseInt(text, 8);
}

function listenAddress(seen) {
	const host = last(seen, 'listen');
	if (host === undefined) return undefined;
	if (host === '') throw new UsageError('-l/--listen needs an address, got an empty one');
	// Digits and dots only: meant as an IPv4 address, so it must be one (not looked up as a name).
	if (/^[\d.]+$/.test(host) && !net.isIPv4(host)) {
		throw new UsageError(`-l/--listen ${host} is not an IPv4 address (four numbers from 0 to 255)`);
	}
	return host;
}

// The TLS flags as the Server's tls option (files read now, so a bad path is a usage error).
function tlsFlags(seen) {
	const files = { cert: last(seen, 'tls-cert'), key: last(seen, 'tls-key'), ca: last(seen, 'tls-ca') };
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

// -o a,b=c,...: {idleTimeout, portFile}; anything memcached documents but this server cannot do is
// refused with its reason, anything else as memcached refuses it.
function extendedFlags(seen) {
	const out = {};
	for (const list of seen.get('extended') || []) {
		for (const item of list.split(',')) {
			if (item === '') continue;
			const eq = item.indexOf('=');
			const name = eq < 0 ? item : item.slice(0, eq);
			const value = eq < 0 ? undefined : item.slice(eq + 1);
			if (name === 'maxconns_fast' || name === 'no_maxconns_fast') {
				if (name === 'no_maxconns_fast') throw new UsageError('-o no_maxconns_fast: connections past -c are always refused at once here');
			} else if (name === 'idle_timeout') {
				if (value === undefined || !/^\d+$/.test(value)) throw new UsageError(`-o idle_timeout needs a number of seconds, got '${item}'`);
				out.idleTimeout = Number(value);
			} else if (name === 'port_file') {
				if (!value) throw new UsageError('-o port_file needs a file name (port_file=<file>)');
				out.portFile = value;
			} else {
				const refused = EXTENDED_REFUSED.find(([pattern]) => pattern.test(name));
				throw new UsageError(refused ? `-o ${name}: ${refused[1]}` : `-o ${name}: unknown extended option`);
			}
		}
	}
	return out;
}

// The refused memcached flags, the ignored one (-u) and -B.
function memcachedCompat(seen, warnings) {
	for (const [name, reason] of Object.entries(REFUSED)) {
		if (seen.has(name)) throw new UsageError(`${label(byName.get(name))}: ${reason}`);
	}
	const user = last(seen, 'user');
	if (user !== undefined) warnings.push(`-u ${user} ignored: simplecached does not switch users; start it as the user it should run as`);
	const protocol = last(seen, 'protocol');
	if (protocol !== undefined && protocol !== 'auto') {
		if (protocol === 'ascii' || protocol === 'binary') {
			throw new UsageError(`-B/--protocol ${protocol}: only auto; memcached's port tells text from binary by the first byte`);
		}
		throw new UsageError(`-B/--protocol must be ascii, binary or auto, got '${protocol}'`);
	}
}

// Two of our own listeners on one port: say which, before trying to listen.
function checkPortClash(server) {
	const named = [['-p/--port (seed protocol)', server.port], ['--memcached-port', server.memcachedPort],
		['--tls-port', server.tlsPort], ['--metrics-port', server.metricsPort]];
	const used = named.filter(([, port]) => typeof port === 'number' && port !== 0);
	for (let i = 0; i < used.length; i++) {
		for (let j = i + 1; j < used.length; j++) {
			if (used[i][1] === used[j][1]) {
				throw new UsageError(`${used[j][0]} ${used[j][1]} is the port of our own ${used[i][0]} listener; pick another`);
			}
		}
	}
}

// argv → {action: 'help' | 'version' | 'serve', server, warnings, pidFile, portFile,
// memcachedPortDefault (true when --memcached-port was not given)}. Throws UsageError.
function parse(argv) {
	const seen = tokenize(argv);
	if (seen.has('help')) return { action: 'help' };
	if (seen.has('version')) return { action: 'version' };
	const warnings = [];
	memcachedCompat(seen, warnings);
	const extended = extendedFlags(seen);
	const memoryMiB = wholeNumber(seen, 'memory-limit', { min: 1, max: 1024 * 1024 * 1024, unit: 'MiB' });
	const memoryLimit = (memoryMiB === undefined ? 64 : memoryMiB) * MIB;
	const itemSize = sizeFlag(seen, 'max-item-size');
	checkItemSize(itemSize === undefined ? MIB : itemSize, memoryLimit, last(seen, 'max-item-size') || '1m (the default)');
	const authFile = last(seen, 'auth-file');
	// memcached's -s turns network listening off: the TCP ports stay off unless a flag asks for one.
	const local = seen.has('unix-socket') || seen.has('seed-unix-socket');
	const seedPort = local && !seen.has('port') ? false : portFlag(seen, 'port');
	if (authFile !== undefined && seedPort !== undefined && seedPort !== false && !seen.has('allow-unauthenticated-seed')) {
		throw new UsageError('-Y: the seed protocol (-p) has no authentication; drop -p (or give -p off), or add --allow-unauthenticated-seed');
	}
	const memcachedPort = local && !seen.has('memcached-port') ? false : portFlag(seen, 'memcached-port');
	const server = {
		port: seedPort,
		memcachedPort: memcachedPort === undefined ? MEMCACHED_PORT : memcachedPort,
		host: listenAddress(seen),
		memoryLimit,
		maxConnections: wholeNumber(seen, 'conn-limit', { min: 1 }),
		idleTimeout: wholeNumber(seen, 'idle-timeout'),
		writeTimeout: wholeNumber(seen, 'write-timeout'),
		threads: wholeNumber(seen, 'threads', { min: 1, max: 64 }),
		maxItemSize: itemSize,
		authFile,
		allowUnauthenticatedSeed: seen.has('allow-unauthenticated-seed') || undefined,
		sasl: seen.has('enable-sasl') || undefined,
		socketPath: last(seen, 'unix-socket'),
		seedSocketPath: last(seen, 'seed-unix-socket'),
		socketMode: maskFlag(seen, 'unix-mask'),
		tlsPort: portFlag(seen, 'tls-port'),
		// memcached's -v (errors), -vv (every command and reply line): stderr; more is -vv.
		verbose: seen.has('verbose') ? Math.min(seen.get('verbose').length, 2) : undefined,
		tls: tlsFlags(seen),
		metricsPort: portFlag(seen, 'metrics-port'),
		restartFile: last(seen, 'restart-file'),
		snapshotInterval: wholeNumber(seen, 'snapshot-interval'),
		enableShutdown: seen.has('enable-shutdown') || undefined,
		disableFlushAll: seen.has('disable-flush-all') || undefined,
		disableEvictions: seen.has('disable-evictions') || undefined,
	};
	if (extended.idleTimeout !== undefined && server.idleTimeout === undefined) server.idleTimeout = extended.idleTimeout;
	if (server.port === undefined && authFile === undefined) server.port = SEED_PORT;
	checkPortClash(server);
	return {
		action: 'serve', server, warnings, pidFile: last(seen, 'pidfile'), portFile: extended.portFile,
		memcachedPortDefault: memcachedPort === undefined && !local,
	};
}

module.exports = { parse, USAGE, UsageError, EX_USAGE, SEED_PORT, MEMCACHED_PORT };

// Operators' commands against a real memcached 1.6.18: "stats conns" (per socket: addresses,
// memcached's state names, idle seconds), "lru tune|mode|temp_ttl", "shutdown [graceful]" with
// and without -A, and flush_all refused with -F.
'use strict';

const assert = require('assert');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { startServer, pipeline, statsPairs, waitFor, connect, freePort } = require('./helpers/server');
const { withMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');
const { OP, request, BinaryPeer, u32 } = require('./helpers/binary');

const CLI = path.join(__dirname, '..', 'bin', 'server.js');

// "stats conns" asked on a new connection: {asker: its local port, lines: [[name, value], ...]}.
function statsConns(port) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		let text = '';
		socket.on('error', reject);
		socket.on('connect', () => socket.write('stats conns\r\n'));
		socket.on('data', (d) => {
			text += d.toString('latin1');
			if (!/(^|\r\n)END\r\n$/.test(text)) return;
			const asker = socket.localPort;
			socket.destroy();
			const lines = text.split('\r\n').slice(0, -2).map((l) => {
				const match = /^STAT (\d+):(\w+) (.*)$/.exec(l);
				assert.ok(match, `stats conns line ${JSON.stringify(l)}`);
				return [Number(match[1]), match[2], match[3]];
			});
			resolve({ asker, lines });
		});
	});
}

// The listing by socket: the listener(s) and each connection named by its role (its client's
// local port), with addresses checked against what they must be. Fails on memcached's and ours alike.
function bySocket({ asker, lines }, serverPort, roles) {
	const fds = [...new Set(lines.map(([fd]) => fd))];
	assert.deepStrictEqual(fds, [...fds].sort((a, b) => a - b), 'listed by fd, ascending');
	const sockets = fds.map((fd) => Object.fromEntries(lines.filter(([f]) => f === fd).map(([, name, value]) => [name, value])));
	const named = {};
	for (const [i, s] of sockets.entries()) {
		assert.match(s.secs_since_last_cmd, /^\d+$/);
		if (s.state === 'conn_listening') {
			assert.deepStrictEqual(Object.keys(s), ['addr', 'state', 'secs_since_last_cmd'], `fd ${fds[i]}`);
			assert.strictEqual(s.addr, `tcp:127.0.0.1:${serverPort}`);
			named.listener = s.state;
			continue;
		}
		assert.deepStrictEqual(Object.keys(s), ['addr', 'listen_addr', 'state', 'secs_since_last_cmd'], `fd ${fds[i]}`);
		assert.strictEqual(s.listen_addr, `tcp:127.0.0.1:${serverPort}`);
		const client = Number(/^tcp:127\.0\.0\.1:(\d+)$/.exec(s.addr)[1]);
		const role = client === asker ? 'asker' : Object.keys(roles).find((r) => roles[r].localPort === client);
		if (role) named[role] = s.state;
	}
	return named;
}

describe('stats conns lists every socket as memcached does', function () {
	const reference = withMemcached();
	let server;
	let sockets = [];
	afterEach(async () => {
		for (const s of sockets) s.destroy();
		sockets = [];
		if (server) await server.close();
		server = null;
	});

	// One connection in each state memcached names for an idle client; the asker is parsing.
	async function openRoles(port) {
		const roles = {};
		const open = async (name, data, reply) => {
			const c = await connect(port);
			sockets.push(c);
			roles[name] = c.socket;
			if (data) c.write(data);
			if (reply) assert.strictEqual(await c.read(reply.length), reply);
		};
		await open('fresh');
		await open('answered', 'version\r\n', 'VERSION 1.6.18\r\n');
		await open('partial line', 'get ab');
		await open('data block due', 'set a 0 0 10\r\nabc');
		return roles;
	}
	const sameStates = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
	const EXPECTED = {
		listener: 'conn_listening', fresh: 'conn_new_cmd', answered: 'conn_read', 'partial line': 'conn_read',
		'data block due': 'conn_nread', asker: 'conn_parse_cmd',
	};

	for (const threads of [1, 3]) {
		it(`same names, order, addresses and states as memcached (threads: ${threads})`, async function () {
			server = await startServer({ port: false, memcachedPort: 0, threads });
			const ours = server.address('memcached').port;
			const listings = [];
			for (const port of [reference.port, ours]) {
				const roles = await openRoles(port);
				// The server reads what the connections sent in its own time: wait until it has.
				let seen = null;
				const listing = await waitFor(async () => {
					const l = await statsConns(port);
					seen = bySocket(l, port, roles);
					return sameStates(seen, EXPECTED) && l;
				}, { what: `stats conns on ${port === ours ? 'ours' : 'memcached'}` }).catch((err) => {
					throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
				});
				listings.push(listing);
				for (const s of sockets) s.destroy();
				sockets = [];
			}
			const [theirs, mine] = listings.map(({ lines }) => {
				const rank = new Map([...new Set(lines.map(([fd]) => fd))].map((fd, i) => [fd, i]));
				return lines.map(([fd, name]) => `${rank.get(fd)}:${name}`);
			});
			assert.deepStrictEqual(mine, theirs);
		});
	}

	it('lists hundreds of connections spread over I/O threads once each, by fd, in slices', async function () {
		server = await startServer({ port: false, memcachedPort: 0, threads: 4 });
		const port = server.address('memcached').port;
		const count = 600;
		for (let i = 0; i < count; i++) sockets.push(await connect(port));
		const listing = await waitFor(async () => {
			const l = await statsConns(port);
			return l.lines.filter(([, name]) => name === 'listen_addr').length === count + 1 && l;
		}, { what: `${count} connections listed` });
		const named = bySocket(listing, port, {});
		assert.strictEqual(named.listener, 'conn_listening');
		assert.strictEqual(named.asker, 'conn_parse_cmd');
		const states = listing.lines.filter(([, name]) => name === 'state').map(([, , v]) => v);
		assert.strictEqual(states.filter((s) => s === 'conn_new_cmd').length, count);
		assert.strictEqual(new Set(listing.lines.map(([fd]) => fd)).size, count + 2);
	});

	it('Engine.stats(\'conns\') lists the server\'s sockets in-process', async function () {
		server = await startServer({ port: false, memcachedPort: 0 });
		sockets.push(await connect(server.address('memcached').port));
		await waitFor(() => Object.keys(server.engine.stats('conns')).filter((k) => k.endsWith(':listen_addr')).length === 1,
			{ what: 'one connection listed' });
		const pairs = server.engine.stats('conns');
		assert.ok(Object.values(pairs).includes('conn_listening'), JSON.stringify(pairs));
	});
});

describe('lru tune|mode|temp_ttl answer as memcached\'s and show in stats settings', function () {
	const reference = withMemcached();
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0 });
		port = server.address('memcached').port;
	});
	after(() => server && server.close());

	it('gives memcached\'s replies, byte for byte', async function () {
		const commands = ['lru', 'lru tune', 'lru tune 10 20 0.1', 'lru tune 10 20 0.1 2.0', 'lru tune 90 20 0.1 2',
			'lru tune 60 20 0.1 2', 'lru tune 10 20 0 1', 'lru tune 10 20 1 -1', 'lru tune x 20 1 1', 'lru tune 10 20 1x 1',
			'lru tune -1 20 1 1', 'lru tune 10 20 0.1 2.0 noreply', 'lru tune 10 20 1e400 1', 'lru tune 10 20 .5 7.',
			'lru tune 4294967295 81 1 1', 'lru tune 4294967296 0 1 1', 'lru mode', 'lru mode flat', 'lru mode segmented',
			'lru mode x', 'lru mode flat noreply', 'lru temp_ttl', 'lru temp_ttl abc', 'lru temp_ttl 30', 'lru temp_ttl -1',
			'lru temp_ttl 99999999999', 'lru temp_ttl 5 noreply', 'lru foo 1', 'lru noreply'];
		for (const command of commands) {
			const [ours, theirs] = await Promise.all([pipeline(port, [command]), pipeline(reference.port, [command])]);
			assert.strictEqual(ours, theirs, command);
		}
	});

	it('stats settings shows what lru set, as memcached\'s does', async function () {
		const names = ['lru_segmented', 'hot_lru_pct', 'warm_lru_pct', 'hot_max_factor', 'warm_max_factor', 'temp_lru', 'temporary_ttl'];
		const settings = async (p) => {
			const all = new Map(await statsPairs(p, 'settings'));
			return names.map((n) => `${n} ${all.get(n)}`);
		};
		for (const sequence of [['lru tune 15 25 0.125 3', 'lru mode flat', 'lru temp_ttl 30'], ['lru mode segmented', 'lru temp_ttl -1']]) {
			for (const p of [port, reference.port]) assert.strictEqual(await pipeline(p, sequence), 'OK\r\n'.repeat(sequence.length));
			assert.deepStrictEqual(await settings(port), await settings(reference.port), sequence.join(', '));
		}
	});
});

describe('flush_all refused, as memcached\'s -F', function () {
	const reference = withMemcached(['-F']);
	let server;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0, disableFlushAll: true });
		port = server.address('memcached').port;
	});
	after(() => server && server.close());

	it('the text protocol: the same refusals, counted alike, and nothing is flushed', async function () {
		const commands = ['set k 0 0 5', 'hello', 'flush_all', 'flush_all 0', 'flush_all noreply', 'flush_all x',
			'flush_all 10 noreply', 'get k'];
		const [ours, theirs] = await Promise.all([pipeline(port, commands), pipeline(reference.port, commands)]);
		assert.strictEqual(ours, theirs);
		assert.match(ours, /CLIENT_ERROR flush_all not allowed\r\n[\s\S]*VALUE k 0 5\r\nhello\r\n/);
		const counted = async (p) => {
			const stats = new Map(await statsPairs(p));
			return ['cmd_flush', 'curr_items'].map((name) => `${name} ${stats.get(name)}`);
		};
		assert.deepStrictEqual(await counted(port), await counted(reference.port));
		const flushEnabled = async (p) => new Map(await statsPairs(p, 'settings')).get('flush_enabled');
		assert.strictEqual(await flushEnabled(port), 'no');
		assert.strictEqual(await flushEnabled(reference.port), 'no');
	});

	it('the binary protocol: FLUSH and FLUSHQ answered with memcached\'s error, byte for byte, a malformed one as malformed', async function () {
		const chunks = [request(OP.FLUSH, { opaque: 1 }), request(OP.FLUSHQ, { opaque: 2 }),
			request(OP.FLUSH, { extras: u32(5), opaque: 3 }), request(OP.FLUSH, { extras: Buffer.alloc(2), opaque: 4 })];
		const replies = await Promise.all([port, reference.port].map(async (p) => {
			const peer = new BinaryPeer(p);
			await peer.connect();
			try {
				return (await peer.round(chunks)).bytes;
			} finally {
				peer.close();
			}
		}));
		assert.ok(replies[0].includes(Buffer.from('Auth failure.')), replies[0].toString('latin1'));
		assert.deepStrictEqual(replies[0], replies[1]);
	});

	it('is refused as an option of a Server given an Engine, which has it as its own option (as -A and -M are)', async function () {
		const { Engine } = require('../lib/engine');
		const { Server } = require('..');
		for (const name of ['disableFlushAll', 'enableShutdown', 'disableEvictions']) {
			assert.throws(() => new Server({ port: false, memcachedPort: 0, engine: new Engine(), [name]: true }), new RegExp(`${name} is an option of the Engine given`));
		}
	});
});

// memcached with -A, started here so that the test can see it exit.
async function memcachedWithShutdown() {
	const port = await freePort();
	// Not under a sanitizer's runtime preloaded for our addon (npm run test:tsan): its exit code is ours to see.
	const { LD_PRELOAD, ...env } = process.env;
	const child = spawn('memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-A'], { stdio: 'ignore', env });
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	process.once('exit', () => child.kill('SIGKILL'));
	await waitFor(() => new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	}), { what: 'memcached -A listening' });
	return { port, exited };
}

// bin/server.js -A on a free port, once it says it listens.
async function cliWithShutdown() {
	const port = await freePort();
	const child = spawn(process.execPath, [CLI, '-p', 'off', '--memcached-port', String(port), '-A'], { stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	child.stdout.on('data', (d) => { out += d; });
	child.stderr.on('data', (d) => { out += d; });
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out })));
	process.once('exit', () => child.kill('SIGKILL'));
	await waitFor(() => /^simplecached \S+: /m.test(out), { what: 'bin/server.js -A listening' });
	return { port, exited };
}

// Everything the server sends after the line, up to its close.
async function replyAndClose(port, line) {
	const c = await connect(port);
	c.write(`${line}\r\n`);
	return c.closed;
}

describe('shutdown, as memcached\'s -A allows it', function () {
	describe('without -A', function () {
		const reference = withMemcached();
		let server;
		before(async () => { server = await startServer({ port: false, memcachedPort: 0 }); });
		after(() => server && server.close());

		it('answers as memcached without -A, and stats settings says shutdown_command no', async function () {
			const port = server.address('memcached').port;
			for (const command of ['shutdown', 'shutdown graceful', 'shutdown foo', 'shutdown graceful x']) {
				const [ours, theirs] = await Promise.all([pipeline(port, [command]), pipeline(reference.port, [command])]);
				assert.strictEqual(ours, theirs, command);
			}
			assert.strictEqual(new Map(await statsPairs(port, 'settings')).get('shutdown_command'), 'no');
		});
	});

	describe('with -A', function () {
		before(needs('memcached'));
		for (const command of ['shutdown', 'shutdown graceful']) {
			it(`"${command}": the connection closes with no reply and the process exits 0, as memcached`, async function () {
				const [theirs, ours] = await Promise.all([memcachedWithShutdown(), cliWithShutdown()]);
			for (const side of [theirs, ours]) {
				assert.strictEqual(await pipeline(side.port, ['shutdown foo']), 'CLIENT_ERROR invalid shutdown mode\r\n');
				assert.strictEqual(new Map(await statsPairs(side.port, 'settings')).get('shutdown_command'), 'yes');
			}
			const replies = await Promise.all([replyAndClose(theirs.port, command), replyAndClose(ours.port, command)]);
			assert.deepStrictEqual(replies, ['', '']);
			const [theirExit, ourExit] = await Promise.all([theirs.exited, ours.exited]);
			assert.deepStrictEqual({ code: theirExit.code, signal: theirExit.signal }, { code: 0, signal: null });
			assert.deepStrictEqual({ code: ourExit.code, signal: ourExit.signal }, { code: 0, signal: null }, ourExit.out);
			assert.match(ourExit.out, new RegExp(`simplecached: ${command} command, closing`));
			});
		}
	});

	it('an embedded Server emits \'shutdown\' then \'close\', and leaves the process alone', async function () {
		const server = await startServer({ port: false, memcachedPort: 0, enableShutdown: true, threads: 2 });
		const events = [];
		server.on('shutdown', (info) => events.push(['shutdown', info]));
		const closed = new Promise((resolve) => server.once('close', resolve));
		assert.strictEqual(await replyAndClose(server.address('memcached').port, 'shutdown graceful'), '');
		await closed;
		assert.deepStrictEqual(events, [['shutdown', { graceful: true }]]);
		assert.strictEqual(server.listening, false);
	});

	it('rejects an enableShutdown that is not a boolean', function () {
		assert.throws(() => new (require('..').Server)({ enableShutdown: 'yes' }), /option enableShutdown must be a boolean/);
	});
});

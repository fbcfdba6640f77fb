// SASL PLAIN on the binary protocol (memcached's -S; here sasl: true with the auth file's users):
// the same request streams to a real memcached -S (Cyrus SASL over a sasldb) and to simplecached
// must get the same bytes back and the same hang-ups; memjs with username/password works end to end.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { execFileSync } = require('child_process');
const memjs = require('memjs');
const { startServer } = require('./helpers/server');
const { startMemcached } = require('./helpers/memcached');
const { OP, request, parse, storeExtras } = require('./helpers/binary');
const { needs } = require('./helpers/references');

const USER = 'alice';
const PASSWORD = 'wonder land';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-sasl-'));
const authFile = path.join(dir, 'users');
fs.writeFileSync(authFile, `${USER}:${PASSWORD}\n`);

const plain = (user, password, authzid = '') => Buffer.from(`${authzid}\0${user}\0${password}`);
const auth = (value, opaque = 1, key = 'PLAIN') => request(OP.SASL_AUTH, { key, value, opaque });
const step = (value, opaque = 2) => request(OP.SASL_STEP, { key: 'PLAIN', value, opaque });
const set = (key, value, opaque) => request(OP.SET, { key, value, extras: storeExtras(0, 0), opaque });
const get = (key, opaque) => request(OP.GET, { key, opaque });
const noop = (opaque = 9) => request(OP.NOOP, { opaque });

// What a server does with one stream: every byte it sends until it hangs up or answers the last
// request expected (a NOOP sentinel where the server should stay open), and whether it hung up.
function session(port, bytes, expectPackets) {
	const enough = typeof expectPackets === 'function' ? expectPackets : (packets) => packets.length >= expectPackets;
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		let got = Buffer.alloc(0);
		const finish = (closed) => {
			socket.destroy();
			resolve({ bytes: got.toString('hex'), closed });
		};
		socket.on('data', (d) => {
			got = Buffer.concat([got, d]);
			if (enough(parse(got).packets)) finish(false);
		});
		socket.on('error', () => {});
		socket.on('close', () => finish(true));
		socket.write(bytes);
	});
}

// The streams: [name, bytes, packets expected if the server stays open].
const STREAMS = [
	['list mechanisms', request(OP.SASL_LIST_MECHS, { opaque: 1 }), 1],
	['auth, then commands', Buffer.concat([auth(plain(USER, PASSWORD)), set('a', 'x', 3), get('a', 4)]), 3],
	['auth with a wrong password, then a command', Buffer.concat([auth(plain(USER, 'nope')), get('a', 4)]), 3],
	['auth of an unknown user', Buffer.concat([auth(plain('bob', PASSWORD)), noop()]), 3],
	['auth acting as itself', Buffer.concat([auth(plain(USER, PASSWORD, USER)), noop()]), 2],
	['auth acting as another user', Buffer.concat([auth(plain(USER, PASSWORD, 'bob')), noop()]), 3],
	['empty auth, then the message as a step', Buffer.concat([auth(Buffer.alloc(0)), step(plain(USER, PASSWORD)), get('a', 4)]), 3],
	['a step without an auth', Buffer.concat([step(plain(USER, PASSWORD)), noop()]), 3],
	['another mechanism', Buffer.concat([auth(Buffer.alloc(0), 1, 'CRAM-MD5'), noop()]), 3],
	['a malformed PLAIN message', Buffer.concat([auth(Buffer.from('alice wonder land')), noop()]), 3],
	['a mechanism name over 32 bytes', Buffer.concat([auth(Buffer.from('abc'), 1, 'P'.repeat(40)), noop()]), 3],
	['auth without a mechanism', Buffer.concat([request(OP.SASL_AUTH, { value: 'abc', opaque: 1 }), noop()]), 3],
	['list mechanisms with a body', Buffer.concat([request(OP.SASL_LIST_MECHS, { key: 'x', opaque: 1 }), noop()]), 3],
	['a command before auth', Buffer.concat([get('a', 4), noop()]), 3],
	['a quiet command before auth', Buffer.concat([request(OP.SETQ, { key: 'q', value: 'v', extras: storeExtras(0, 0), opaque: 5 }), noop()]), 3],
	['version before auth', Buffer.concat([request(OP.VERSION, { opaque: 5 }), noop()]), 3],
	['auth, then a failed auth', Buffer.concat([auth(plain(USER, PASSWORD)), auth(plain(USER, 'nope'), 2), get('a', 4)]), 4],
	['text, a header long', Buffer.from('get aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'), 1],
];

describe('SASL PLAIN against memcached -S', function () {
	this.timeout(60000);
	let reference;
	let server;

	before(needs('memcached', 'saslpasswd2'));
	before(async () => {
		// memcached -S takes its users from Cyrus SASL: a sasldb and a config naming it.
		const sasldb = path.join(dir, 'sasldb2');
		execFileSync('/usr/sbin/saslpasswd2', ['-p', '-c', '-a', 'memcached', '-f', sasldb, USER], { input: PASSWORD });
		fs.writeFileSync(path.join(dir, 'memcached.conf'), `mech_list: plain\nsasldb_path: ${sasldb}\n`);
		process.env.SASL_CONF_PATH = dir;
		try {
			[reference, server] = await Promise.all([startMemcached(['-S']), startServer({ port: false, memcachedPort: 0, authFile, sasl: true })]);
		} finally {
			delete process.env.SASL_CONF_PATH;
		}
	});
	after(async () => {
		await Promise.all([reference && reference.stop(), server && server.close()]);
	});

	for (const [name, bytes, packets] of STREAMS) {
		it(`${name}: the same bytes and hang-up as memcached`, async () => {
			const [theirs, ours] = await Promise.all([reference.port, server.address('memcached').port].map((port) => session(port, bytes, packets)));
			assert.deepStrictEqual(ours, theirs);
		});
	}

	it('refuses text commands as memcached -S does: no answer, then a silent hang-up', async () => {
		// "version" is shorter than a binary header: both wait for more, answering nothing; the NOOP
		// after it completes a header without the magic, and both hang up without a word.
		const streams = [Buffer.concat([Buffer.from('version\r\n'), noop()]), Buffer.from('version\r\n' + 'stats\r\n'.repeat(3))];
		for (const bytes of streams) {
			const [theirs, ours] = await Promise.all([reference.port, server.address('memcached').port].map((port) => session(port, bytes, 1)));
			assert.deepStrictEqual(ours, theirs);
		}
	});

	it('stats: auth_cmds and auth_errors count as memcached counts them; settings say auth_enabled_sasl yes', async () => {
		// Logged in, then the stats group; the list ends with an empty STAT packet.
		const statsOf = async (port, group) => {
			const login = auth(plain(USER, PASSWORD), 1);
			const statRequest = request(OP.STAT, { key: group, opaque: 2 });
			const ended = (packets) => packets.some((p) => p.opcode === OP.STAT && p.key.length === 0);
			const raw = await session(port, Buffer.concat([login, statRequest]), ended);
			const packets = parse(Buffer.from(raw.bytes, 'hex')).packets.filter((p) => p.opcode === OP.STAT && p.key.length);
			return Object.fromEntries(packets.map((p) => [p.key.toString(), p.value.toString()]));
		};
		const ports = [reference.port, server.address('memcached').port];
		const [theirs, ours] = await Promise.all(ports.map((port) => statsOf(port, '')));
		assert.ok(Number(theirs.auth_cmds) > 0);
		assert.strictEqual(ours.auth_cmds, theirs.auth_cmds);
		assert.strictEqual(ours.auth_errors, theirs.auth_errors);
		const [theirSettings, ourSettings] = await Promise.all(ports.map((port) => statsOf(port, 'settings')));
		assert.strictEqual(theirSettings.auth_enabled_sasl, 'yes');
		assert.strictEqual(ourSettings.auth_enabled_sasl, 'yes');
	});
});

describe('memjs with username and password (SASL PLAIN)', function () {
	this.timeout(30000);
	let server;
	const quiet = { log() {} };
	const clientFor = (options) => memjs.Client.create(`127.0.0.1:${server.address('memcached').port}`, { logger: quiet, retries: 0, timeout: 2, ...options });
	before(async () => { server = await startServer({ port: false, memcachedPort: 0, authFile, sasl: true }); });
	after(() => server && server.close());

	it('sets and gets with the right credentials', async () => {
		const client = clientFor({ username: USER, password: PASSWORD });
		try {
			assert.strictEqual(await client.set('memjs', 'authenticated value', { expires: 0 }), true);
			const { value } = await client.get('memjs');
			assert.strictEqual(value.toString(), 'authenticated value');
		} finally {
			client.close();
		}
	});

	for (const [what, options] of [['a wrong password', { username: USER, password: 'nope' }], ['no credentials', {}]]) {
		it(`fails with ${what}, and stores nothing`, async () => {
			const client = clientFor(options);
			try {
				await assert.rejects(client.set(`denied-${what}`, 'x', { expires: 0 }));
			} finally {
				client.close();
			}
			const authorized = clientFor({ username: USER, password: PASSWORD });
			try {
				assert.strictEqual((await authorized.get(`denied-${what}`)).value, null);
			} finally {
				authorized.close();
			}
		});
	}
});

describe('bin/server.js -S', function () {
	this.timeout(30000);
	const { CLI, run, exitWithin } = require('./helpers/process');
	const { waitFor } = require('./helpers/server');

	it('serves SASL PLAIN with -Y\'s users on a Unix socket (-s); -S without -Y is refused', async () => {
		const socket = path.join(dir, 'cli.sock');
		const cli = run([CLI, '-S', '-Y', authFile, '-s', socket]);
		try {
			await waitFor(() => /^simplecached \S+: /m.test(cli.out.stdout), { what: 'the banner' });
			// Every packet until `count` arrived or the server hung up.
			const exchangeUnix = (bytes, count) => new Promise((resolve, reject) => {
				const conn = net.connect(socket);
				let got = Buffer.alloc(0);
				const done = () => { conn.destroy(); resolve(parse(got).packets.map((p) => [p.opaque, p.status, p.value.toString()])); };
				conn.on('data', (d) => {
					got = Buffer.concat([got, d]);
					if (parse(got).packets.length >= count) done();
				});
				conn.on('error', reject);
				conn.on('close', done);
				conn.write(bytes);
			});
			// A get before auth is refused and the connection closed, as memcached does.
			assert.deepStrictEqual(await exchangeUnix(Buffer.concat([get('k', 7), noop()]), 2), [[7, 0x20, 'Auth failure.']]);
			const loggedIn = await exchangeUnix(Buffer.concat([auth(plain(USER, PASSWORD)), set('k', 'v', 3), get('k', 4)]), 3);
			assert.deepStrictEqual(loggedIn, [[1, 0, 'Authenticated'], [3, 0, ''], [4, 0, 'v']]);
		} finally {
			cli.child.kill('SIGTERM');
			await exitWithin(cli, 20000, 'bin/server.js');
		}
		const refused = await exitWithin(run([CLI, '-S']), 20000, 'bin/server.js -S');
		assert.notStrictEqual(refused.code, 0);
		assert.match(refused.stderr, /sasl needs .*authFile/);
	});
});

describe('sasl option', () => {
	it('needs authFile, whose users it checks', () => {
		const { Server } = require('..');
		assert.throws(() => new Server({ port: false, memcachedPort: 0, sasl: true }), /option sasl needs option authFile/);
	});
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

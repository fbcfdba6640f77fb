// The TLS listener (tlsPort): memcached's text protocol over Node's tls, fed to the same C engine —
// with the Client (tls option), with `openssl s_client`, and under bad input and slow readers.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const tls = require('tls');
const net = require('net');
const { execFileSync, spawn } = require('child_process');
const { Server, Client } = require('..');
const { startServer, RawConnection, waitFor, pipeline } = require('./helpers/server');
const { CLI, run, exitWithin, startCli } = require('./helpers/process');
const { startMemcached } = require('./helpers/memcached');
const { Peer, connectSides, exchangeSides } = require('./helpers/differential');
const { rng, makeRound } = require('./helpers/sessions');
const { needs } = require('./helpers/references');

// The differential test's Peer, over TLS.
class TlsPeer extends Peer {
	constructor(port, ca) {
		super(port);
		this.ca = ca;
	}

	open(onConnect) {
		return tls.connect({ port: this.port, host: '127.0.0.1', ca: this.ca, servername: 'localhost' }, onConnect);
	}
}

// A throwaway self-signed certificate for localhost / 127.0.0.1 (.ci/run installs openssl).
function makeCertificate(dir) {
	const key = path.join(dir, 'key.pem');
	const cert = path.join(dir, 'cert.pem');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
		'-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
	return { keyFile: key, certFile: cert, key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

function tlsConnect(port, ca, extra = {}) {
	return new Promise((resolve, reject) => {
		const socket = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost', ...extra });
		socket.once('error', reject);
		socket.once('secureConnect', () => {
			socket.removeListener('error', reject);
			resolve(new RawConnection(socket));
		});
	});
}

// Runs `openssl s_client` with the input on stdin; resolves with {code, stdout} once it exits
// (-quiet keeps it reading after stdin's end, until the server closes).
function sClient(port, caFile, input) {
	return new Promise((resolve) => {
		const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', caFile, '-verify_return_error', '-quiet'],
			{ stdio: ['pipe', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d) => { stdout += d.toString('latin1'); });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
		child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
		child.stdin.end(input);
	});
}

describe('tls: the memcached protocol over TLS', function () {
	this.timeout(60000);
	let dir;
	let certs;
	let server;
	let port;
	const open = [];

	before(needs('openssl'));
	before(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-tls-'));
		certs = makeCertificate(dir);
		server = await startServer({ port: false, memcachedPort: 0, tlsPort: 0, tls: { cert: certs.cert, key: certs.key } });
		port = server.address('tls').port;
	});
	afterEach(() => { open.splice(0).forEach((c) => c.socket.destroy()); });
	after(async () => {
		if (server) await server.close();
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	it('serves the Client (tls option) on the same store as the plain port, counted as a connection', async () => {
		const before = server.stats();
		const client = new Client({ port, protocol: 'memcached', tls: { ca: certs.cert } });
		const plain = new Client({ port: server.address('memcached').port, protocol: 'memcached' });
		try {
			assert.strictEqual(await client.set('tls-key', 'over tls', { flags: 7 }), true);
			assert.strictEqual(await plain.get('tls-key'), 'over tls');
			assert.strictEqual(await client.incr('missing'), null);
			assert.deepStrictEqual(await client.getMulti(['tls-key', 'nope']), { 'tls-key': 'over tls' });
			assert.strictEqual((await client.gets('tls-key')).flags, 7);
			const during = server.stats();
			assert.strictEqual(during.curr_connections, before.curr_connections + 2);
			assert.strictEqual(during.total_connections, before.total_connections + 2);
		} finally {
			await Promise.all([client.close(), plain.close()]);
		}
		await waitFor(() => server.stats().curr_connections === before.curr_connections, { what: 'both connections to be gone' });
	});

	it('answers openssl s_client, which verifies the certificate, and closes on quit', async () => {
		const input = 'set sc 0 0 5\r\nhello\r\nget sc\r\nbogus\r\nquit\r\nget sc\r\n';
		const result = await sClient(port, certs.certFile, input);
		assert.strictEqual(result.stdout, 'STORED\r\nVALUE sc 0 5\r\nhello\r\nEND\r\nERROR\r\n', result.stderr);
		assert.strictEqual(result.code, 0, result.stderr);
	});

	it('is refused by a client that does not trust the certificate', async () => {
		const client = new Client({ port, protocol: 'memcached', tls: true });
		await assert.rejects(client.get('k'), (err) => /SELF_SIGNED|self.signed/i.test(`${err.code} ${err.message}`));
		await client.close().catch(() => {});
	});

	it('survives plain text and garbage handshakes on the TLS port; other connections go on', async () => {
		const good = await tlsConnect(port, certs.cert);
		open.push(good);
		// Not TLS at all, and a bad record: the server hangs up.
		for (const junk of ['get k\r\n', Buffer.alloc(5000, 0x16)]) {
			const socket = net.connect(port, '127.0.0.1');
			socket.on('error', () => {});
			socket.write(junk);
			await new Promise((resolve) => socket.on('close', resolve));
		}
		// A record that never completes: the server waits (up to its handshake timeout), others go on.
		const stuck = net.connect(port, '127.0.0.1');
		stuck.on('error', () => {});
		stuck.write(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3]));
		try {
			assert.strictEqual(await good.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
		} finally {
			stuck.destroy();
		}
	});

	it('closes only the connection that sends a line with no end past 2 KiB', async () => {
		const bad = await tlsConnect(port, certs.cert);
		const good = await tlsConnect(port, certs.cert);
		open.push(bad, good);
		bad.write('x'.repeat(5000));
		assert.strictEqual(await bad.closed, '');
		assert.strictEqual(await good.request('get nothing\r\n', 'END\r\n'), 'END\r\n');
	});

	it('answers commands cut at every byte and pipelined in one write', async () => {
		const conn = await tlsConnect(port, certs.cert);
		open.push(conn);
		const request = 'set cut 0 0 3\r\nabc\r\nget cut\r\ndelete cut\r\n';
		const expected = 'STORED\r\nVALUE cut 0 3\r\nabc\r\nEND\r\nDELETED\r\n';
		for (const byte of request) {
			conn.write(byte);
			await new Promise((resolve) => setImmediate(resolve));
		}
		assert.strictEqual(await conn.read(expected.length), expected);
		const many = 'get nothing\r\n'.repeat(1000);
		assert.strictEqual(await conn.request(many, 'END\r\n'.repeat(1000)), 'END\r\n'.repeat(1000));
	});

	it('speaks the binary protocol on a connection whose first byte is 0x80, cut at every byte', async () => {
		const { OP, request, storeExtras, parse } = require('./helpers/binary');
		const conn = await tlsConnect(port, certs.cert);
		open.push(conn);
		const bytes = Buffer.concat([request(OP.SET, { key: 'bin', extras: storeExtras(3, 0), value: 'v\r\n', opaque: 1 }),
			request(OP.GETK, { key: 'bin', opaque: 2 }), request(OP.DELETE, { key: 'bin', opaque: 3 })]);
		for (const byte of bytes) {
			conn.write(Buffer.from([byte]));
			await new Promise((resolve) => setImmediate(resolve));
		}
		const replies = parse(Buffer.from(await conn.read(24 + 24 + 4 + 3 + 3 + 24), 'latin1')).packets;
		assert.deepStrictEqual(replies.map((p) => [p.opcode, p.status, p.opaque]), [[OP.SET, 0, 1], [OP.GETK, 0, 2], [OP.DELETE, 0, 3]]);
		assert.strictEqual(replies[1].value.toString(), 'v\r\n');
		assert.strictEqual(replies[1].key.toString(), 'bin');
	});

	it('stops executing a reader\'s commands while its replies are unsent, then sends them all', async () => {
		const conn = await tlsConnect(port, certs.cert);
		open.push(conn);
		const value = 'v'.repeat(100000);
		assert.strictEqual(await conn.request(`set big 0 0 ${value.length}\r\n${value}\r\n`, 'STORED\r\n'), 'STORED\r\n');
		const reply = `VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`;
		const count = 1000;   // 100 MB of replies
		conn.socket.pause();
		const written = server.stats().bytes_written;
		conn.write('get big\r\n'.repeat(count));
		// Half a second for the server to produce what it would: with flow control that is bounded
		// whatever the machine's load, so this wait cannot make the test fail, only pass weaker.
		await new Promise((resolve) => setTimeout(resolve, 500));
		const produced = server.stats().bytes_written - written;
		assert.ok(produced < 10 * 1024 * 1024, `the server produced ${produced} bytes for a client that reads nothing`);
		conn.socket.resume();
		let got = 0;
		while (got < count) {
			assert.strictEqual(await conn.read(reply.length), reply);
			got++;
		}
	});

	it('sends a key listing larger than the output mark, paced by the reader', async () => {
		const plain = server.address('memcached').port;
		const keys = Array.from({ length: 20000 }, (_, i) => `tls-listing:${i}`);
		await pipeline(plain, keys.flatMap((k) => [`set ${k} 0 0 1 noreply`, 'v']));
		const conn = await tlsConnect(port, certs.cert);
		open.push(conn);
		conn.write('lru_crawler metadump all\r\nmn\r\n');
		let text = '';
		while (!text.endsWith('END\r\nMN\r\n')) text += await conn.read(Math.max(1, conn.buffer.length));
		const listed = text.split('\n').filter((l) => l.startsWith('key=tls-listing%3A')).length;
		assert.strictEqual(listed, keys.length);
	});

	it('answers every command received before the client ended its side', async () => {
		const conn = await tlsConnect(port, certs.cert);
		open.push(conn);
		const value = 'w'.repeat(100000);
		assert.strictEqual(await conn.request(`set half 0 0 ${value.length}\r\n${value}\r\n`, 'STORED\r\n'), 'STORED\r\n');
		conn.socket.end('get half\r\n'.repeat(200));   // 20 MB of replies, past every output mark
		const rest = await conn.closed;
		assert.strictEqual(rest, `VALUE half 0 ${value.length}\r\n${value}\r\nEND\r\n`.repeat(200));
	});

	it('applies maxConnections to TLS connections too', async () => {
		const small = await startServer({ port: false, tlsPort: 0, maxConnections: 1, tls: { cert: certs.cert, key: certs.key } });
		try {
			const first = await tlsConnect(small.address('tls').port, certs.cert);
			const second = await tlsConnect(small.address('tls').port, certs.cert);
			assert.strictEqual(await second.closed, 'ERROR Too many open connections\r\n');
			assert.strictEqual(small.stats().rejected_connections, 1);
			assert.strictEqual(await first.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
			first.destroy();
		} finally {
			await small.close();
		}
	});

	it('applies the idle and write timeouts to TLS connections too', async () => {
		const timed = await startServer({ port: false, tlsPort: 0, idleTimeout: 1, writeTimeout: 1, tls: { cert: certs.cert, key: certs.key } });
		try {
			const tlsPort = timed.address('tls').port;
			const value = 'v'.repeat(256 * 1024);
			const writer = await tlsConnect(tlsPort, certs.cert);
			assert.strictEqual(await writer.request(`set big 0 0 ${value.length}\r\n${value}\r\n`, 'STORED\r\n'), 'STORED\r\n');
			const idle = await tlsConnect(tlsPort, certs.cert);
			const stalled = await tlsConnect(tlsPort, certs.cert);
			stalled.socket.pause();
			stalled.write('get big\r\n'.repeat(64));
			const busy = await tlsConnect(tlsPort, certs.cert);
			// Commands without replies count as activity too; bytes that make no command do not.
			const quiet = await tlsConnect(tlsPort, certs.cert);
			const trickle = await tlsConnect(tlsPort, certs.cert);
			// Busy and quiet connections act without pause, and trickle sends a byte every 200 ms,
			// until only they are left: the idle ones (writer too, once its set is done), the
			// trickling and the stalled one are gone (or mocha's timeout fails the test).
			let nextTrickle = 0;
			for (let i = 0; !(idle.isClosed && writer.isClosed && trickle.isClosed && timed.stats().connections === 2); i++) {
				assert.strictEqual(await busy.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
				quiet.write(`set quiet${i % 100} 0 0 1 noreply\r\nq\r\n`);
				if (Date.now() >= nextTrickle && !trickle.isClosed) {
					trickle.write('g');
					nextTrickle = Date.now() + 200;
				}
				await new Promise(setImmediate);
			}
			assert.ok(!busy.isClosed, 'the busy TLS connection was closed');
			assert.ok(!quiet.isClosed, 'the TLS connection sending noreply commands was closed');
			[writer, stalled, busy, quiet, trickle].forEach((c) => c.socket.destroy());
		} finally {
			await timed.close();
		}
	});

	it('authenticates over TLS with an auth file', async () => {
		const file = path.join(dir, 'users');
		fs.writeFileSync(file, 'alice:secret\n');
		const secure = await startServer({ port: false, tlsPort: 0, authFile: file, tls: { cert: certs.cert, key: certs.key } });
		const client = new Client({ port: secure.address('tls').port, protocol: 'memcached', tls: { ca: certs.cert } });
		try {
			await assert.rejects(client.get('k'), (err) => /unauthenticated/.test(err.message));
			assert.strictEqual(await client.set('auth', 'alice secret'), true);
			assert.strictEqual(await client.set('k', 'v'), true);
			assert.strictEqual(await client.get('k'), 'v');
		} finally {
			await client.close();
			await secure.close();
		}
	});

	it('closes gracefully: a connected TLS client is answered, then closed; a stalled handshake too', async () => {
		const own = await startServer({ port: false, tlsPort: 0, tls: { cert: certs.cert, key: certs.key } });
		const conn = await tlsConnect(own.address('tls').port, certs.cert);
		const stalled = net.connect(own.address('tls').port, '127.0.0.1');
		stalled.on('error', () => {});
		await new Promise((resolve) => stalled.on('connect', resolve));
		assert.strictEqual(await conn.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
		const started = Date.now();
		await own.close();
		assert.ok(Date.now() - started < 9000, 'close waited for the 10 s handshake timeout');
		assert.strictEqual(await conn.closed, '');
		await new Promise((resolve) => (stalled.destroyed ? resolve() : stalled.on('close', resolve)));
	});

	it('answers random sessions as real memcached does on its plain port, pipelined and fragmented', async function () {
		needs('memcached').call(this);
		// A fresh server, as memcached is: cas uniques count from 1 on both, so that a junk cas
		// argument such as 1 means the same item to both.
		const [memcached, own] = await Promise.all([
			startMemcached(['-o', 'no_lru_crawler,no_lru_maintainer']),
			startServer({ port: false, tlsPort: 0, tls: { cert: certs.cert, key: certs.key } }),
		]);
		const seed = Number(process.env.SEED) || Math.floor(Math.random() * 2 ** 31);
		const r = rng(seed);
		const tlsPort = own.address('tls').port;
		const connect = () => connectSides([memcached.port, tlsPort], (port) => (port === tlsPort ? new TlsPeer(port, certs.cert) : new Peer(port)));
		let sides = await connect();
		try {
			for (let round = 0; round < 40; round++) {
				const pieces = makeRound(r, 10 + r.int(40), 'tls:');
				const cuts = Array.from({ length: r.int(6) }, () => r.next()).sort();
				if (await exchangeSides(sides, pieces, cuts, `seed ${seed} round ${round}`)) {
					sides.forEach((side) => side.peer.close());
					sides = await connect();
				}
			}
		} finally {
			sides.forEach((side) => side.peer.close());
			await Promise.all([memcached.stop(), own.close()]);
		}
	});

	it('checks its options', () => {
		assert.throws(() => new Server({ port: false, tlsPort: 0 }), (err) => err instanceof TypeError && /tlsPort needs option tls/.test(err.message));
		assert.throws(() => new Server({ port: 0, tls: { cert: certs.cert, key: certs.key } }), (err) => err instanceof RangeError && /tlsPort/.test(err.message));
		assert.throws(() => new Server({ port: false, tlsPort: 0, tls: { cert: certs.cert } }), (err) => err instanceof TypeError && /cert and key/.test(err.message));
		assert.throws(() => new Server({ port: false, tlsPort: 0, tls: { cert: certs.cert, key: 'not a key' } }), (err) => err instanceof TypeError && /option tls/.test(err.message));
	});
});

describe('tls: command line', function () {
	this.timeout(60000);
	let dir;
	let certs;
	before(needs('openssl'));
	before(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-tls-'));
		certs = makeCertificate(dir);
	});
	after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

	it('serves --tls-port with --tls-cert and --tls-key, and requires client certificates with --tls-ca', async () => {
		const server = await startCli(['-p', 'off', '--tls-port', '0', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--tls-ca', certs.certFile]);
		try {
			assert.match(server.out.stdout, /memcached over TLS on 127\.0\.0\.1:\d+/);
			const withCert = await tlsConnect(server.port, certs.cert, { cert: certs.cert, key: certs.key });
			assert.strictEqual(await withCert.request('version\r\n', 'VERSION 1.6.18\r\n'), 'VERSION 1.6.18\r\n');
			withCert.destroy();
			// TLS 1.3 reports a refused client certificate after the handshake, on the first read.
			const without = await tlsConnect(server.port, certs.cert).catch((err) => err);
			if (without instanceof Error) assert.match(without.code || without.message, /CERTIFICATE|ALERT|ECONNRESET/);
			else {
				without.write('version\r\n');
				assert.strictEqual(await without.closed, '');
			}
		} finally {
			server.child.kill('SIGTERM');
			assert.strictEqual((await exitWithin(server, 30000, 'server')).code, 0);
		}
	});

	it('exits 64 (usage) when a TLS flag is missing its partner or a file', async () => {
		for (const [args, message] of [
			[['--tls-port', '0', '--tls-cert', 'x.pem'], /--tls-cert and --tls-key go together/],
			[['--tls-port', '0', '--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem'], /--tls-cert: cannot read/],
			[['--tls-port', '0'], /tlsPort needs option tls/],
		]) {
			const result = await exitWithin(run([CLI, ...args]), 30000, args.join(' '));
			assert.strictEqual(result.code, 64, result.stderr);
			assert.match(result.stderr, message);
		}
	});
});

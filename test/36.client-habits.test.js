// Client habits: what users of memcached, npm memcached and memjs type first either works or is refused —
// unknown options, a ttl as a number or `expires`, the seed protocol's limits, the protocol by port, one error class.
'use strict';

const assert = require('assert');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { Client, Server, SimplecachedError } = require('..');
const { CODES } = require('../lib/errors');
const { startServer, freePort, settle, pipeline } = require('./helpers/server');

function openClient(options) {
	return new Promise((resolve, reject) => {
		const client = new Client(options, (err) => (err ? reject(err) : resolve(client)));
	});
}

// The remaining ttl memcached's meta get reports for a key: -1 when it never expires.
async function ttlOf(port, key) {
	const reply = await pipeline(port, [`mg ${key} t`]);
	const match = /^HD t(-?\d+)\r\n$/.exec(reply);
	assert.ok(match, `mg ${key} t: ${JSON.stringify(reply)}`);
	return Number(match[1]);
}

const isUnknownOption = (key, closest) => (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_VALUE' &&
	err.message.includes(`'${key}'`) && err.message.includes(`did you mean '${closest}'?`);

describe('Client habits: unknown options are refused, naming the closest', function () {
	it('refuses an unknown Client option', () => {
		assert.throws(() => new Client({ prot: 'memcached' }), isUnknownOption('prot', 'protocol'));
		assert.throws(() => new Client({ port: 1, timout: 5 }), isUnknownOption('timout', 'timeout'));
		assert.throws(() => new Client({ servers: [{ host: '127.0.0.1', prot: 1 }] }), isUnknownOption('prot', 'port'));
	});

	it('refuses an unknown Server option', () => {
		assert.throws(() => new Server({ memcachedport: 0 }), isUnknownOption('memcachedport', 'memcachedPort'));
		assert.throws(() => new Server({ port: 0, memory: 1 << 20 }), isUnknownOption('memory', 'memoryLimit'));
	});

	it('refuses an unknown key in the options of a call, sending nothing', async () => {
		const server = await startServer({ port: false, memcachedPort: 0 });
		const client = await openClient({ port: server.address('memcached').port, protocol: 'memcached' });
		try {
			await assert.rejects(client.set('k', 'v', { ttls: 10 }), isUnknownOption('ttls', 'ttl'));
			await assert.rejects(client.add('k', 'v', { expire: 10 }), isUnknownOption('expire', 'expires'));
			await assert.rejects(client.set('k', 'v', { ttl: 1, expires: 1 }), (err) => err.code === 'ERR_INVALID_ARG_VALUE');
			const seen = await new Promise((resolve) => client.set('k', 'v', { flag: 1 }, resolve));
			assert.ok(isUnknownOption('flag', 'flags')(seen), seen && seen.message);
			assert.strictEqual(server.stats().sets, 0);
		} finally {
			await client.close();
			await server.close();
		}
	});
});

describe('Client habits: the ttl as npm memcached and memjs give it', function () {
	let server;
	let client;
	let port;
	before(async () => {
		server = await startServer({ port: false, memcachedPort: 0 });
		port = server.address('memcached').port;
		client = await openClient({ port, protocol: 'memcached' });
	});
	after(async () => {
		if (client) await client.close();
		if (server) await server.close();
	});

	it('takes a number as the third argument of set, add, replace and cas as the ttl (npm memcached)', async () => {
		assert.strictEqual(await client.set('n-set', 'v', 1000), true);
		assert.strictEqual(await client.add('n-add', 'v', 2000), true);
		assert.strictEqual(await client.replace('n-set', 'w', 3000), true);
		const { cas } = await client.gets('n-add');
		assert.strictEqual(await client.cas('n-add', 'w', cas, 4000), true);
		assert.ok(Math.abs((await ttlOf(port, 'n-set')) - 3000) <= 2);
		assert.ok(Math.abs((await ttlOf(port, 'n-add')) - 4000) <= 2);
		await new Promise((resolve, reject) => client.set('n-cb', 'v', 5000, (err) => (err ? reject(err) : resolve())));
		assert.ok(Math.abs((await ttlOf(port, 'n-cb')) - 5000) <= 2);
		assert.strictEqual(await client.touch('n-cb', 6000), true);
		assert.ok(Math.abs((await ttlOf(port, 'n-cb')) - 6000) <= 2);
	});

	it("takes memjs's {expires} as the ttl", async () => {
		assert.strictEqual(await client.set('e-set', 'v', { expires: 700 }), true);
		assert.ok(Math.abs((await ttlOf(port, 'e-set')) - 700) <= 2);
		assert.strictEqual(await client.set('e-gone', 'v', { expires: -1 }), true);
		assert.strictEqual(await client.get('e-gone'), null);
	});

	it('stores without expiry when no ttl is given', async () => {
		await client.set('forever', 'v');
		assert.strictEqual(await ttlOf(port, 'forever'), -1);
	});
});

describe('Client habits: the seed protocol refuses what it cannot honour', function () {
	let server;
	let client;
	before(async () => {
		server = await startServer({ port: 0 });
		client = await openClient({ port: server.address().port });
	});
	after(async () => {
		if (client) await client.close();
		if (server) await server.close();
	});

	const notSupported = (err) => err instanceof SimplecachedError && err.code === 'ENOTSUP' && /protocol 'memcached'/.test(err.message);

	it('rejects a ttl or flags with ENOTSUP, as a number, {ttl} or {expires}, sending nothing', async () => {
		assert.strictEqual(client.protocol, 'simple');
		await assert.rejects(client.set('k', 'v', 10), notSupported);
		await assert.rejects(client.set('k', 'v', { ttl: 10 }), notSupported);
		await assert.rejects(client.set('k', 'v', { expires: 10 }), notSupported);
		await assert.rejects(client.set('k', 'v', { flags: 3 }), notSupported);
		const viaCallback = await new Promise((resolve) => client.set('k', 'v', 10, resolve));
		assert.ok(notSupported(viaCallback));
		assert.strictEqual(server.stats().sets, 0);
		// 0 asks for nothing the protocol lacks.
		assert.strictEqual(await client.set('k', 'v', 0), true);
		assert.strictEqual(await client.get('k'), 'v');
	});

	it('rejects the memcached-only operations with ENOTSUP, consistently through the callback or the Promise', async () => {
		const calls = [
			() => client.incr('k', 1), () => client.decr('k'), () => client.getMulti(['a', 'b']), () => client.gets('k'),
			() => client.touch('k', 10), () => client.add('k', 'v'), () => client.append('k', 'v'), () => client.stats(),
			() => client.version(), () => client.flushAll(), () => client.cas('k', 'v', '1'),
		];
		for (const call of calls) await assert.rejects(call(), notSupported, call.toString());
		const viaCallback = await new Promise((resolve) => client.incr('k', 1, resolve));
		assert.ok(notSupported(viaCallback));
		assert.strictEqual(await client.get('k'), 'v', 'the connection is still in step');
	});

	it('refuses typedValues on the seed protocol', () => {
		assert.throws(() => new Client({ port: 1, typedValues: true }), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_VALUE');
	});
});

describe('Client habits: without option protocol, the port picks it', function () {
	const protocolOf = (options) => {
		const client = new Client({ connectTimeout: 1, ...options });
		client.close();
		return client.protocol;
	};

	it("speaks memcached to memcached's port 11211 and the seed protocol elsewhere", () => {
		assert.strictEqual(protocolOf({ port: 11211 }), 'memcached');
		assert.strictEqual(protocolOf({ servers: ['127.0.0.1:11211', '127.0.0.2:11211'] }), 'memcached');
		assert.strictEqual(protocolOf({}), 'simple');
		assert.strictEqual(protocolOf({ port: 11311 }), 'simple');
		assert.strictEqual(protocolOf({ servers: ['127.0.0.1:11211', '127.0.0.1:11311'] }), 'simple');
		assert.strictEqual(protocolOf({ port: 11211, protocol: 'simple' }), 'simple');
	});
});

describe('Client habits: one error class with stable codes', function () {
	it('exports SimplecachedError, and refused connections are ones with code ECONNREFUSED', async () => {
		const port = await freePort();
		const err = await new Promise((resolve) => new Client({ port }, resolve));
		assert.ok(err instanceof SimplecachedError && err instanceof Error);
		assert.strictEqual(err.code, 'ECONNREFUSED');
		assert.strictEqual(err.name, 'SimplecachedError');
		assert.strictEqual(err.cause.code, 'ECONNREFUSED');
	});

	it('reports a server error line as ESERVER with the line in serverMessage', async () => {
		const server = await startServer({ port: false, memcachedPort: 0 });
		const client = await openClient({ port: server.address('memcached').port, protocol: 'memcached' });
		try {
			await client.set('word', 'abc');
			const { error } = await settle(client.incr('word', 1));
			assert.ok(error instanceof SimplecachedError);
			assert.strictEqual(error.code, 'ESERVER');
			assert.strictEqual(error.serverMessage, 'CLIENT_ERROR cannot increment or decrement non-numeric value');
		} finally {
			await client.close();
			await server.close();
		}
	});

	it('answers ETIMEDOUT, ECLOSED and ECONNECT (TLS to a plain port) as SimplecachedErrors', async () => {
		const sockets = new Set();
		const silent = net.createServer((socket) => {
			sockets.add(socket);
			socket.on('error', () => {});
		});
		await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
		const server = await startServer({ port: false, memcachedPort: 0 });
		try {
			const slow = await openClient({ port: silent.address().port, protocol: 'memcached', timeout: 50 });
			const timedOut = await settle(slow.get('k'));
			assert.ok(timedOut.error instanceof SimplecachedError && timedOut.error.code === 'ETIMEDOUT', String(timedOut.error));
			const closing = slow.close();
			const closed = await settle(slow.get('k'));
			assert.ok(closed.error instanceof SimplecachedError && closed.error.code === 'ECLOSED', String(closed.error));
			await closing;
			const tlsErr = await new Promise((resolve) => new Client({ port: server.address('memcached').port, protocol: 'memcached', tls: true }, resolve));
			assert.ok(tlsErr instanceof SimplecachedError, String(tlsErr));
			assert.ok(['ECONNECT', 'ECONNRESET'].includes(tlsErr.code), tlsErr.code);
			assert.ok(tlsErr.cause instanceof Error);
		} finally {
			for (const socket of sockets) socket.destroy();
			silent.close();
			await server.close();
		}
	});

	it('documents every code in the README', () => {
		const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
		const section = readme.slice(readme.indexOf('### Errors'));
		for (const code of Object.keys(CODES)) assert.match(section, new RegExp(`\`${code}\``), code);
		for (const code of ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']) assert.match(section, new RegExp(`\`${code}\``), code);
	});

	it('gives argument errors Node codes', async () => {
		assert.throws(() => new Client({ port: 'x' }), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_TYPE');
		assert.throws(() => new Client({ port: 70000 }), (err) => err instanceof RangeError && err.code === 'ERR_OUT_OF_RANGE');
		const client = new Client({ port: 1, connectTimeout: 1 });
		try {
			await assert.rejects(client.get('has space'), (err) => err instanceof RangeError && err.code === 'ERR_OUT_OF_RANGE');
			await assert.rejects(client.get(7), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_TYPE');
		} finally {
			await client.close();
		}
	});
});

// Server lifecycle: events, close() as Promise and callback (also with pending replies, and twice),
// EADDRINUSE, option validation, no leaked handles in a child process, and servers in worker threads.
'use strict';

const assert = require('assert');
const net = require('net');
const path = require('path');
const { Worker } = require('worker_threads');
const { Server, Client } = require('..');
const { startServer, exchange, connect, waitFor, settle } = require('./helpers/server');
const { run, exitWithin } = require('./helpers/process');

const PACKAGE = path.join(__dirname, '..');

function openClient(port) {
	return new Promise((resolve, reject) => {
		const client = new Client(port, (err) => (err ? reject(err) : resolve(client)));
	});
}

// Resolves with the error of a connection attempt, or 'connected'.
function tryConnect(port) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.on('error', (err) => resolve(err.code));
		socket.on('connect', () => {
			socket.destroy();
			resolve('connected');
		});
	});
}

describe('lifecycle: events and close()', () => {
	it("emits 'listening' before the callback, with address() set; 'close' once after close()", async () => {
		const events = [];
		const server = await new Promise((resolve, reject) => {
			const s = new Server({ port: 0 }, (err) => {
				events.push('callback');
				if (err) reject(err);
				else resolve(s);
			});
			assert.strictEqual(s.address(), null);
			assert.strictEqual(s.listening, false);
			s.on('listening', () => events.push('listening'));
			s.on('close', () => events.push('close'));
		});
		assert.deepStrictEqual(events, ['listening', 'callback']);
		assert.strictEqual(server.listening, true);
		const address = server.address();
		assert.strictEqual(address.address, '127.0.0.1');
		assert.strictEqual(address.family, 'IPv4');
		assert.ok(Number.isInteger(address.port) && address.port > 0);
		const result = await server.close();
		assert.strictEqual(result, undefined);
		assert.deepStrictEqual(events, ['listening', 'callback', 'close']);
		assert.strictEqual(server.listening, false);
		assert.strictEqual(server.address(), null);
		assert.strictEqual(await tryConnect(address.port), 'ECONNREFUSED');
	});

	it("emits 'listening' for a server made without a callback", async () => {
		const server = new Server({ port: 0 });
		await new Promise((resolve) => server.once('listening', resolve));
		assert.ok(server.address().port > 0);
		await server.close();
	});

	it("closes a server closed before it listened: 'close' is emitted, the callback gets ECLOSED, nothing listens", async () => {
		const events = [];
		let callbackError;
		const callbackCalled = new Promise((resolve) => {
			const server = new Server({ port: 0 }, (err, result) => {
				callbackError = err;
				events.push(`callback ${result === undefined ? 'without server' : 'with server'}`);
				resolve();
			});
			server.on('listening', () => events.push('listening'));
			server.on('close', () => events.push('close'));
			server.close().then(() => {
				events.push('closed');
				assert.strictEqual(server.address(), null);
				assert.strictEqual(server.listening, false);
			});
		});
		let timer;
		await Promise.race([callbackCalled, new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`constructor callback never called; events: ${events.join(', ')}`)), 10000);
		})]).finally(() => clearTimeout(timer));
		await waitFor(() => events.filter((e) => e !== 'listening').length >= 3, { what: `close events; so far ${events.join(', ')}` });
		assert.ok(callbackError instanceof Error);
		assert.strictEqual(callbackError.code, 'ECLOSED');
		assert.ok(!events.includes('listening'), events.join(', '));
		assert.deepStrictEqual(events.filter((e) => e !== 'listening').sort(), ['callback without server', 'close', 'closed']);
	});

	it('calls a close callback with no error, and returns undefined', async () => {
		const server = await startServer();
		let returned;
		const err = await new Promise((resolve) => { returned = server.close(resolve); });
		assert.strictEqual(returned, undefined);
		assert.strictEqual(err, null);
	});

	it("closes twice without harm: both calls complete, 'close' is emitted once", async () => {
		const server = await startServer();
		let closes = 0;
		server.on('close', () => closes++);
		const first = server.close();
		const second = new Promise((resolve) => server.close(resolve));
		assert.strictEqual(await second, null);
		await first;
		await server.close();
		assert.strictEqual(closes, 1);
	});

	it('closes idle connections and stops accepting', async () => {
		const server = await startServer();
		const { port } = server.address();
		const conn = await connect(port);
		assert.strictEqual(await conn.request('set idle 1\r\n', 'STORED\r\n'), 'STORED\r\n');
		await server.close();
		assert.strictEqual(await conn.closed, '');
		assert.strictEqual(await tryConnect(port), 'ECONNREFUSED');
	});

	it('sends every pending reply to a client that is slow to read, then ends the connection', async () => {
		const server = await startServer();
		const { port } = server.address();
		const value = 'p'.repeat(10 * 1024);
		server.engine.set('pending', value);
		const reply = `VALUE pending ${value}\r\nEND\r\n`;
		const conn = await connect(port);
		conn.socket.pause();
		conn.write('get pending\r\n'.repeat(2000));
		// The server executes gets until its output backs up, then waits for the reader.
		await waitFor(() => server.stats().gets > 0, { what: 'gets to run' });
		await new Promise((r) => setTimeout(r, 100));
		const executed = server.stats().gets;
		assert.ok(executed < 2000, `all ${executed} gets ran although the client read nothing`);
		const closing = server.close();
		conn.socket.resume();
		const received = await conn.closed;
		await closing;
		// Whole replies only, at least one per get that had run when close() was called.
		assert.strictEqual(received.length % reply.length, 0, `received ${received.length} bytes, not whole replies`);
		const count = received.length / reply.length;
		assert.ok(count >= executed && count <= 2000, `${count} replies for ${executed} gets executed before close`);
		assert.ok(received === reply.repeat(count), 'replies are not all identical and intact');
	});

	it('answers what a client sent before close(), from Client to a closing server', async () => {
		const server = await startServer();
		const client = await openClient(server.address().port);
		const pending = [client.set('a', '1'), client.get('a'), client.delete('a')];
		// Written now; the server reads them before it closes below.
		await new Promise((r) => setImmediate(r));
		await waitFor(() => server.stats().deletes === 1, { what: 'the requests to run' });
		await server.close();
		assert.deepStrictEqual(await Promise.all(pending), [true, '1', true]);
		assert.ok((await settle(client.get('a'))).error instanceof Error);
		await client.close();
	});

	it("reports EADDRINUSE to the callback and to an 'error' listener", async () => {
		const first = await startServer();
		const { port } = first.address();
		try {
			const viaCallback = await new Promise((resolve) => {
				const s = new Server({ port }, (err, result) => resolve({ err, result, s }));
			});
			assert.strictEqual(viaCallback.err.code, 'EADDRINUSE');
			assert.ok(viaCallback.err instanceof Error);
			assert.strictEqual(viaCallback.result, undefined);
			assert.strictEqual(viaCallback.s.listening, false);
			assert.strictEqual(viaCallback.s.address(), null);
			await viaCallback.s.close();

			const viaEvent = await new Promise((resolve) => {
				const s = new Server({ port });
				s.on('error', (err) => resolve({ err, s }));
			});
			assert.strictEqual(viaEvent.err.code, 'EADDRINUSE');
			await viaEvent.s.close();

			const both = [];
			await new Promise((resolve) => {
				const s = new Server({ port }, (err) => { both.push(`callback ${err.code}`); if (both.length === 2) resolve(s.close()); });
				s.on('error', (err) => { both.push(`event ${err.code}`); if (both.length === 2) resolve(s.close()); });
			});
			assert.deepStrictEqual(both.sort(), ['callback EADDRINUSE', 'event EADDRINUSE']);
			// The first server is untouched.
			assert.strictEqual(await exchange(port, ['get x\r\n'], 'END\r\n'), 'END\r\n');
		} finally {
			await first.close();
		}
	});

	it('accepts a port number instead of an options object', async () => {
		const port = await new Promise((resolve) => {
			const probe = net.createServer().listen(0, '127.0.0.1', () => {
				const p = probe.address().port;
				probe.close(() => resolve(p));
			});
		});
		const server = await new Promise((resolve, reject) => {
			const s = new Server(port, (err) => (err ? reject(err) : resolve(s)));
		});
		try {
			assert.strictEqual(server.address().port, port);
		} finally {
			await server.close();
		}
	});
});

describe('lifecycle: option validation', () => {
	const cases = [
		[{ port: -1 }, RangeError, 'port'],
		[{ port: 65536 }, RangeError, 'port'],
		[{ port: 'x' }, TypeError, 'port'],
		[{ port: 1.5 }, TypeError, 'port'],
		[{ port: 0, memoryLimit: 1.5 }, TypeError, 'memoryLimit'],
		[{ port: 0, memoryLimit: 100 }, RangeError, 'memoryLimit'],
		[{ port: 0, memoryLimit: '64m' }, TypeError, 'memoryLimit'],
		[{ port: 0, maxConnections: 0 }, RangeError, 'maxConnections'],
		[{ port: 0, maxConnections: 2.5 }, TypeError, 'maxConnections'],
		[{ port: 0, maxItemSize: 0 }, RangeError, 'maxItemSize'],
		[{ port: 0, maxItemSize: 2 ** 31 }, RangeError, 'maxItemSize'],
		[{ port: 0, maxItemSize: NaN }, TypeError, 'maxItemSize'],
		[{ port: 0, host: '' }, TypeError, 'host'],
		[{ port: 0, host: 127 }, TypeError, 'host'],
	];
	for (const [options, type, name] of cases) {
		it(`throws ${type.name} naming ${name} for ${JSON.stringify(options, (k, v) => (Number.isNaN(v) ? 'NaN' : v))}`, () => {
			assert.throws(() => new Server(options), (err) => err instanceof type && err.message.includes(name));
		});
	}

	it('throws TypeError for options that are not an object or a number, and for a callback that is not a function', () => {
		assert.throws(() => new Server('11311'), TypeError);
		assert.throws(() => new Server({ port: 0 }, 'callback'), TypeError);
	});
});

describe('lifecycle: no leaked handles', () => {
	it('lets a process that started a Server and a Client and closed both exit by itself', async () => {
		const script = `
			const { Server, Client } = require(${JSON.stringify(PACKAGE)});
			const server = new Server({ port: 0 }, async (err) => {
				if (err) throw err;
				const client = new Client(server.address().port);
				const results = [await client.set('k', 'v v'), await client.get('k'), await client.delete('k'), await client.get('k')];
				await client.close();
				await server.close();
				console.log(JSON.stringify(results));
			});
		`;
		const result = await exitWithin(run(['-e', script]), 30000, 'child with a closed Server and Client');
		assert.strictEqual(result.stderr, '');
		assert.strictEqual(result.stdout, '[true,"v v",true,null]\n');
		assert.strictEqual(result.code, 0);
	});

	it('lets a process exit by itself after closing a Server whose client never closed', async () => {
		const script = `
			const net = require('net');
			const { Server } = require(${JSON.stringify(PACKAGE)});
			const server = new Server({ port: 0 }, (err) => {
				if (err) throw err;
				const socket = net.connect(server.address().port, '127.0.0.1', () => socket.write('set k 1\\r\\n'));
				socket.once('data', (d) => {
					process.stdout.write(d);
					socket.on('close', () => console.log('client closed'));
					server.close(() => console.log('server closed'));
				});
			});
		`;
		const result = await exitWithin(run(['-e', script]), 30000, 'child with an open client');
		assert.strictEqual(result.stderr, '');
		assert.deepStrictEqual(result.stdout.split('\n').sort(), ['', 'STORED\r', 'client closed', 'server closed']);
		assert.strictEqual(result.code, 0);
	});
});

describe('lifecycle: worker threads', () => {
	const WORKER = `
		const { parentPort } = require('worker_threads');
		const { Server } = require(${JSON.stringify(PACKAGE)});
		const server = new Server({ port: 0 }, (err) => {
			if (err) throw err;
			server.engine.set('from-worker', 'hello from the worker');
			parentPort.postMessage(server.address().port);
		});
		parentPort.on('message', (message) => {
			if (message === 'close') server.close(() => parentPort.close());
		});
	`;

	async function startWorker() {
		const worker = new Worker(WORKER, { eval: true });
		const errors = [];
		worker.on('error', (err) => errors.push(err));
		const exited = new Promise((resolve) => worker.once('exit', resolve));
		const port = await new Promise((resolve, reject) => {
			worker.once('message', resolve);
			worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before listening`)));
		});
		return { worker, port, exited, errors };
	}

	it('serves from a worker, which exits by itself (code 0) after closing its server', async () => {
		const { worker, port, exited, errors } = await startWorker();
		const client = await openClient(port);
		assert.strictEqual(await client.get('from-worker'), 'hello from the worker');
		assert.strictEqual(await client.set('from-main', 'x'), true);
		await client.close();
		worker.postMessage('close');
		let timer;
		const code = await Promise.race([exited, new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error('worker did not exit within 5 s')), 5000);
		})]).finally(() => clearTimeout(timer));
		assert.strictEqual(code, 0);
		assert.deepStrictEqual(errors, []);
		assert.strictEqual(await tryConnect(port), 'ECONNREFUSED');
	});

	it('survives worker.terminate() while the worker server is open with a connected client', async () => {
		const { worker, port, errors } = await startWorker();
		const client = await openClient(port);
		assert.strictEqual(await client.get('from-worker'), 'hello from the worker');
		const code = await worker.terminate();
		assert.strictEqual(code, 1);
		assert.deepStrictEqual(errors, []);
		// The worker's listener and connections are gone; the client fails instead of hanging.
		const after = await settle(client.get('from-worker'));
		assert.ok(after.error instanceof Error, 'request to a terminated worker must fail');
		await client.close();
		assert.strictEqual(await tryConnect(port), 'ECONNREFUSED');
		// The main thread goes on: a new server here works.
		const server = await startServer();
		try {
			const again = await openClient(server.address().port);
			assert.strictEqual(await again.set('main', 'fine'), true);
			assert.strictEqual(await again.get('main'), 'fine');
			await again.close();
		} finally {
			await server.close();
		}
	});

	it('runs servers in two workers and the main thread at once, each with its own store', async () => {
		const [w1, w2] = await Promise.all([startWorker(), startWorker()]);
		const main = await startServer();
		try {
			const clients = await Promise.all([w1.port, w2.port, main.address().port].map(openClient));
			await clients[0].set('which', 'worker 1');
			await clients[1].set('which', 'worker 2');
			await clients[2].set('which', 'main');
			assert.deepStrictEqual(await Promise.all(clients.map((c) => c.get('which'))), ['worker 1', 'worker 2', 'main']);
			await Promise.all(clients.map((c) => c.close()));
		} finally {
			w1.worker.postMessage('close');
			await Promise.all([w1.exited, w2.worker.terminate(), main.close()]);
		}
		assert.deepStrictEqual([...w1.errors, ...w2.errors], []);
	});
});

// Client: callback and Promise forms, pipelined requests, encodings, error replies, refused/dropped
// connections, client-side validation and many concurrent clients against a real Server (or a fake one).
'use strict';

const assert = require('assert');
const net = require('net');
const { Client } = require('..');
const { startServer, freePort, settle, waitFor } = require('./helpers/server');

function openClient(port, options = {}) {
	return new Promise((resolve, reject) => {
		const client = new Client({ port, ...options }, (err) => (err ? reject(err) : resolve(client)));
	});
}

// A stand-in server whose replies a test scripts: reply(line, socket) runs for each request line.
function fakeServer(reply) {
	return new Promise((resolve) => {
		const sockets = new Set();
		const server = net.createServer((socket) => {
			sockets.add(socket);
			socket.on('close', () => sockets.delete(socket));
			socket.on('error', () => {});
			let input = '';
			socket.on('data', (d) => {
				input += d.toString('latin1');
				let nl;
				while ((nl = input.indexOf('\n')) >= 0) {
					const line = input.slice(0, nl).replace(/\r$/, '');
					input = input.slice(nl + 1);
					reply(line, socket);
				}
			});
		});
		server.stop = () => new Promise((done) => {
			for (const socket of sockets) socket.destroy();
			server.close(done);
		});
		server.listen(0, '127.0.0.1', () => resolve(server));
	});
}

describe('client: requests and replies', () => {
	let server;
	let port;
	let client;
	before(async () => {
		server = await startServer();
		port = server.address().port;
		client = await openClient(port);
	});
	after(async () => {
		await client.close();
		await server.close();
	});

	it('resolves Promises: set → true, get → string, delete → true then false, get of a missing key → null', async () => {
		assert.strictEqual(await client.set('c-promise', 'some value'), true);
		assert.strictEqual(await client.get('c-promise'), 'some value');
		assert.strictEqual(await client.delete('c-promise'), true);
		assert.strictEqual(await client.delete('c-promise'), false);
		assert.strictEqual(await client.get('c-promise'), null);
	});

	it('calls callbacks with (null, result) and returns undefined instead of a Promise', (done) => {
		const returned = client.set('c-callback', 'v1', (err, stored) => {
			assert.ifError(err);
			assert.strictEqual(stored, true);
			client.get('c-callback', (err2, value) => {
				assert.ifError(err2);
				assert.strictEqual(value, 'v1');
				client.delete('c-callback', (err3, deleted) => {
					assert.ifError(err3);
					assert.strictEqual(deleted, true);
					done();
				});
			});
		});
		assert.strictEqual(returned, undefined);
	});

	it('throws TypeError for a callback that is not a function', () => {
		assert.throws(() => client.get('k', 'not a function'), TypeError);
		assert.throws(() => new Client({ port }, 42), TypeError);
	});

	it('matches 1,000 pipelined requests in flight at once to their replies, in order', async () => {
		// 100 sets, 100 gets of them, 50 deletes, 50 deletes of the same keys again, 700 gets.
		const requests = [];
		const expected = [];
		for (let i = 0; i < 1000; i++) {
			const n = i % 100;
			const key = `c-pipe-${n}`;
			if (i < 100) {
				requests.push(client.set(key, `v${n}`));
				expected.push(true);
			} else if (i < 200) {
				requests.push(client.get(key));
				expected.push(`v${n}`);
			} else if (i < 300 && n < 50) {
				requests.push(client.delete(key));
				expected.push(true);
			} else if (i < 300) {
				requests.push(client.delete(`c-pipe-${n - 50}`));
				expected.push(false);
			} else {
				requests.push(client.get(key));
				expected.push(n < 50 ? null : `v${n}`);
			}
		}
		assert.deepStrictEqual(await Promise.all(requests), expected);
	});

	it('returns Buffers with encoding: null, byte for byte, including every byte but \\r and \\n', async () => {
		const binary = await openClient(port, { encoding: null });
		try {
			const bytes = [];
			for (let b = 0; b < 256; b++) if (b !== 10 && b !== 13) bytes.push(b);
			const value = Buffer.from(bytes);
			assert.strictEqual(await binary.set(Buffer.from('c-binary'), value), true);
			const got = await binary.get('c-binary');
			assert.ok(Buffer.isBuffer(got));
			assert.deepStrictEqual(got, value);
			assert.strictEqual(await binary.get('c-binary-missing'), null);
		} finally {
			await binary.close();
		}
	});

	it('round-trips UTF-8 strings in values and keys, keys measured in bytes', async () => {
		const value = 'héllo wörld ✓ 日本語 🎉  and spaces ';
		assert.strictEqual(await client.set('c-ütf8-キー', value), true);
		assert.strictEqual(await client.get('c-ütf8-キー'), value);
		assert.deepStrictEqual(server.engine.get('c-ütf8-キー'), Buffer.from(value, 'utf8'));
		const key250 = 'é'.repeat(125);
		assert.strictEqual(await client.set(key250, 'fits'), true);
		assert.strictEqual(await client.get(key250), 'fits');
		await assert.rejects(client.set('é'.repeat(126), 'x'), RangeError);
	});

	it('decodes with another encoding when asked (latin1)', async () => {
		const latin1 = await openClient(port, { encoding: 'latin1' });
		try {
			await latin1.set('c-latin1', Buffer.from([0xe9, 0x20, 0xff]));
			assert.strictEqual(await latin1.get('c-latin1'), '\u00e9 \u00ff');
		} finally {
			await latin1.close();
		}
	});

	it('stores numbers and booleans as their decimal text; stores the empty string', async () => {
		assert.strictEqual(await client.set('c-number', 42.5), true);
		assert.strictEqual(await client.get('c-number'), '42.5');
		assert.strictEqual(await client.set('c-bool', false), true);
		assert.strictEqual(await client.get('c-bool'), 'false');
		assert.strictEqual(await client.set('c-empty', ''), true);
		assert.strictEqual(await client.get('c-empty'), '');
	});

	it('reassembles a 1,000,000-byte value that spans many packets', async () => {
		let value = '';
		for (let i = 0; value.length < 1000000; i++) value += `${i} `;
		value = value.slice(0, 1000000);
		const [stored, , a, b, c] = await Promise.all([
			client.set('c-large', value), client.set('c-small', 'small'),
			client.get('c-large'), client.get('c-small'), client.get('c-large'),
		]);
		assert.strictEqual(stored, true);
		assert.strictEqual(a.length, value.length);
		assert.ok(a === value, 'first large value differs');
		assert.strictEqual(b, 'small');
		assert.ok(c === value, 'second large value differs');
	});

	it('refuses invalid keys client-side with RangeError/TypeError, sends nothing, and stays usable', async () => {
		const before = server.stats();
		const invalid = [
			['', RangeError], [' ', RangeError], ['a b', RangeError], ['a\tb', RangeError], ['a\r\nget x', RangeError],
			['a\x00', RangeError], ['a\x7f', RangeError], ['k'.repeat(251), RangeError], [Buffer.alloc(0), RangeError],
			[42, TypeError], [null, TypeError], [undefined, TypeError], [{}, TypeError],
		];
		for (const [key, type] of invalid) {
			await assert.rejects(client.get(key), type, `get(${JSON.stringify(key)})`);
			await assert.rejects(client.set(key, 'v'), type, `set(${JSON.stringify(key)})`);
			await assert.rejects(client.delete(key), type, `delete(${JSON.stringify(key)})`);
		}
		assert.strictEqual(await client.get('k'.repeat(250)), null);
		const after = server.stats();
		assert.strictEqual(after.gets, before.gets + 1);
		assert.strictEqual(after.sets, before.sets);
		assert.strictEqual(after.deletes, before.deletes);
	});

	it('refuses values with \\r or \\n (RangeError) and values of other types (TypeError)', async () => {
		const before = server.stats();
		await assert.rejects(client.set('c-v', 'a\r\nset injected 1'), RangeError);
		await assert.rejects(client.set('c-v', 'line\n'), RangeError);
		await assert.rejects(client.set('c-v', '\r'), RangeError);
		await assert.rejects(client.set('c-v', Buffer.from('a\nb')), RangeError);
		await assert.rejects(client.set('c-v', { a: 1 }), TypeError);
		await assert.rejects(client.set('c-v', undefined), TypeError);
		await assert.rejects(client.set('c-v', null), TypeError);
		assert.strictEqual(server.stats().sets, before.sets);
		assert.strictEqual(await client.get('injected'), null);
		assert.strictEqual(await client.get('c-v'), null);
	});

	it('reports the validation error through the callback too', (done) => {
		client.set('bad key', 'v', (err) => {
			assert.ok(err instanceof RangeError);
			done();
		});
	});
});

describe('client: server error replies', () => {
	it('turns SERVER_ERROR into an Error with code ESERVER, then goes on', async () => {
		const server = await startServer({ maxItemSize: 10 });
		const client = await openClient(server.address().port);
		try {
			const results = await Promise.all([
				settle(client.set('c-big', 'x'.repeat(100))),
				settle(client.set('c-small', 'ok')),
				settle(client.get('c-small')),
			]);
			const err = results[0].error;
			assert.ok(err instanceof Error, 'expected an error');
			assert.strictEqual(err.code, 'ESERVER');
			assert.strictEqual(err.serverMessage, 'SERVER_ERROR object too large for cache');
			assert.strictEqual(err.message, 'SERVER_ERROR: object too large for cache');
			assert.deepStrictEqual(results.slice(1), [{ value: true }, { value: 'ok' }]);
		} finally {
			await client.close();
			await server.close();
		}
	});

	for (const [label, clientLimit] of [['refused unsent by the Client', undefined], ['refused by the server, which drops it as it arrives', 4 << 20]]) {
		it(`fails only an oversized set among 100 pipelined requests: ${label}`, async () => {
			const server = await startServer();
			const client = new Client({ port: server.address().port, maxValueSize: clientLimit });
			try {
				const calls = [];
				for (let i = 0; i < 100; i++) {
					calls.push(settle(i === 50 ? client.set('huge', 'h'.repeat(2 << 20)) : client.set(`p${i}`, `v${i}`)));
				}
				calls.push(settle(client.get('p99')));
				const results = await Promise.all(calls);
				assert.strictEqual(results[50].error.code, 'ESERVER');
				assert.strictEqual(results[50].error.message, 'SERVER_ERROR: object too large for cache');
				assert.ok(results.every((r, i) => i === 50 || r.error === undefined), JSON.stringify(results.filter((r) => r.error)));
				assert.strictEqual(results[100].value, 'v99');
				assert.strictEqual(server.stats().totalConnections, 1, 'one connection all along');
				assert.strictEqual(server.stats().store_too_large, clientLimit ? 1 : 0);
			} finally {
				await client.close();
				await server.close();
			}
		});
	}

	it('turns ERROR, CLIENT_ERROR and SERVER_ERROR lines into ESERVER errors holding the line, each for its own request', async () => {
		const fake = await fakeServer((line, socket) => {
			if (line === 'get e1') socket.write('ERROR\r\n');
			else if (line === 'get e2') socket.write('CLIENT_ERROR bad command line format\r\n');
			else if (line === 'get e3') socket.write('SERVER_ERROR out of memory\r\n');
			else socket.write('END\r\n');
		});
		const client = await openClient(fake.address().port);
		try {
			const results = await Promise.all(['e1', 'ok1', 'e2', 'e3', 'ok2'].map((k) => settle(client.get(k))));
			assert.strictEqual(results[0].error.code, 'ESERVER');
			assert.strictEqual(results[0].error.serverMessage, 'ERROR');
			assert.strictEqual(results[0].error.message, 'server answered ERROR');
			assert.deepStrictEqual(results[1], { value: null });
			assert.strictEqual(results[2].error.code, 'ESERVER');
			assert.strictEqual(results[2].error.serverMessage, 'CLIENT_ERROR bad command line format');
			assert.strictEqual(results[2].error.message, 'CLIENT_ERROR: bad command line format');
			assert.strictEqual(results[3].error.code, 'ESERVER');
			assert.strictEqual(results[3].error.serverMessage, 'SERVER_ERROR out of memory');
			assert.deepStrictEqual(results[4], { value: null });
		} finally {
			await client.close();
			await fake.stop();
		}
	});

	it('parses replies that arrive one byte at a time', async () => {
		const fake = await fakeServer((line, socket) => {
			const replies = { 'get a': 'VALUE a one two\r\nEND\r\n', 'get b': 'END\r\n', 'set c 3': 'STORED\r\n', 'delete d': 'NOT_FOUND\r\n' };
			const bytes = Buffer.from(replies[line] || 'ERROR\r\n');
			(async () => {
				for (let i = 0; i < bytes.length; i++) {
					socket.write(bytes.subarray(i, i + 1));
					await new Promise((r) => setImmediate(r));
				}
			})();
		});
		const client = await openClient(fake.address().port);
		try {
			assert.strictEqual(await client.get('a'), 'one two');
			assert.strictEqual(await client.get('b'), null);
			assert.strictEqual(await client.set('c', '3'), true);
			assert.strictEqual(await client.delete('d'), false);
		} finally {
			await client.close();
			await fake.stop();
		}
	});

	it('fails the request and every pending one with EPROTO on an unexpected reply, without hanging', async () => {
		const fake = await fakeServer((line, socket) => {
			if (line === 'get a') socket.write('VALUE a 1\r\nEND\r\n');
			else if (line === 'get b') socket.write('HELLO\r\n');
		});
		const client = await openClient(fake.address().port);
		try {
			const results = await Promise.all(['a', 'b', 'c', 'd'].map((k) => settle(client.get(k))));
			assert.deepStrictEqual(results[0], { value: '1' });
			for (const r of results.slice(1)) assert.strictEqual(r.error && r.error.code, 'EPROTO');
			const later = await settle(client.get('e'));
			assert.ok(later.error instanceof Error);
		} finally {
			await client.close();
			await fake.stop();
		}
	});

	it('rejects a VALUE line for another key as EPROTO', async () => {
		const fake = await fakeServer((line, socket) => socket.write('VALUE other 1\r\nEND\r\n'));
		const client = await openClient(fake.address().port);
		try {
			const result = await settle(client.get('mine'));
			assert.strictEqual(result.error && result.error.code, 'EPROTO');
		} finally {
			await client.close();
			await fake.stop();
		}
	});
});

describe('client: connections that fail', () => {
	it('fails the connect callback and every pending request with ECONNREFUSED on a closed port', async () => {
		const port = await freePort();
		let client;
		const connected = new Promise((resolve) => {
			client = new Client(port, (err, c) => resolve({ err, c }));
		});
		const pending = [settle(client.get('a')), settle(client.set('b', '1')), settle(client.delete('c'))];
		const { err, c } = await connected;
		assert.strictEqual(err && err.code, 'ECONNREFUSED');
		assert.strictEqual(c, undefined);
		for (const r of await Promise.all(pending)) assert.strictEqual(r.error && r.error.code, 'ECONNREFUSED');
		const later = await settle(client.get('a'));
		assert.strictEqual(later.error && later.error.code, 'ECONNREFUSED');
		await client.close();
	});

	it('fails Promise requests with ECONNREFUSED when no connect callback is given, and emits error to listeners', async () => {
		const port = await freePort();
		const client = new Client({ port });
		const errors = [];
		client.on('error', (e) => errors.push(e.code));
		const result = await settle(client.get('a'));
		assert.strictEqual(result.error && result.error.code, 'ECONNREFUSED');
		assert.deepStrictEqual(errors, ['ECONNREFUSED']);
		await client.close();
	});

	it('fails queued requests when the server closes the connection under them', async () => {
		const server = await startServer();
		const client = await openClient(server.address().port);
		assert.strictEqual(await client.set('k', 'v'), true);
		// Queued in this tick, written on the next: by then the server has closed the connection.
		const pending = [settle(client.get('k')), settle(client.set('k', 'w')), settle(client.delete('k'))];
		const closed = server.close();
		const results = await Promise.all(pending);
		await closed;
		for (const r of results) {
			assert.ok(r.error instanceof Error, `expected an error, got ${JSON.stringify(r)}`);
			assert.strictEqual(typeof r.error.code, 'string');
		}
		const later = await settle(client.get('k'));
		assert.ok(later.error instanceof Error);
		await client.close();
	});

	it('answers requests already sent before a graceful close, then fails later ones', async () => {
		const server = await startServer();
		const client = await openClient(server.address().port);
		assert.strictEqual(await client.set('k', 'v'), true);
		const first = client.get('k');
		await waitFor(() => server.stats().gets === 1, { what: 'the get to reach the server' });
		await server.close();
		assert.strictEqual(await first, 'v');
		const later = await settle(client.get('k'));
		assert.ok(later.error instanceof Error);
		await client.close();
	});

	it('fails requests made after close() with an error, and waits for replies to those made before', async () => {
		const server = await startServer();
		const client = await openClient(server.address().port);
		try {
			const before = client.set('k', 'before close');
			const closing = client.close();
			const during = await settle(client.get('k'));
			assert.strictEqual(during.error && during.error.code, 'ECLOSED');
			assert.strictEqual(await before, true);
			await closing;
			const after = await settle(client.get('k'));
			assert.ok(after.error instanceof Error, 'request after close() must fail');
			assert.strictEqual(typeof after.error.code, 'string');
			// close() again is harmless.
			await client.close();
			await new Promise((resolve) => client.close(resolve));
			assert.strictEqual(server.engine.get('k').toString(), 'before close');
		} finally {
			await server.close();
		}
	});

	it('fails requests with memcached\'s ERROR or a connection error when the server is full', async () => {
		const server = await startServer({ maxConnections: 1 });
		const first = await openClient(server.address().port);
		try {
			await first.get('x');
			const second = new Client(server.address().port);
			const result = await settle(second.get('x'));
			assert.ok(result.error instanceof Error, 'request on a rejected connection must fail');
			assert.ok(['ESERVER', 'ECONNRESET'].includes(result.error.code), result.error.code);
			if (result.error.code === 'ESERVER') assert.strictEqual(result.error.serverMessage, 'ERROR Too many open connections');
			await second.close();
			assert.strictEqual(await first.set('x', 'still works'), true);
		} finally {
			await first.close();
			await server.close();
		}
	});
});

describe('client: options', () => {
	it('validates options with errors naming the option', () => {
		assert.throws(() => new Client({ port: 0 }), (e) => e instanceof RangeError && /port/.test(e.message));
		assert.throws(() => new Client({ port: 70000 }), (e) => e instanceof RangeError && /port/.test(e.message));
		assert.throws(() => new Client({ port: 'x' }), (e) => e instanceof TypeError && /port/.test(e.message));
		assert.throws(() => new Client({ port: 1, host: '' }), (e) => e instanceof TypeError && /host/.test(e.message));
		assert.throws(() => new Client({ port: 1, encoding: 'klingon' }), (e) => e instanceof RangeError && /encoding/.test(e.message));
		assert.throws(() => new Client('11211'), TypeError);
	});
});

describe('client: many concurrent clients', () => {
	it('serves 200 clients each setting, getting and deleting its own keys', async () => {
		const server = await startServer();
		const port = server.address().port;
		try {
			const clients = await Promise.all(Array.from({ length: 200 }, () => openClient(port)));
			const results = await Promise.all(clients.map(async (client, i) => {
				const key = `many-${i}`;
				const out = [];
				out.push(await client.set(key, `value of client ${i}`));
				out.push(await client.get(key));
				out.push(await client.delete(key));
				out.push(await client.get(key));
				return out;
			}));
			results.forEach((r, i) => assert.deepStrictEqual(r, [true, `value of client ${i}`, true, null], `client ${i}`));
			assert.strictEqual(server.stats().connections, 200);
			await Promise.all(clients.map((c) => c.close()));
			const stats = server.stats();
			assert.ok(stats.totalConnections >= 200, `totalConnections ${stats.totalConnections}`);
			assert.strictEqual(stats.sets, 200);
			assert.strictEqual(stats.hits, 200);
			assert.strictEqual(stats.misses, 200);
			assert.strictEqual(stats.deleteHits, 200);
			assert.strictEqual(stats.items, 0);
			await waitFor(() => server.stats().connections === 0, { what: 'all connections to close' });
		} finally {
			await server.close();
		}
	});
});

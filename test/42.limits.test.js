// maxConnections: a connection past the limit gets memcached's ERROR Too many open connections and is
// closed, the open ones keep working, a freed slot is reused, and rejectedConnections counts.
'use strict';

const assert = require('assert');
const { startServer, exchange, connect, waitFor } = require('./helpers/server');

const TOO_MANY = 'ERROR Too many open connections\r\n';

describe('limits: maxConnections', () => {
	let server;
	let port;
	const open = [];
	beforeEach(async () => {
		server = await startServer({ maxConnections: 2 });
		port = server.address().port;
	});
	afterEach(async () => {
		await Promise.all(open.splice(0).map((conn) => conn.destroy()));
		await server.close();
	});

	// Opens a raw connection and waits until the server has accepted it.
	async function accepted() {
		const expected = server.stats().connections + 1;
		const conn = await connect(port);
		open.push(conn);
		await waitFor(() => server.stats().connections === expected, { what: `${expected} accepted connections` });
		return conn;
	}

	it('sends exactly ERROR Too many open connections to the third connection and closes it', async () => {
		const a = await accepted();
		const b = await accepted();
		const reply = await exchange(port, [], null);
		assert.strictEqual(reply, TOO_MANY);
		const stats = server.stats();
		assert.strictEqual(stats.rejectedConnections, 1);
		assert.strictEqual(stats.connections, 2);
		assert.strictEqual(stats.totalConnections, 2);
		// The first two still work.
		assert.strictEqual(await a.request('set a 1\r\n', 'STORED\r\n'), 'STORED\r\n');
		assert.strictEqual(await b.request('get a\r\n', 'VALUE a 1\r\nEND\r\n'), 'VALUE a 1\r\nEND\r\n');
	});

	it('does not execute commands sent on a rejected connection', async () => {
		await accepted();
		await accepted();
		const reply = await exchange(port, ['set sneaky 1\r\n'], null);
		assert.strictEqual(reply, TOO_MANY);
		assert.strictEqual(server.engine.get('sneaky'), null);
		assert.strictEqual(server.stats().sets, 0);
	});

	it('accepts a new connection once one of the two closes, and counts every rejection', async () => {
		const a = await accepted();
		const b = await accepted();
		assert.strictEqual(await exchange(port, [], null), TOO_MANY);
		assert.strictEqual(await exchange(port, [], null), TOO_MANY);
		assert.strictEqual(server.stats().rejectedConnections, 2);

		await a.end();
		await waitFor(() => server.stats().connections === 1, { what: 'the server to see the close' });
		const c = await accepted();
		assert.strictEqual(await c.request('set c 3\r\n', 'STORED\r\n'), 'STORED\r\n');
		assert.strictEqual(await b.request('get c\r\n', 'VALUE c 3\r\nEND\r\n'), 'VALUE c 3\r\nEND\r\n');
		assert.strictEqual(c.isClosed, false);

		assert.strictEqual(await exchange(port, [], null), TOO_MANY);
		const stats = server.stats();
		assert.strictEqual(stats.rejectedConnections, 3);
		assert.strictEqual(stats.totalConnections, 3);
		assert.strictEqual(stats.connections, 2);
	});

	it('frees the slot of a connection that quits', async () => {
		await accepted();
		const b = await accepted();
		b.write('quit\r\n');
		assert.strictEqual(await b.closed, '');
		await waitFor(() => server.stats().connections === 1, { what: 'the quit connection to be released' });
		const c = await accepted();
		assert.strictEqual(await c.request('get none\r\n', 'END\r\n'), 'END\r\n');
		assert.strictEqual(server.stats().rejectedConnections, 0);
	});
});

// The seed's own tests (Practical Session 4): a Client and a raw socket doing get/set/delete.
// Each runs against a real Server on an ephemeral port.
'use strict';

const assert = require('assert');
const { Client } = require('..');
const { startServer, exchange } = require('./helpers/server');

describe('seed protocol: the Practical Session 4 checks', () => {
	let server;
	let port;
	before(async () => {
		server = await startServer();
		port = server.address().port;
	});
	after(() => server.close());

	it('runs get, set, get, delete, get over a raw socket in sequence', async () => {
		const key = `key${Math.random().toString(36).slice(2)}`;
		const value = 'a value with spaces';
		const reply = await exchange(port, [
			`get ${key}\r\n`, `set ${key} ${value}\r\n`, `get ${key}\r\n`, `delete ${key}\r\n`, `get ${key}\r\n`,
		], (text) => text.split('END\r\n').length === 4);
		assert.strictEqual(reply, `END\r\nSTORED\r\nVALUE ${key} ${value}\r\nEND\r\nDELETED\r\nEND\r\n`);
	});

	it('sets, gets and deletes with the Client (callbacks)', (done) => {
		const client = new Client(port, (err) => {
			assert.ifError(err);
			client.set('seed', 'hello world', (err1, stored) => {
				assert.ifError(err1);
				assert.strictEqual(stored, true);
				client.get('seed', (err2, value) => {
					assert.ifError(err2);
					assert.strictEqual(value, 'hello world');
					client.delete('seed', (err3, deleted) => {
						assert.ifError(err3);
						assert.strictEqual(deleted, true);
						client.get('seed', (err4, missing) => {
							assert.ifError(err4);
							assert.strictEqual(missing, null);
							client.close(done);
						});
					});
				});
			});
		});
	});

	it('answers quit by closing after earlier replies', async () => {
		const reply = await exchange(port, ['set q 1\r\nget q\r\nquit\r\nget q\r\n'], null);
		assert.strictEqual(reply, 'STORED\r\nVALUE q 1\r\nEND\r\n');
	});
});

// 10,000 concurrent connections with traffic: every one is accepted, served and kept, each sees
// its own writes and the others', and the server counts them all — on Node's loop and on threads.
'use strict';

const assert = require('assert');
const fs = require('fs');
const net = require('net');
const { startCli, exitWithin } = require('./helpers/process');

const WANTED = 10000;
const BATCH = 500;

// Each connection costs a descriptor here and one in the server (a child with the same limit).
function connectionsPossible() {
	const match = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
	const limit = match[1] === 'unlimited' ? Infinity : Number(match[1]);
	return Math.min(WANTED, limit - 200);
}

// A connection that sends one request at a time and resolves with the reply once `ends` matches.
class LineClient {
	constructor(port) {
		this.socket = net.connect(port, '127.0.0.1');
		this.socket.setEncoding('latin1');
		this.pending = null;
		this.text = '';
		this.ready = new Promise((resolve, reject) => {
			this.socket.once('connect', resolve);
			this.socket.once('error', reject);
		});
		this.socket.on('data', (d) => {
			this.text += d;
			if (this.pending && this.text.endsWith(this.pending.ends)) {
				const { resolve } = this.pending;
				this.pending = null;
				resolve(this.text);
			}
		});
		this.socket.on('close', () => {
			if (this.pending) this.pending.reject(new Error(`connection closed; received ${JSON.stringify(this.text)}`));
		});
	}

	request(data, ends) {
		this.text = '';
		return new Promise((resolve, reject) => {
			this.pending = { resolve, reject, ends };
			this.socket.write(data);
		});
	}
}

async function statsOf(client) {
	const text = await client.request('stats\r\n', 'END\r\n');
	return Object.fromEntries(text.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => l.split(' ').slice(1)));
}

describe('10,000 concurrent connections with traffic', function () {
	this.timeout(60000);
	for (const threads of ['1', '2']) {
		it(`accepts, serves and keeps them all with --threads ${threads}`, async () => {
			const count = connectionsPossible();
			assert.ok(count >= 1000, `only ${count} descriptors available`);
			if (count < WANTED) console.log(`      (the open-files limit allows ${count} connections here)`);
			const server = await startCli(['-p', 'off', '--memcached-port', '0', '-t', threads, '-c', String(count + 50)]);
			const clients = [];
			try {
				for (let i = 0; i < count; i += BATCH) {
					const batch = Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => new LineClient(server.port));
					await Promise.all(batch.map((c) => c.ready));
					await Promise.all(batch.map((c, j) => {
						const key = `conn-${i + j}`;
						return c.request(`set ${key} 0 0 ${key.length}\r\n${key}\r\n`, '\r\n').then((r) => assert.strictEqual(r, 'STORED\r\n'));
					}));
					clients.push(...batch);
				}
				// Every connection reads another's key: all were stored and all are still served.
				for (let i = 0; i < count; i += BATCH) {
					await Promise.all(clients.slice(i, i + BATCH).map((c, j) => {
						const key = `conn-${(i + j + 1) % count}`;
						return c.request(`get ${key}\r\n`, 'END\r\n').then((r) => assert.strictEqual(r, `VALUE ${key} 0 ${key.length}\r\n${key}\r\nEND\r\n`));
					}));
				}
				const stats = await statsOf(clients[0]);
				assert.strictEqual(Number(stats.curr_connections), count);
				assert.strictEqual(Number(stats.curr_items), count);
				assert.strictEqual(Number(stats.rejected_connections), 0);
			} finally {
				for (const c of clients) c.socket.destroy();
				server.child.kill('SIGTERM');
				await exitWithin(server, 10000, 'server');
			}
		});
	}
});

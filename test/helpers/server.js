// Test helpers: start a Server on an ephemeral port and talk raw protocol to it.
// A raw exchange sends bytes and collects replies until an expected length or the socket closes.
'use strict';

const net = require('net');
const { Server } = require('../..');

function startServer(options = {}) {
	return new Promise((resolve, reject) => {
		const server = new Server({ port: 0, ...options }, (err) => (err ? reject(err) : resolve(server)));
	});
}

// For the enclosing describe: a Server started before its tests and closed after them.
// Returns a holder whose `server` fills in at start; port(protocol) is its listening port.
function withServer(options = {}) {
	const holder = {
		server: null,
		port: (protocol = 'simple') => holder.server.address(protocol).port,
	};
	before(async () => { holder.server = await startServer(options); });
	after(() => holder.server && holder.server.close());
	return holder;
}

// Connects, writes each chunk in turn, and resolves with everything received once `until`
// is satisfied or the server closes. `until` is a byte count, a predicate over the text so far,
// or the expected text itself (then it also stops as soon as the reply departs from it), or null.
// Text is latin1, so it maps one to one onto the bytes received.
// gapMs waits that many milliseconds between chunks; gap: 'immediate' waits one setImmediate.
function exchange(port, chunks, until, { gapMs = 0, gap = null } = {}) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.setNoDelay(true);
		let received = Buffer.alloc(0);
		let settled = false;
		const finish = (err) => {
			if (settled) return;
			settled = true;
			socket.destroy();
			if (err) reject(err);
			else resolve(received.toString('latin1'));
		};
		const done = () => {
			if (typeof until === 'number') return received.length >= until;
			if (typeof until === 'string') {
				const n = Math.min(received.length, until.length);
				return received.length >= until.length || received.toString('latin1', 0, n) !== until.slice(0, n);
			}
			return until && until(received.toString('latin1'));
		};
		socket.on('data', (d) => {
			received = Buffer.concat([received, d]);
			if (done()) finish();
		});
		// A reset after the server closed is an ordinary end here: the test checks the bytes received.
		socket.on('error', (err) => finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? null : err));
		socket.on('close', () => finish());
		socket.on('connect', async () => {
			for (const chunk of chunks) {
				if (socket.destroyed) return;
				socket.write(chunk);
				if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
				else if (gap === 'immediate') await new Promise((r) => setImmediate(r));
			}
		});
	});
}

// A raw connection kept open across several request/reply rounds.
// read(n) takes exactly the next n bytes received; closed resolves with what was never read.
class RawConnection {
	constructor(socket) {
		this.socket = socket;
		this._chunks = [];
		this.isClosed = false;
		this.error = null;
		this._wake = null;
		socket.setNoDelay(true);
		socket.on('data', (d) => {
			this._chunks.push(d);
			this._notify();
		});
		socket.on('error', (err) => { this.error = err; });
		this.closed = new Promise((resolve) => {
			socket.on('close', () => {
				this.isClosed = true;
				this._notify();
				resolve(this.buffer.toString('latin1'));
			});
		});
	}

	// Everything received and not yet read, as one Buffer.
	get buffer() {
		if (this._chunks.length !== 1) this._chunks = [Buffer.concat(this._chunks)];
		return this._chunks[0];
	}

	set buffer(value) {
		this._chunks = [value];
	}

	_notify() {
		const wake = this._wake;
		this._wake = null;
		if (wake) wake();
	}

	write(data) {
		this.socket.write(data);
	}

	// Resolves with the next n bytes as latin1 text; rejects if the socket closes first.
	async read(n) {
		while (this.buffer.length < n) {
			if (this.isClosed) {
				throw new Error(`connection closed after ${this.buffer.length} of ${n} bytes: ${JSON.stringify(this.buffer.toString('latin1'))}`);
			}
			await new Promise((resolve) => { this._wake = resolve; });
		}
		const out = this.buffer.subarray(0, n);
		this.buffer = this.buffer.subarray(n);
		return out.toString('latin1');
	}

	// Writes a request and resolves with a reply of exactly expected.length bytes (compare it yourself).
	request(data, expected) {
		this.write(data);
		return this.read(Buffer.byteLength(expected, 'latin1'));
	}

	destroy() {
		this.socket.destroy();
		return this.closed;
	}

	end() {
		this.socket.end();
		return this.closed;
	}
}

// Sends the lines (each given its "\r\n") pipelined, ended by a meta no-op, and resolves with
// every reply before its "MN": the memcached port's replies to a whole batch at once.
async function pipeline(port, lines) {
	const text = await exchange(port, [lines.map((l) => `${l}\r\n`).join('') + 'mn\r\n'], (t) => t.endsWith('MN\r\n'));
	return text.slice(0, -4);
}

// The pairs of one "stats" group, in order: [[name, value], ...]; fails on anything but a list.
async function statsPairs(port, group) {
	const text = await exchange(port, [`stats${group ? ` ${group}` : ''}\r\n`], (t) => /(^|\r\n)(END|ERROR)\r\n$/.test(t));
	if (!text.endsWith('END\r\n')) throw new Error(`stats ${group}: ${JSON.stringify(text.slice(0, 80))}`);
	return text.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => {
		const [, name, ...value] = l.split(' ');
		return [name, value.join(' ')];
	});
}

function connect(port) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('error', reject);
		socket.once('connect', () => {
			socket.removeListener('error', reject);
			resolve(new RawConnection(socket));
		});
	});
}

// Polls until check() (or the promise it returns) gives a truthy value, which it resolves with;
// fails after timeoutMs, a bound only for a condition that never comes, generous for a loaded machine.
async function waitFor(check, { timeoutMs = 10000, intervalMs = 5, what = 'condition' } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const result = await check();
		if (result) return result;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

// A TCP port that nothing listens on right now (bound then released).
function freePort() {
	return new Promise((resolve, reject) => {
		const probe = net.createServer();
		probe.on('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const { port } = probe.address();
			probe.close(() => resolve(port));
		});
	});
}

// Resolves with {value} or {error}, so a test can assert on how a promise settled.
function settle(promise) {
	return promise.then((value) => ({ value }), (error) => ({ error }));
}

module.exports = { startServer, withServer, exchange, pipeline, statsPairs, connect, RawConnection, waitFor, freePort, settle };

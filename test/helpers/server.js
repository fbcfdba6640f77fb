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

// Connects, writes each chunk in turn, and resolves with everything received once `until`
// (a byte count or a predicate over the text so far) is satisfied or the server closes.
function exchange(port, chunks, until, { gapMs = 0 } = {}) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		let received = Buffer.alloc(0);
		let settled = false;
		const finish = (err) => {
			if (settled) return;
			settled = true;
			socket.destroy();
			if (err) reject(err);
			else resolve(received.toString('latin1'));
		};
		const done = () => (typeof until === 'number' ? received.length >= until : until && until(received.toString('latin1')));
		socket.on('data', (d) => {
			received = Buffer.concat([received, d]);
			if (done()) finish();
		});
		socket.on('error', finish);
		socket.on('close', () => finish());
		socket.on('connect', async () => {
			for (const chunk of chunks) {
				socket.write(chunk);
				if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
			}
		});
	});
}

module.exports = { startServer, exchange };

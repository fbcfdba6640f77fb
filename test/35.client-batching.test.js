// The Client sends the gets of one event-loop turn as multi-key gets: what goes on the wire (seen
// by a recording listener), and that results, order and failures are those of one get at a time.
'use strict';

const assert = require('assert');
const net = require('net');
const { Client } = require('..');
const { startMemcached } = require('./helpers/memcached');
const { settle } = require('./helpers/server');
const { needs } = require('./helpers/references');

// A listener that records every command line (of every connection) and answers each with
// `answer(line)` (null: never).
async function recordingServer(answer) {
	const lines = [];
	const sockets = new Set();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		let pending = '';
		socket.on('data', (chunk) => {
			pending += chunk.toString('latin1');
			let nl;
			while ((nl = pending.indexOf('\r\n')) >= 0) {
				const line = pending.slice(0, nl);
				pending = pending.slice(nl + 2);
				if (line.startsWith('set ')) {
					const bytes = Number(line.split(' ')[4]);
					pending = pending.slice(bytes + 2);
				}
				lines.push(line);
				if (recorder.onLine) recorder.onLine(line, socket);
				const reply = answer(line);
				if (reply !== null) socket.write(reply);
			}
		});
		socket.on('error', () => {});
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const recorder = {
		port: server.address().port,
		lines,
		onLine: null,   // (line, socket): called before the line is answered
		close: () => new Promise((resolve) => {
			for (const socket of sockets) socket.destroy();
			server.close(resolve);
		}),
	};
	return recorder;
}

const endFor = (line) => (line.startsWith('set ') ? 'STORED\r\n' : 'END\r\n');

function connect(options) {
	return new Promise((resolve, reject) => {
		const client = new Client({ protocol: 'memcached', ...options }, (err) => (err ? reject(err) : resolve(client)));
	});
}

describe('Client: the gets of one turn go as one multi-key get', function () {
	this.timeout(60000);
	let recorder;
	let client;
	afterEach(async () => {
		if (client) await client.close();
		if (recorder) await recorder.close();
		client = null;
		recorder = null;
	});

	it('joins consecutive gets up to 100, keeps order around other commands, writes a turn\'s first 24 early', async () => {
		recorder = await recordingServer(endFor);
		client = await connect({ port: recorder.port });
		const keys = (n, prefix) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
		await Promise.all([
			...keys(3, 'a').map((k) => client.get(k)),
			client.set('s', 'v'),
			...keys(2, 'b').map((k) => client.get(k)),
			...keys(2, 'c').map((k) => client.gets(k)),
			client.get(Buffer.from('d0')),
		]);
		const e = keys(250, 'e');
		await Promise.all(e.map((k) => client.get(k)));
		await client.get('alone');
		assert.deepStrictEqual(recorder.lines, [
			'get a0 a1 a2', 'set s 0 0 1', 'get b0 b1', 'gets c0 c1', 'get d0',
			`get ${e.slice(0, 24).join(' ')}`, `get ${e.slice(24, 124).join(' ')}`, `get ${e.slice(124, 224).join(' ')}`, `get ${e.slice(224).join(' ')}`,
			'get alone',
		]);
	});

	it('sends one get a line with batchGets: false', async () => {
		recorder = await recordingServer(endFor);
		client = await connect({ port: recorder.port, batchGets: false });
		await Promise.all(['x', 'y', 'z'].map((k) => client.get(k)));
		assert.deepStrictEqual(recorder.lines, ['get x', 'get y', 'get z']);
	});

	it('fails every get of a batch the server refuses, sends gets one by one, batches again after 1000 clean answers', async () => {
		let refuse = true;
		recorder = await recordingServer((line) => (refuse && line.split(' ').length > 2 ? 'SERVER_ERROR proxy lost a server\r\n' : 'END\r\n'));
		client = await connect({ port: recorder.port });
		const refused = await Promise.all(['p', 'q', 'r'].map((k) => settle(client.get(k))));
		for (const r of refused) assert.strictEqual(r.error && r.error.serverMessage, 'SERVER_ERROR proxy lost a server');
		const later = await Promise.all(['p', 'q', 'r'].map((k) => settle(client.get(k))));
		assert.deepStrictEqual(later, [{ value: null }, { value: null }, { value: null }]);
		assert.deepStrictEqual(recorder.lines, ['get p q r', 'get p', 'get q', 'get r']);
		refuse = false;
		await Promise.all(Array.from({ length: 996 }, (_, i) => client.get(`n${i}`)));
		await Promise.all(['s1', 's2'].map((k) => client.get(k)));
		await Promise.all(['t1', 't2'].map((k) => client.get(k)));
		assert.deepStrictEqual(recorder.lines.slice(-4), ['get n995', 'get s1', 'get s2', 'get t1 t2']);
	});

	it('sends gets one by one on the next connection when a server hangs up with a batch in flight', async () => {
		recorder = await recordingServer((line) => (line.split(' ').length > 2 ? null : 'END\r\n'));
		recorder.onLine = (line, socket) => { if (line.split(' ').length > 2) socket.destroy(); };
		client = await connect({ port: recorder.port, reconnect: 10 });
		client.on('error', () => {});
		const lost = await Promise.all(['h1', 'h2'].map((k) => settle(client.get(k))));
		for (const r of lost) assert.strictEqual(r.error && r.error.code, 'ECONNRESET');
		let answered;
		for (let tries = 0; !(answered = await Promise.all(['h1', 'h2'].map((k) => settle(client.get(k))))).every((r) => r.value === null); tries++) {
			assert.ok(tries < 500, `not answered: ${JSON.stringify(answered)}`);
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.deepStrictEqual(recorder.lines.slice(-2), ['get h1', 'get h2']);
		assert.ok(!recorder.lines.slice(1).some((line) => line === 'get h1 h2'), recorder.lines.join('|'));
	});

	it('times out every get of an unanswered batch', async () => {
		recorder = await recordingServer(() => null);
		client = await connect({ port: recorder.port, timeout: 200 });
		client.on('error', () => {});
		const started = Date.now();
		const results = await Promise.all(['t1', 't2', 't3'].map((k) => settle(client.get(k))));
		for (const r of results) assert.strictEqual(r.error && r.error.code, 'ETIMEDOUT');
		assert.ok(Date.now() - started < 10000, 'the batch was not timed out');
		assert.deepStrictEqual(recorder.lines, ['get t1 t2 t3']);
	});

	it('drops the connection on a VALUE for a key no get in the batch asked for', async () => {
		recorder = await recordingServer(() => 'VALUE other 0 1\r\nx\r\nEND\r\n');
		client = await connect({ port: recorder.port });
		client.on('error', () => {});
		const results = await Promise.all(['u1', 'u2'].map((k) => settle(client.get(k))));
		for (const r of results) assert.strictEqual(r.error && r.error.code, 'EPROTO');
		assert.match(results[0].error.message, /VALUE for other, a key not asked for/);
	});
});

describe('Client batching against memcached: each get answered as if sent alone', function () {
	this.timeout(60000);
	let memcached;
	before(needs('memcached'));
	before(async () => { memcached = await startMemcached(); });
	after(async () => { if (memcached) await memcached.stop(); });

	// One turn's worth of mixed calls: sets between gets of the same keys, misses, repeats,
	// Buffer and non-ASCII keys, gets with cas. Sequential answers are the reference.
	function calls(client, round) {
		const out = [];
		for (let i = 0; i < 400; i++) {
			const key = i % 7 === 0 ? Buffer.from(`b${round}:${i % 50}`) : i % 11 === 0 ? `ключ${round}:${i % 50}` : `k${round}:${i % 50}`;
			if (i % 13 === 0) out.push(() => client.set(key, `v${i}`));
			else if (i % 17 === 0) out.push(() => client.delete(key));
			else if (i % 5 === 0) out.push(() => client.gets(key).then((r) => r && { value: r.value, flags: r.flags }));
			else out.push(() => client.get(key));
		}
		return out;
	}

	it('gives the same results as the same calls made one at a time, and memcached counts every get', async () => {
		const batching = await connect({ port: memcached.port });
		const oneByOne = await connect({ port: memcached.port, batchGets: false });
		try {
			const stats0 = await oneByOne.stats();
			const together = await Promise.all(calls(batching, 1).map((call) => call()));
			const stats1 = await oneByOne.stats();
			const sequential = [];
			for (const call of calls(oneByOne, 2)) sequential.push(await call());
			const stats2 = await oneByOne.stats();
			assert.deepStrictEqual(together, sequential);
			assert.ok(together.some((r) => r === null) && together.some((r) => typeof r === 'string'));
			for (const name of ['cmd_get', 'get_hits', 'get_misses', 'cmd_set']) {
				assert.strictEqual(stats1[name] - stats0[name], stats2[name] - stats1[name], name);
			}
		} finally {
			await Promise.all([batching.close(), oneByOne.close()]);
		}
	});
});

// Failover with real servers killed, stopped and restarted: a dead server's requests fail fast, the
// others keep working, it is used again once back; `remove` rehashes like nutcracker's auto_eject_hosts;
// request and connect timeouts; and what nutcracker itself answers when a backend dies.
'use strict';

const assert = require('assert');
const path = require('path');
const { spawn, execFile } = require('child_process');
const { Client } = require('..');
const { run, CLI } = require('./helpers/process');
const { freePort, waitFor, settle } = require('./helpers/server');
const { startNutcracker, canConnect } = require('./helpers/nutcracker');
const { needs, PYTHON } = require('./helpers/references');

const CONNECTION_ERRORS = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ESERVERDEAD'];

// A simplecached process serving memcached's protocol on `port` (the same port after a restart).
async function startProcess(port) {
	const proc = run([CLI, '-p', 'off', '--memcached-port', String(port)]);
	await waitFor(() => proc.child.exitCode === null && /^simplecached \S+: /m.test(proc.out.stdout), { what: `simplecached on ${port}` });
	return proc;
}

async function kill(proc, signal = 'SIGKILL') {
	proc.child.kill(signal);
	if (signal === 'SIGKILL') await proc.exited;
}

// `count` simplecached processes on ephemeral ports: [{port, label, proc}].
async function startBackends(count = 3) {
	const backends = [];
	for (let i = 0; i < count; i++) {
		const port = await freePort();
		backends.push({ port, label: `127.0.0.1:${port}`, proc: await startProcess(port) });
	}
	return backends;
}

async function stopBackends(backends) {
	for (const b of backends) {
		if (b.proc.child.exitCode === null && b.proc.child.signalCode === null) {
			b.proc.child.kill('SIGCONT');
			await kill(b.proc);
		}
	}
}

// The value `key` has on one backend, read on a connection of its own.
async function valueOn(backend, key) {
	const direct = new Client({ port: backend.port, protocol: 'memcached' });
	try {
		return await direct.get(key);
	} finally {
		await direct.close();
	}
}

const keys = Array.from({ length: 300 }, (_, i) => `failover:${i}`);
const elapsedSince = (start) => Number(process.hrtime.bigint() - start) / 1e6;

describe('failover: a Client over three servers, one of which dies and comes back', function () {
	this.timeout(60000);
	let backends;
	let client;
	afterEach(async () => {
		if (client) await client.close();
		client = null;
		if (backends) await stopBackends(backends);
		backends = null;
	});

	it('fails the dead server\'s requests fast, keeps the others working, and uses it again once back', async () => {
		backends = await startBackends();
		client = new Client({ servers: backends.map((b) => b.label), protocol: 'memcached', timeout: 30000, reconnect: 50, failures: 2, retry: 5000 });
		const events = [];
		client.on('dead', (label) => events.push(`dead ${label}`));
		client.on('alive', (label) => events.push(`alive ${label}`));
		client.on('error', () => {});
		assert.ok((await Promise.all(keys.map((k) => client.set(k, k)))).every((r) => r === true));
		const victim = backends[1];
		const onVictim = keys.filter((k) => client.serverFor(k) === victim.label);
		assert.ok(onVictim.length > 50 && onVictim.length < 250, `${onVictim.length} keys on the victim`);

		await kill(victim.proc);
		let deadAt = 0;
		client.once('dead', () => { deadAt = Date.now(); });
		// Rounds of every key until the victim is marked dead (its second failure, at least 50 ms
		// of backoff after the first); the pause between rounds lets that backoff pass.
		for (let round = 0; deadAt === 0; round++) {
			const start = process.hrtime.bigint();
			const results = await Promise.all(keys.map((k) => settle(client.get(k))));
			const ms = elapsedSince(start);
			// Far below the 30 s request timeout: nothing waited for it.
			assert.ok(ms < 15000, `round ${round} took ${ms} ms`);
			keys.forEach((k, i) => {
				if (onVictim.includes(k)) {
					assert.ok(results[i].error, `${k} on the dead server: expected an error`);
					assert.ok(CONNECTION_ERRORS.includes(results[i].error.code), `${k}: ${results[i].error.code} ${results[i].error.message}`);
					assert.strictEqual(results[i].error.server, victim.label);
				} else {
					assert.deepStrictEqual(results[i], { value: k });
				}
			});
			await new Promise((resolve) => setTimeout(resolve, 60));
		}
		assert.deepStrictEqual(events, [`dead ${victim.label}`]);
		// Marked dead: refused with ESERVERDEAD, without a connection attempt, for `retry` ms.
		const refused = await settle(client.get(onVictim[0]));
		assert.ok(Date.now() - deadAt < 5000, 'the retry time passed before the check: the machine is too slow for this test');
		assert.strictEqual(refused.error && refused.error.code, 'ESERVERDEAD');
		// A getMulti over every key fails with the dead server's error, carrying the others' answers.
		const multi = await settle(client.getMulti(keys));
		assert.strictEqual(multi.error && multi.error.code, 'ESERVERDEAD');
		assert.deepStrictEqual(multi.error.partial, Object.fromEntries(keys.filter((k) => !onVictim.includes(k)).map((k) => [k, k])));

		victim.proc = await startProcess(victim.port);
		// Requests keep failing fast until the retry time has passed; then one reconnects.
		const deadline = Date.now() + 15000;
		while (!(await settle(client.set(onVictim[0], 'back'))).value) {
			assert.ok(Date.now() < deadline, 'the restarted server was not used again within 15 s');
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		assert.deepStrictEqual(events, [`dead ${victim.label}`, `alive ${victim.label}`]);
		assert.strictEqual(await client.set(onVictim[1], 'after the restart'), true);
		assert.strictEqual(await valueOn(victim, onVictim[1]), 'after the restart');
		assert.deepStrictEqual(await Promise.all(keys.map((k) => client.set(k, 'again'))), keys.map(() => true));
	});

	it('with remove: moves only the dead server\'s keys to the others, and back once it returns', async () => {
		backends = await startBackends();
		client = new Client({ servers: backends.map((b) => b.label), protocol: 'memcached', remove: true, reconnect: 50, failures: 1, retry: 3000 });
		client.on('error', () => {});
		const before = new Map(keys.map((k) => [k, client.serverFor(k)]));
		const victim = backends[2];
		const onVictim = keys.filter((k) => before.get(k) === victim.label);
		const dead = new Promise((resolve) => client.once('dead', resolve));

		await kill(victim.proc);
		await settle(client.get(onVictim[0]));
		await dead;
		for (const k of keys) {
			if (before.get(k) === victim.label) assert.notStrictEqual(client.serverFor(k), victim.label, k);
			else assert.strictEqual(client.serverFor(k), before.get(k), `${k} moved although its server is alive`);
		}
		// Every key works again, on the two live servers.
		assert.deepStrictEqual(await Promise.all(keys.map((k) => client.set(k, `moved ${k}`))), keys.map(() => true));
		assert.strictEqual(await client.get(onVictim[0]), `moved ${onVictim[0]}`);
		assert.strictEqual(await valueOn(backends[0], onVictim[0]) || await valueOn(backends[1], onVictim[0]), `moved ${onVictim[0]}`);

		victim.proc = await startProcess(victim.port);
		const alive = new Promise((resolve) => client.once('alive', resolve));
		// Past the retry time the server is back in the ring; the first request to it reconnects.
		await waitFor(() => client.serverFor(onVictim[0]) === victim.label, { what: 'the server back in the ring' });
		assert.strictEqual(await client.set(onVictim[0], 'home again'), true);
		await alive;
		assert.strictEqual(await valueOn(victim, onVictim[0]), 'home again');
		keys.forEach((k) => assert.strictEqual(client.serverFor(k), before.get(k)));
	});
});

describe('failover: timeouts and dropped connections', function () {
	this.timeout(60000);
	let backends;
	afterEach(async () => {
		if (backends) await stopBackends(backends);
		backends = null;
	});

	it('fails a request to a stopped server with ETIMEDOUT after `timeout` ms; the others answer meanwhile', async () => {
		backends = await startBackends(2);
		const client = new Client({ servers: backends.map((b) => b.label), protocol: 'memcached', timeout: 300, reconnect: 50 });
		client.on('error', () => {});
		try {
			await Promise.all(keys.map((k) => client.set(k, k)));
			const stopped = backends[0];
			const onStopped = keys.find((k) => client.serverFor(k) === stopped.label);
			const elsewhere = keys.find((k) => client.serverFor(k) !== stopped.label);
			stopped.proc.child.kill('SIGSTOP');
			const start = process.hrtime.bigint();
			const late = settle(client.get(onStopped));
			assert.strictEqual(await client.get(elsewhere), elsewhere);
			const result = await late;
			const ms = elapsedSince(start);
			assert.strictEqual(result.error && result.error.code, 'ETIMEDOUT', result.error && result.error.message);
			assert.strictEqual(result.error.server, stopped.label);
			assert.ok(ms >= 250 && ms < 3000, `timed out after ${ms} ms`);
			stopped.proc.child.kill('SIGCONT');
			// The timed-out connection was dropped; a new one is made after the 50 ms backoff.
			await new Promise((resolve) => setTimeout(resolve, 100));
			assert.strictEqual(await client.get(onStopped), onStopped);
		} finally {
			await client.close();
		}
	});

	it('fails every request in flight with ECONNRESET when the server dies under them, and never hangs', async () => {
		backends = await startBackends(1);
		const [backend] = backends;
		const client = new Client({ port: backend.port, protocol: 'memcached', timeout: 10000 });
		client.on('error', () => {});
		try {
			assert.strictEqual(await client.set('k', 'v'), true);
			backend.proc.child.kill('SIGSTOP');
			const inFlight = Array.from({ length: 100 }, (_, i) => settle(client.get(`k${i}`)));
			await new Promise((resolve) => setTimeout(resolve, 100));
			const start = process.hrtime.bigint();
			await kill(backend.proc);
			const results = await Promise.all(inFlight);
			assert.ok(elapsedSince(start) < 2000);
			for (const r of results) assert.strictEqual(r.error && r.error.code, 'ECONNRESET', JSON.stringify(r));
		} finally {
			await client.close();
		}
	});

	it('reconnects with exponential backoff: `reconnect` ms, then twice as long after each failure', async function () {
		needs('python3').call(this);
		// A listener that accepts and at once closes every connection, printing when it accepted.
		const script = 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(16)\nprint(s.getsockname()[1],flush=True)\n'
			+ 'while True:\n c,_=s.accept()\n print(time.monotonic(),flush=True)\n c.close()\n';
		const listener = spawn(PYTHON, ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
		let output = '';
		listener.stdout.on('data', (d) => { output += d; });
		let client;
		try {
			await waitFor(() => output.includes('\n'), { what: 'the listener' });
			const port = Number(output.split('\n')[0]);
			client = new Client({ port, protocol: 'memcached', reconnect: 40, failures: 100, retry: 10000 });
			client.on('error', () => {});
			// Requests one after another: each one past the backoff time opens a new connection. Six
			// accepts give five gaps: 40, 80, 160, 320, 640 ms.
			const accepted = () => output.trim().split('\n').slice(1).map(Number);
			while (accepted().length < 6) {
				await settle(client.get('k'));
				await new Promise(setImmediate);
			}
			const times = accepted();
			const gaps = times.slice(1, 6).map((t, i) => Math.round((t - times[i]) * 1000));
			// Never sooner than the backoff (timers do not fire early), so the lower bounds prove
			// the doubling; later only by scheduling delay, which a loaded machine can stretch,
			// hence the wide upper margin.
			gaps.forEach((gap, i) => {
				const expected = 40 * 2 ** i;
				assert.ok(gap >= expected - 5 && gap < expected * 2 + 250, `gap ${i} is ${gap} ms, expected ~${expected} (gaps ${gaps})`);
			});
		} finally {
			if (client) await client.close();
			listener.kill('SIGKILL');
		}
	});

	it('fails the connection with ETIMEDOUT after `connectTimeout` ms when the server never accepts', async function () {
		needs('python3').call(this);
		// A listener with a backlog of 0 that never accepts: once its queue is full, the kernel
		// ignores new SYNs, so a connect neither succeeds nor fails by itself.
		const script = 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)\n';
		const listener = spawn(PYTHON, ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
		const fillers = [];
		try {
			const port = Number(await new Promise((resolve) => listener.stdout.once('data', (d) => resolve(String(d).trim()))));
			for (let i = 0; i < 4; i++) fillers.push(canConnect(port));
			await Promise.race([Promise.all(fillers), new Promise((resolve) => setTimeout(resolve, 300))]);
			const start = process.hrtime.bigint();
			const outcome = await new Promise((resolve) => {
				const client = new Client({ port, protocol: 'memcached', connectTimeout: 300 }, (err) => resolve({ err, client }));
			});
			const ms = elapsedSince(start);
			assert.strictEqual(outcome.err && outcome.err.code, 'ETIMEDOUT', outcome.err && outcome.err.message);
			assert.match(outcome.err.message, /connect .* timed out after 300 ms/);
			assert.ok(ms >= 250 && ms < 3000, `connect failed after ${ms} ms`);
			await outcome.client.close();
		} finally {
			listener.kill('SIGKILL');
		}
	});
});

describe('failover: nutcracker in front of three servers, one of which dies', function () {
	this.timeout(60000);
	let backends;
	let proxies = [];
	before(needs('nutcracker', 'pymemcache'));
	after(async () => {
		await Promise.all(proxies.map((p) => p.stop()));
		if (backends) await stopBackends(backends);
	});

	it('answers SERVER_ERROR for the dead server\'s keys (to the Client and to pymemcache); with auto_eject_hosts it rehashes them where a Client with remove does', async () => {
		backends = await startBackends();
		const entries = backends.map((b) => `${b.label}:1`);
		const plain = await startNutcracker(entries, { timeout: 2000 });
		const ejecting = await startNutcracker(entries, { timeout: 2000, auto_eject_hosts: true, server_failure_limit: 1, server_retry_timeout: 60000 });
		proxies = [plain, ejecting];
		// Without batches, as the Client must be configured behind a proxy; `batching` shows why.
		const viaPlain = new Client({ port: plain.port, protocol: 'memcached', batchGets: false });
		const batching = new Client({ port: plain.port, protocol: 'memcached' });
		batching.on('error', () => {});
		const viaEjecting = new Client({ port: ejecting.port, protocol: 'memcached' });
		const ring = new Client({ servers: entries, protocol: 'memcached', remove: true, failures: 1, retry: 60000 });
		ring.on('error', () => {});
		try {
			assert.ok((await Promise.all(keys.map((k) => viaPlain.set(k, k)))).every((r) => r === true));
			const victim = backends[0];
			const onVictim = keys.filter((k) => ring.serverFor(k) === victim.label);
			await kill(victim.proc);

			const eachOnItsOwn = (results) => keys.forEach((k, i) => {
				if (!onVictim.includes(k)) assert.deepStrictEqual(results[i], { value: k });
				else {
					assert.strictEqual(results[i].error && results[i].error.code, 'ESERVER', k);
					assert.match(results[i].error.message, /^SERVER_ERROR: Connection (refused|reset)/);
				}
			});
			eachOnItsOwn(await Promise.all(keys.map((k) => settle(viaPlain.get(k)))));

			// Batched, the gets go as multi-key gets: nutcracker answers the first with SERVER_ERROR
			// and hangs up (often resetting the connection before its answer is read), so they all
			// fail. The Client suspends batches for that server, and once it has reconnected, each
			// get is answered on its own again.
			const batched = await Promise.all(keys.map((k) => settle(batching.get(k))));
			batched.forEach((r, i) => assert.ok(r.error && ['ESERVER', 'ECONNRESET'].includes(r.error.code), `${keys[i]}: ${JSON.stringify(r)}`));
			const live = keys.find((k) => !onVictim.includes(k));
			for (let tries = 0; (await settle(batching.get(live))).value !== live; tries++) {
				assert.ok(tries < 100, 'the batching Client did not reconnect');
				await new Promise((r) => setTimeout(r, 50));
			}
			eachOnItsOwn(await Promise.all(keys.map((k) => settle(batching.get(k)))));

			// pymemcache through the same nutcracker gets the same answers.
			const sample = [...onVictim.slice(0, 3), ...keys.filter((k) => !onVictim.includes(k)).slice(0, 3)];
			const script = path.join(__dirname, 'fixtures', 'pymemcache_get.py');
			const py = await new Promise((resolve) => {
				execFile(PYTHON, [script, String(plain.port), ...sample], { timeout: 30000 }, (err, out, errOut) => resolve({ err, out, errOut }));
			});
			assert.ifError(py.err, py.errOut);
			const answers = JSON.parse(py.out);
			answers.slice(0, 3).forEach((a) => assert.match(String(a), /^MemcacheServerError: .*Connection (refused|reset)/));
			assert.deepStrictEqual(answers.slice(3), sample.slice(3));

			// The first failure ejects the server; from then on its keys live on the other two.
			await settle(viaEjecting.get(onVictim[0]));
			await settle(ring.get(onVictim[0]));
			const stored = await Promise.all(onVictim.map((k) => settle(viaEjecting.set(k, `ejected ${k}`))));
			stored.forEach((r, i) => assert.deepStrictEqual(r, { value: true }, onVictim[i]));
			for (const k of onVictim) {
				const label = ring.serverFor(k);
				assert.notStrictEqual(label, victim.label);
				assert.strictEqual(await valueOn(backends.find((b) => b.label === label), k), `ejected ${k}`, `${k} is not on ${label}`);
			}
		} finally {
			await Promise.all([viaPlain.close(), batching.close(), viaEjecting.close(), ring.close()]);
		}
	});
});

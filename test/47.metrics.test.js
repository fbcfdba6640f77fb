// Prometheus, built in: the metricsPort listener's /metrics carries every family memcached_exporter
// reports for memcached 1.6.18, with the values the exporter reads from us, passes promtool's check,
// and adds per-command latency histograms that count each command once.
'use strict';

const assert = require('assert');
const http = require('http');
const net = require('net');
const { spawnSync } = require('child_process');
const { startServer, exchange, pipeline: run } = require('./helpers/server');
const { withMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');
const { scrape, traffic } = require('./helpers/exporter');
const { request, OP } = require('./helpers/binary');
const { startCli, exitWithin } = require('./helpers/process');

const MEMORY_MB = 64;

// {status, headers, body} of one HTTP request to the metrics port.
function fetch(port, path = '/metrics', method = 'GET') {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
		});
		req.on('error', reject);
		req.end();
	});
}

// The text format, read strictly: every sample belongs to the family whose HELP and TYPE came just
// before it (histograms' _bucket/_sum/_count to theirs). Returns Map family -> {type, samples}.
function parseExposition(text) {
	const families = new Map();
	let current = null;
	assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
	for (const line of text.slice(0, -1).split('\n')) {
		const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
		if (meta) {
			const [, kind, name, rest] = meta;
			if (kind === 'HELP') {
				assert.ok(!families.has(name), `family ${name} opened twice`);
				current = { name, type: null, samples: [] };
				families.set(name, current);
			} else {
				assert.strictEqual(current && current.name, name, `TYPE ${name} without its HELP`);
				current.type = rest;
			}
			continue;
		}
		const sample = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
		assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
		const [, name, labelText = '', value] = sample;
		const base = current && current.type === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
		assert.strictEqual(base, current && current.name, `${name} outside its family`);
		const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
		current.samples.push({ name, labels, value: value === '+Inf' ? Infinity : Number(value) });
	}
	return families;
}

const sampleKey = (name, labels) => `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;

function sampleMap(families) {
	const out = new Map();
	for (const { samples } of families.values()) for (const { name, labels, value } of samples) out.set(sampleKey(name, labels), value);
	return out;
}

// What moves between two reads of an idle server: the clock, the CPU, the exporter's own connection
// and the expiry sweep, which a timer starts on its own.
const VOLATILE = /^memcached_(uptime_seconds|time_seconds|process_\w+|read_bytes_total|written_bytes_total|current_connections|connections_total|slab_items_age_seconds|slab_items_evicted_time_seconds|lru_crawler_(starts|items_checked|reclaimed)_total)\{/;

describe('metrics: /metrics against memcached_exporter reading memcached', function () {
	const reference = withMemcached(['-m', String(MEMORY_MB)]);
	let server;
	let port;
	let metricsPort;
	before(async () => {
		server = await startServer({ memcachedPort: 0, metricsPort: 0, memoryLimit: MEMORY_MB * 1024 * 1024 });
		port = server.address('memcached').port;
		metricsPort = server.address('metrics').port;
		await traffic(reference.port);
		await traffic(port);
	});
	after(() => server && server.close());

	it('serves every family the exporter reports for memcached, each value as the exporter reads it from simplecached', async function () {
		const served = await fetch(metricsPort);
		assert.strictEqual(served.status, 200);
		assert.match(served.headers['content-type'], /^text\/plain; version=0\.0\.4/);
		const families = parseExposition(served.body);
		const [ours, theirs] = await Promise.all([scrape(port), scrape(reference.port)]);
		assert.strictEqual(theirs.up, 1, `memcached: ${theirs.error}`);
		assert.strictEqual(ours.up, 1, `simplecached: ${ours.error}`);
		const missing = [...new Set(theirs.samples.map((s) => s.family))].filter((f) => !families.has(f));
		assert.deepStrictEqual(missing, []);
		const values = sampleMap(families);
		let compared = 0;
		for (const { family, labels, value } of ours.samples) {
			const key = sampleKey(family, labels);
			assert.ok(values.has(key), `${key} missing from /metrics`);
			if (VOLATILE.test(key)) continue;
			assert.strictEqual(values.get(key), value, key);
			compared++;
		}
		assert.ok(compared >= 70, `${compared} values compared`);
	});

	it('types each family as its name says, and promtool check metrics accepts the exposition', async function () {
		const { body } = await fetch(metricsPort);
		for (const [name, { type }] of parseExposition(body)) {
			const expected = name === 'memcached_command_duration_seconds' ? 'histogram' : name.endsWith('_total') ? 'counter' : 'gauge';
			assert.strictEqual(type, expected, name);
		}
		needs('promtool').call(this);
		const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
		assert.strictEqual(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
	});
});

for (const threads of [1, 2]) describe(`metrics: latency histograms per command (threads: ${threads})`, function () {
	let server;
	let port;
	let metricsPort;
	beforeEach(async () => {
		server = await startServer({ port: 0, memcachedPort: 0, metricsPort: 0, threads });
		port = server.address('memcached').port;
		metricsPort = server.address('metrics').port;
	});
	afterEach(() => server.close());

	const histograms = async () => {
		const family = parseExposition((await fetch(metricsPort)).body).get('memcached_command_duration_seconds');
		const byCommand = {};
		for (const { name, labels, value } of family.samples) {
			const h = (byCommand[labels.command] ||= { buckets: [] });
			if (name.endsWith('_bucket')) h.buckets.push([labels.le === '+Inf' ? Infinity : Number(labels.le), value]);
			else h[name.endsWith('_sum') ? 'sum' : 'count'] = value;
		}
		return byCommand;
	};

	it('counts each command once under its name, whatever the protocol, in cumulative buckets', async function () {
		const lines = [];
		for (let i = 0; i < 30; i++) lines.push(`set k${i} 0 0 1`, 'x');
		for (let i = 0; i < 50; i++) lines.push(`get k${i % 40}`);
		lines.push('get k1 k2 k3', 'gets k4', 'mg k1 v', 'mg k2 v', 'ms k9 1', 'y', 'md k9', 'delete k8', 'incr k7 1', 'touch k6 10', 'gat 10 k5', 'version');
		await run(port, lines);
		// The seed protocol's get and a binary get count as gets too.
		assert.strictEqual(await exchange(server.address('simple').port, ['get k1\r\n'], 'VALUE k1 x\r\nEND\r\n'), 'VALUE k1 x\r\nEND\r\n');
		const binary = await exchange(port, [request(OP.GET, { key: 'k1' })], (t) => t.length >= 24 && t.length >= 24 + Buffer.from(t, 'latin1').readUInt32BE(8));
		assert.strictEqual(binary.charCodeAt(1), OP.GET);
		const h = await histograms();
		const expected = { get: 50 + 1 + 1 + 1 + 1, set: 30, mg: 2, ms: 1, md: 1, delete: 1, incr: 1, touch: 1, gat: 1, add: 0, cas: 0 };
		for (const [command, count] of Object.entries(expected)) assert.strictEqual(h[command].count, count, command);
		for (const [command, { buckets, sum, count }] of Object.entries(h)) {
			assert.strictEqual(buckets.length, 17, command);
			assert.strictEqual(buckets[buckets.length - 1][0], Infinity);
			assert.strictEqual(buckets[buckets.length - 1][1], count, `${command}: +Inf bucket is the count`);
			for (let b = 1; b < buckets.length; b++) {
				assert.ok(buckets[b][0] > buckets[b - 1][0] && buckets[b][1] >= buckets[b - 1][1], `${command}: buckets cumulative`);
			}
			assert.ok(count === 0 ? sum === 0 : sum > 0 && sum < count * 1, `${command}: sum ${sum} for ${count}`);
		}
	});

	it('stats reset starts the histograms again, as every counter', async function () {
		await run(port, ['set a 0 0 1', 'x', 'get a']);
		assert.strictEqual((await histograms()).get.count, 1);
		await run(port, ['stats reset']);
		const h = await histograms();
		assert.strictEqual(h.get.count, 0);
		assert.strictEqual(h.set.count, 0);
		assert.strictEqual(h.get.sum, 0);
	});

	it('answers 404 beside /metrics, 405 to other methods, headers alone to HEAD; close frees the port', async function () {
		assert.strictEqual((await fetch(metricsPort, '/')).status, 404);
		assert.strictEqual((await fetch(metricsPort, '/metrics', 'POST')).status, 405);
		const head = await fetch(metricsPort, '/metrics', 'HEAD');
		assert.strictEqual(head.status, 200);
		assert.strictEqual(head.body, '');
		assert.ok(Number(head.headers['content-length']) > 1000);
		await server.close();
		assert.strictEqual(server.address('metrics'), null);
		await assert.rejects(new Promise((resolve, reject) => {
			const socket = net.connect(metricsPort, '127.0.0.1', () => { socket.destroy(); resolve(); });
			socket.on('error', reject);
		}), { code: 'ECONNREFUSED' });
		server = await startServer({ port: 0 });   // for afterEach
	});

	it('a metricsPort already taken fails the start and leaves nothing listening', async function () {
		const blocker = net.createServer();
		await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
		try {
			const taken = blocker.address().port;
			await assert.rejects(startServer({ port: 0, metricsPort: taken }), (err) => err.code === 'EADDRINUSE' && err.port === taken);
		} finally {
			blocker.close();
		}
	});
});

describe('metrics: the command line', function () {
	it('--metrics-port serves /metrics, named in the banner, and the process still exits 0 on SIGTERM with a scraper connected', async function () {
		const cli = await startCli(['-p', '0', '--metrics-port', '0']);
		try {
			const [, metricsPort] = /Prometheus metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(cli.out.stdout) || [];
			assert.ok(metricsPort, cli.out.stdout);
			const reply = 'STORED\r\nVALUE a b\r\nEND\r\n';
			assert.strictEqual(await exchange(cli.port, ['set a b\r\nget a\r\n'], reply), reply);
			const keepAlive = new http.Agent({ keepAlive: true });
			const body = await new Promise((resolve, reject) => {
				http.get({ host: '127.0.0.1', port: Number(metricsPort), path: '/metrics', agent: keepAlive }, (res) => {
					let text = '';
					res.on('data', (d) => { text += d; });
					res.on('end', () => resolve(text));
				}).on('error', reject);
			});
			assert.match(body, /^memcached_command_duration_seconds_count\{command="get"\} 1$/m);
			assert.match(body, /^memcached_command_duration_seconds_count\{command="set"\} 1$/m);
		} catch (err) {
			cli.child.kill('SIGKILL');
			throw err;
		}
		cli.child.kill('SIGTERM');
		const result = await exitWithin(cli, 30000, 'server after SIGTERM');
		assert.strictEqual(result.code, 0, result.stderr);
	});
});

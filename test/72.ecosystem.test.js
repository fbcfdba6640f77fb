// Real memcached clients and tools, unchanged, against simplecached: libmemcached's memccapable,
// Python's pymemcache and the npm `memcached` package (the latter two compared with memcached).
'use strict';

const assert = require('assert');
const path = require('path');
const { execFile } = require('child_process');
const Memcached = require('memcached');
const { withServer } = require('./helpers/server');
const { withMemcached } = require('./helpers/memcached');
const { needs, PYTHON } = require('./helpers/references');

// Debian's python3-pymemcache installs its own tests next to the module.
const PYMEMCACHE_TESTS = '/usr/lib/python3/dist-packages/pymemcache/test';

function run(file, args) {
	return new Promise((resolve) => {
		execFile(file, args, { timeout: 60000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
	});
}

// One session with the npm `memcached` client; resolves with what each call gave.
async function npmMemcachedSession(port) {
	const client = new Memcached(`127.0.0.1:${port}`, { retries: 0, timeout: 5000 });
	const call = (method, ...args) => new Promise((resolve) => {
		client[method](...args, (err, result) => resolve(err ? `error: ${err.message}` : result));
	});
	const results = [];
	results.push(await call('flush'));
	results.push(await call('set', 'greeting', 'hello world', 100));
	results.push(await call('get', 'greeting'));
	results.push(await call('add', 'greeting', 'x', 100));
	results.push(await call('replace', 'greeting', 'bye', 100));
	results.push(await call('append', 'greeting', '!'));
	results.push(await call('prepend', 'greeting', '>'));
	const { cas } = await call('gets', 'greeting');
	results.push(await call('cas', 'greeting', 'swapped', cas, 100));
	results.push(await call('cas', 'greeting', 'again', cas, 100));
	results.push(await call('getMulti', ['greeting', 'absent']));
	results.push(await call('set', 'n', 10, 100));
	results.push(await call('incr', 'n', 5));
	results.push(await call('decr', 'n', 20));
	results.push(await call('set', 'object', { nested: [1, 2, 3] }, 100));
	results.push(await call('get', 'object'));
	results.push(await call('touch', 'object', 10));
	results.push(await call('del', 'greeting'));
	results.push(await call('get', 'greeting'));
	results.push(typeof (await call('version'))[0].version);
	client.end();
	return results;
}

describe('ecosystem: memcached clients and tools against simplecached', function () {
	this.timeout(90000);
	const memcached = withMemcached();
	const simplecached = withServer({ port: false, memcachedPort: 0 });
	let port;
	before(() => { port = simplecached.port('memcached'); });

	it('passes every ascii test of memccapable (libmemcached-tools)', async function () {
		needs('memccapable').call(this);
		const result = await run('memccapable', ['-a', '-h', '127.0.0.1', '-p', String(port)]);
		assert.match(result.stdout, /All tests passed/, result.stdout + result.stderr);
		assert.doesNotMatch(result.stdout, /\[fail\]/);
		assert.strictEqual(result.code, 0);
	});

	it('gives pymemcache the same answers as memcached', async function () {
		needs('pymemcache').call(this);
		const script = path.join(__dirname, 'fixtures', 'pymemcache_session.py');
		const [expected, actual] = await Promise.all([memcached.port, port].map((p) => run(PYTHON, [script, String(p)])));
		assert.strictEqual(expected.code, 0, expected.stderr);
		assert.strictEqual(actual.code, 0, actual.stderr);
		assert.deepStrictEqual(JSON.parse(actual.stdout), JSON.parse(expected.stdout));
		assert.deepStrictEqual(JSON.parse(expected.stdout)[1], ['get', 'hello world']);
	});

	it('passes pymemcache\'s own integration suite wherever memcached does', async function () {
		needs('pymemcache', 'pytest').call(this);
		this.timeout(120000);
		const suite = (p) => run(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-k', 'not tls',
			path.join(PYMEMCACHE_TESTS, 'test_integration.py'), '--server', '127.0.0.1', '--port', String(p)]);
		const [expected, actual] = await Promise.all([suite(memcached.port), suite(port)]);
		const summary = (r) => (/(\d+ passed[^\n]*)/.exec(r.stdout) || [r.stdout + r.stderr])[0];
		assert.strictEqual(expected.code, 0, expected.stdout + expected.stderr);
		assert.strictEqual(actual.code, 0, actual.stdout);
		assert.match(summary(expected), /^\d{2,} passed/);
		assert.strictEqual(summary(actual).split(' in ')[0], summary(expected).split(' in ')[0]);
	});

	it('gives the npm memcached client the same answers as memcached', async () => {
		const expected = await npmMemcachedSession(memcached.port);
		const actual = await npmMemcachedSession(port);
		assert.deepStrictEqual(actual, expected);
		assert.strictEqual(expected[2], 'hello world');
		assert.deepStrictEqual(expected[14], { nested: [1, 2, 3] });
	});
});

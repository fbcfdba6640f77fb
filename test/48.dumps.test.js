// Key listings as operators' tools use them: "lru_crawler metadump" and "stats cachedump" list
// every live key once, in memcached's line formats, paced by the reader (a listing of any size
// never holds up another connection); memcdump and memcached-tool run unchanged against them.
'use strict';

const assert = require('assert');
const net = require('net');
const { execFile } = require('child_process');
const { startServer, exchange, pipeline, statsPairs, waitFor } = require('./helpers/server');
const { withMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

const MEMCACHED_TOOL = '/usr/share/memcached/scripts/memcached-tool';
const METADUMP_LINE = /^key=(\S+) exp=(-1|\d+) la=\d+ cas=\d+ fetch=(yes|no) cls=(\d+) size=(\d+)$/;

function listing(port, command) {
	return exchange(port, [`${command}\r\n`], (t) => /(^|\n)END\r\n$/.test(t) || /^[A-Z_]+ERROR|^BADCLASS/.test(t));
}

// The keys of a metadump listing, decoded as memcached-tool decodes them.
function metadumpKeys(text) {
	const lines = text.split('\n').slice(0, -1).filter((l) => l !== 'END\r');
	return lines.map((line) => {
		const match = METADUMP_LINE.exec(line);
		assert.ok(match, `metadump line ${JSON.stringify(line)}`);
		return decodeURIComponent(match[1]);
	});
}

function tool(args) {
	return new Promise((resolve, reject) => {
		execFile(args[0], args.slice(1), { timeout: 30000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
			if (err) reject(new Error(`${args.join(' ')}: ${err.message} ${stderr}`));
			else resolve(stdout);
		});
	});
}

describe('key listings: metadump and cachedump', function () {
	let server;
	let port;
	beforeEach(async () => {
		server = await startServer({ memcachedPort: 0, memoryLimit: 64 * 1024 * 1024 });
		port = server.address('memcached').port;
	});
	afterEach(() => server.close());

	it('metadump lists every live key once in memcached\'s format; expired items are not listed', async function () {
		const keys = ['plain', 'with:colon', 'per%cent', 'tilde~dash-dot.under_', 'big'];
		await pipeline(port, [
			...keys.slice(0, 4).flatMap((k, i) => [`set ${k} ${i} ${i ? 100 : 0} 3`, 'abc']),
			`set big 0 0 6000`, 'b'.repeat(6000), 'set gone 0 -1 1', 'x', 'get plain',
		]);
		const text = await listing(port, 'lru_crawler metadump all');
		assert.ok(text.endsWith('\nEND\r\n'));
		assert.deepStrictEqual(metadumpKeys(text).sort(), [...keys].sort());
		const line = (k) => text.split('\n').find((l) => l.startsWith(`key=${encodeURIComponent(k).replace(/~/g, '~')} `));
		assert.match(line('plain'), / exp=-1 .* fetch=yes /);
		assert.match(line('with:colon'), /^key=with%3Acolon exp=\d{10} .* fetch=no /);
		assert.match(line('per%cent'), /^key=per%25cent /);
		assert.match(line('tilde~dash-dot.under_'), /^key=tilde~dash-dot\.under_ /);
		// Classes are the ids "stats items" lists; the big item has its own.
		const ids = new Set((await statsPairs(port, 'items')).map(([n]) => n.split(':')[1]));
		for (const l of text.split('\n').filter((x) => x.startsWith('key='))) assert.ok(ids.has(/ cls=(\d+) /.exec(l)[1]), l);
		const [, bigClass] = / cls=(\d+) /.exec(line('big'));
		const only = await listing(port, `lru_crawler metadump ,${bigClass},`);
		assert.deepStrictEqual(metadumpKeys(only), ['big']);
	});

	it('cachedump lists one class (limit 0: all), in memcached\'s format', async function () {
		await pipeline(port, ['set a 0 0 1', 'x', 'set b 0 100 1', 'y', 'set c 0 0 1', 'z']);
		const [id] = (await statsPairs(port, 'items')).find(([n]) => n.endsWith(':number'))[0].split(':').slice(1);
		const all = await listing(port, `stats cachedump ${id} 0`);
		const items = all.split('\r\n').filter((l) => l.startsWith('ITEM '));
		assert.deepStrictEqual(items.map((l) => l.split(' ')[1]).sort(), ['a', 'b', 'c']);
		for (const l of items) assert.match(l, /^ITEM [abc] \[1 b; (0|\d{10}) s\]$/);
		assert.match(items.find((l) => l.startsWith('ITEM b ')), /; \d{10} s\]$/);
		const one = await listing(port, `stats cachedump ${id} 1`);
		assert.strictEqual(one.split('\r\n').filter((l) => l.startsWith('ITEM ')).length, 1);
		assert.strictEqual(await listing(port, 'stats cachedump 0 0'), 'END\r\n');
	});

	it('a large listing goes out as the client reads, while other connections are served', async function () {
		const count = 40000;
		const keys = Array.from({ length: count }, (_, i) => `key${String(i).padStart(6, '0')}`);
		for (let i = 0; i < count; i += 10000) await pipeline(port, keys.slice(i, i + 10000).flatMap((k) => [`set ${k} 0 0 2 noreply`, 'vv']));
		const socket = net.connect(port, '127.0.0.1');
		let received = '';
		socket.setEncoding('latin1');
		socket.on('data', (d) => { received += d; });
		await new Promise((resolve) => socket.once('connect', resolve));
		socket.write('lru_crawler metadump all\r\n');
		await waitFor(() => received.length > 0, { what: 'the listing to start' });
		socket.pause();
		// While the listing waits for its reader: other clients are answered, and the table doubles.
		assert.strictEqual(await pipeline(port, ['get key000000']), 'VALUE key000000 0 2\r\nvv\r\nEND\r\n');
		const more = Array.from({ length: 60000 }, (_, i) => `late${i}`);
		for (let i = 0; i < more.length; i += 10000) await pipeline(port, more.slice(i, i + 10000).flatMap((k) => [`set ${k} 0 0 1 noreply`, 'l']));
		socket.resume();
		await waitFor(() => received.endsWith('\nEND\r\n'), { what: 'the listing to end', timeoutMs: 30000 });
		socket.destroy();
		const listed = metadumpKeys(received);
		const counts = new Map();
		for (const k of listed) counts.set(k, (counts.get(k) || 0) + 1);
		for (const k of keys) assert.strictEqual(counts.get(k), 1, `${k} listed ${counts.get(k) || 0} times`);
		for (const [k, n] of counts) assert.strictEqual(n, 1, `${k} listed ${n} times`);
	});

	it('Engine.feed lists keys too', function () {
		server.engine.set('in-process', 'v');
		const text = server.engine.feed('lru_crawler metadump all\r\n', { protocol: 'memcached' }).toString('latin1');
		assert.deepStrictEqual(metadumpKeys(text), ['in-process']);
	});
});

describe('key listings: errors and crawler switches answer as memcached\'s', function () {
	const reference = withMemcached();
	let server;
	let port;
	before(async () => {
		server = await startServer({ memcachedPort: 0 });
		port = server.address('memcached').port;
	});
	after(() => server && server.close());

	it('gives memcached\'s replies, byte for byte', async function () {
		const commands = ['stats cachedump', 'stats cachedump 1', 'stats cachedump x y', 'stats cachedump -1 0', 'stats cachedump 1 x',
			'stats cachedump 64 0', 'stats cachedump 63 0', 'stats cachedump 0 0', 'lru_crawler', 'lru_crawler metadump',
			'lru_crawler metadump 0', 'lru_crawler metadump 64', 'lru_crawler metadump 1,x', 'lru_crawler metadump 63',
			'lru_crawler metadump all noreply', 'lru_crawler bogus 1', 'lru_crawler crawl 0', 'lru_crawler crawl 1,2',
			'lru_crawler sleep 1000001', 'lru_crawler sleep -1', 'lru_crawler sleep', 'lru_crawler tocrawl x',
			'lru_crawler enable', 'lru_crawler disable', 'lru_crawler metadump all', 'lru_crawler crawl all',
			'lru_crawler disable', 'lru_crawler enable', 'lru_crawler enable',
			'cache_memlimit 7', 'cache_memlimit -1', 'cache_memlimit x', 'cache_memlimit 1000000001', 'cache_memlimit 64 x y',
			'cache_memlimit', 'cache_memlimit 64', 'slabs reassign 1 1', 'slabs reassign -1 2', 'slabs reassign 99 2',
			'slabs reassign x 2', 'slabs reassign 1', 'slabs reassign 0 2', 'slabs reassign 1 2', 'slabs reassign 1 2 noreply',
			'slabs automove 0', 'slabs automove 2', 'slabs automove 3', 'slabs automove invalid', 'slabs automove', 'slabs',
			'slabs bogus 1'];
		// One connection per command: memcached reads nothing after a metadump on its connection.
		// Both stores are empty, so every reply is one "\r\n" line.
		const ask = (p, command) => exchange(p, [`${command}\r\n`], (t) => t.endsWith('\r\n'));
		// Right after "lru_crawler enable|disable", memcached's crawler thread may still be starting
		// or stopping, and a crawl or metadump then gets "ERROR an unknown error happened" (seen once
		// in a stress run): asked again, it answers as it settles. Ours has no thread to wait for.
		const settled = async (command) => {
			let reply = await ask(reference.port, command);
			for (let i = 0; i < 20 && reply === 'ERROR an unknown error happened\r\n'; i++) reply = await ask(reference.port, command);
			return reply;
		};
		for (const command of commands) {
			const [ours, theirs] = await Promise.all([ask(port, command), settled(command)]);
			assert.strictEqual(ours, theirs, command);
		}
	});
});

describe('memory commands: cache_memlimit and slabs reassign act on memory', function () {
	let server;
	let port;
	const stat = async (name, group = '') => Number(new Map(await statsPairs(port, group)).get(name));
	const malloced = () => stat('total_malloced', 'slabs');
	beforeEach(async () => {
		server = await startServer({ memcachedPort: 0, memoryLimit: 32 * 1024 * 1024 });
		port = server.address('memcached').port;
	});
	afterEach(() => server.close());

	it('cache_memlimit lowered, evicts down to it; raised, takes more; past 4 times the start, refuses', async function () {
		const value = 'v'.repeat(1000);
		for (let b = 0; b < 3; b++) {
			await pipeline(port, Array.from({ length: 10000 }, (_, i) => [`set k${b}:${i} 0 0 1000 noreply`, value]).flat());
		}
		assert.ok(await malloced() > 24 * 1024 * 1024);
		const evictions = await stat('evictions');
		assert.strictEqual(await pipeline(port, ['cache_memlimit 8']), 'OK\r\n');
		assert.strictEqual(await stat('limit_maxbytes'), 8 * 1024 * 1024);
		assert.strictEqual(new Map(await statsPairs(port, 'settings')).get('maxbytes'), String(8 * 1024 * 1024));
		await waitFor(async () => (await malloced()) <= 8 * 1024 * 1024, { what: 'eviction down to 8 MiB' });
		assert.ok(await stat('evictions') > evictions + 10000);
		assert.strictEqual(await pipeline(port, ['cache_memlimit 128', 'cache_memlimit 129']), 'OK\r\nMEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n');
		assert.strictEqual(await stat('limit_maxbytes'), 128 * 1024 * 1024);
		await pipeline(port, Array.from({ length: 40000 }, (_, i) => [`set m${i} 0 0 1000 noreply`, value]).flat());
		assert.ok(await malloced() > 32 * 1024 * 1024, 'the raised limit holds more than the first');
	});

	it('slabs reassign evicts the items of one page, counts it in slabs_moved, and leaves a class its last page', async function () {
		await pipeline(port, Array.from({ length: 400 }, (_, i) => [`set r${String(i).padStart(3, '0')} 0 0 100 noreply`, 'r'.repeat(100)]).flat());
		const slabs = new Map(await statsPairs(port, 'slabs'));
		const [name] = [...slabs].find(([n]) => n.endsWith(':total_pages'));
		const id = name.split(':')[0];
		const perPage = Number(slabs.get(`${id}:chunks_per_page`));
		assert.ok(Number(slabs.get(name)) >= 2, `${slabs.get(name)} pages`);
		assert.strictEqual(await pipeline(port, [`slabs reassign ${id} 1`]), 'OK\r\n');
		const general = new Map(await statsPairs(port, ''));
		assert.strictEqual(general.get('slabs_moved'), '1');
		const evicted = Number(general.get('evictions'));
		assert.ok(evicted > 0 && evicted <= perPage, `${evicted} evicted, ${perPage} per page`);
		assert.strictEqual(Number(general.get('curr_items')), 400 - evicted);
		// Down to its last page, the class keeps it.
		let reply;
		do reply = await pipeline(port, [`slabs reassign ${id} 1`]); while (reply === 'OK\r\n');
		assert.strictEqual(reply, 'NOSPARE source class has no spare pages\r\n');
		assert.strictEqual(new Map(await statsPairs(port, 'slabs')).get(`${id}:total_pages`), '1');
	});
});

describe('key listings: memcdump and memcached-tool', function () {
	let server;
	let port;
	const values = { alpha: 'one', 'be:ta': 'two two', gamma: 'g'.repeat(5000) };
	before(async () => {
		server = await startServer({ memcachedPort: 0 });
		port = server.address('memcached').port;
		await pipeline(port, Object.entries(values).flatMap(([k, v], i) => [`set ${k} ${i} 0 ${v.length}`, v]));
	});
	after(() => server && server.close());

	it('memcdump lists every key', async function () {
		needs('memcdump').call(this);
		const out = await tool(['memcdump', `--servers=127.0.0.1:${port}`]);
		assert.deepStrictEqual(out.trim().split('\n').sort(), Object.keys(values).sort());
	});

	it('memcached-tool dump, keys, display, stats, settings and sizes finish and read us', async function () {
		needs('memcached-tool').call(this);
		const run = (mode) => tool(['perl', MEMCACHED_TOOL, `127.0.0.1:${port}`, mode]);
		const dump = await run('dump');
		for (const [i, [k, v]] of Object.entries(values).entries()) assert.ok(dump.includes(`add ${k} ${i} 0 ${v.length}\r\n${v}\r\n`), k);
		const keys = await run('keys');
		assert.deepStrictEqual(metadumpKeys(keys + 'END\r\n').sort(), Object.keys(values).sort());
		const display = await run('display');
		assert.match(display, /Item_Size\s+Max_age/);
		assert.ok(display.trim().split('\n').length >= 3, display);
		assert.match(await run('stats'), /curr_items\s+3/);
		assert.match(await run('settings'), /maxbytes\s+\d+/);
		assert.match(await run('sizes'), /sizes_status\s+disabled/);
	});
});

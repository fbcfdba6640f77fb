// Operators' view: every "stats" group answers with memcached 1.6.18's names in its order, uptime
// counts as memcached's does, and Prometheus's memcached_exporter (its parsing, helpers/exporter.js)
// reports simplecached up with every metric family it reports for memcached, values agreeing.
'use strict';

const assert = require('assert');
const { startServer, exchange, waitFor, pipeline: run, statsPairs } = require('./helpers/server');
const { withMemcached, startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');
const { scrape, traffic } = require('./helpers/exporter');

const MEMORY_MB = 64;
const MAX_CONNECTIONS = 512;

// Class ids differ between the servers (their size classes differ): each becomes its rank.
function byRank(names) {
	const ranks = new Map();
	return names.map((name) => name.replace(/^(items:)?(\d+):/, (_, prefix = '', id) => {
		if (!ranks.has(id)) ranks.set(id, ranks.size + 1);
		return `${prefix}#${ranks.get(id)}:`;
	}));
}

// exporter samples as "family{label=value,...}" -> value.
function samples(result) {
	const out = new Map();
	for (const { family, labels, value } of result.samples) {
		const key = `${family}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}}`;
		out.set(key, (out.get(key) || 0) + value);
	}
	return out;
}

// The per-slab samples summed over slabs: class ids differ, their sums must not.
function slabSums(result) {
	const out = new Map();
	for (const { family, labels, value } of result.samples) {
		if (!('slab' in labels)) continue;
		const rest = Object.entries(labels).filter(([k]) => k !== 'slab').map(([k, v]) => `${k}=${v}`).join(',');
		const key = `${family}{${rest}}`;
		out.set(key, (out.get(key) || 0) + value);
	}
	return out;
}

// The stats names simplecached adds to memcached's.
const OUR_OWN = new Set(['simplecached_version']);

describe('operators: stats groups and memcached_exporter, side by side with memcached', function () {
	const reference = withMemcached(['-m', String(MEMORY_MB), '-c', String(MAX_CONNECTIONS)]);
	let server;
	let port;
	before(async () => {
		server = await startServer({ memcachedPort: 0, memoryLimit: MEMORY_MB * 1024 * 1024, maxConnections: MAX_CONNECTIONS });
		port = server.address('memcached').port;
		await traffic(reference.port);
		await traffic(port);
	});
	after(() => server && server.close());

	for (const group of ['', 'settings', 'items', 'slabs', 'sizes']) {
		it(`"stats${group ? ` ${group}` : ''}" lists memcached's names in memcached's order`, async function () {
			const [ours, theirs] = await Promise.all([statsPairs(port, group), statsPairs(reference.port, group)]);
			// Beside memcached's names, ours adds only simplecached_version (which server answers).
			const own = ours.filter(([n]) => OUR_OWN.has(n)).map(([n]) => n);
			assert.deepStrictEqual(own, group === '' ? ['simplecached_version'] : []);
			assert.deepStrictEqual(byRank(ours.map(([n]) => n).filter((n) => !OUR_OWN.has(n))), byRank(theirs.map(([n]) => n)));
			for (const [name, value] of ours) assert.ok(/^\S+$/.test(value), `${name}: value ${JSON.stringify(value)} has a space or is empty`);
		});
	}

	it('the exporter reports both up, and every family it reports for memcached for simplecached too', async function () {
		const [ours, theirs] = await Promise.all([scrape(port), scrape(reference.port)]);
		assert.strictEqual(theirs.up, 1, `memcached: ${theirs.error}`);
		assert.strictEqual(ours.up, 1, `simplecached: ${ours.error}`);
		const families = (r) => new Set(r.samples.map((s) => s.family));
		const missing = [...families(theirs)].filter((f) => !families(ours).has(f));
		assert.deepStrictEqual(missing, []);
		assert.ok(ours.samples.length >= theirs.samples.length * 0.8, `${ours.samples.length} samples against ${theirs.samples.length}`);
	});

	it('the exporter reads the same command counts, items and limits from both, in total and summed over slabs', async function () {
		const [ours, theirs] = await Promise.all([scrape(port), scrape(reference.port)]);
		const mine = samples(ours);
		const ref = samples(theirs);
		const same = [...ref.keys()].filter((k) => /^memcached_(commands_total|current_items|items_total|limit_bytes|max_connections|version)\{/.test(k));
		assert.ok(same.length >= 16, same.join(' '));
		for (const key of same) assert.strictEqual(mine.get(key), ref.get(key), key);
		const mineSlabs = slabSums(ours);
		const refSlabs = slabSums(theirs);
		const slabFamilies = [...refSlabs.keys()].filter((k) => /^memcached_slab_(commands_total|current_items)\{/.test(k));
		assert.ok(slabFamilies.length >= 9, slabFamilies.join(' '));
		for (const key of slabFamilies) assert.strictEqual(mineSlabs.get(key), refSlabs.get(key), key);
	});

	it('stats detail on, dump and off count keys by prefix as memcached does', async function () {
		const session = ['stats detail dump', 'stats detail', 'stats detail bogus', 'stats detail on', 'set d:1 0 0 1', 'x', 'set e:2 0 0 1', 'x',
			'set plain 0 0 1', 'x', 'get d:1', 'get d:9', 'get plain', 'delete e:2', 'delete e:3', 'gets d:1 e:2', 'incr d:1 1',
			'touch d:1 10', 'mg d:1 v', 'ms d:5 1', 'x', 'set e:big 0 0 2000000', 'y'.repeat(2000000), 'stats detail dump', 'stats detail off',
			'get d:1', 'stats detail dump'];
		// memcached lists prefixes in its hash table's order: compare each dump's lines as a set.
		const sorted = (text) => text.replace(/(PREFIX [^\r]*\r\n)+/g, (block) => block.split('\r\n').filter(Boolean).sort().join('\r\n') + '\r\n');
		const [ours, theirs] = await Promise.all([run(port, session), run(reference.port, session)]);
		assert.strictEqual(sorted(ours), sorted(theirs));
		assert.match(theirs, /PREFIX d get 3 hit 2 set 1 del 0\r\n/);
	});

	it('server.stats(group) gives the pairs the memcached port prints, numbers where they are', async function () {
		for (const group of ['settings', 'items', 'slabs', 'sizes']) {
			const printed = await statsPairs(port, group);
			const given = server.stats(group);
			assert.deepStrictEqual(Object.keys(given), printed.map(([n]) => n), group);
			for (const [name, value] of printed) {
				const expected = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
				if (name !== 'age') assert.strictEqual(given[name], expected, `${group} ${name}`);
			}
		}
		assert.strictEqual(typeof server.stats('settings').maxbytes, 'number');
		assert.strictEqual(server.stats('settings').evictions, 'on');
		const plain = server.stats();
		assert.strictEqual(plain.items, plain.curr_items);
		assert.ok(Object.values(plain).every((v) => typeof v === 'number'));
		assert.throws(() => server.engine.stats('nonsense'), RangeError);
	});

	it('counts uptime within a second of a memcached started at the same moment', async function () {
		needs('memcached').call(this);
		const ready = (promise) => promise.then((value) => ({ value, at: Date.now() }));
		const [ours, theirs] = await Promise.all([ready(startServer({ memcachedPort: 0 })), ready(startMemcached())]);
		try {
			const uptime = async (p) => Number(new Map(await statsPairs(p, '')).get('uptime'));
			const [a, b] = await Promise.all([uptime(ours.value.address('memcached').port), uptime(theirs.value.port)]);
			// Their start-up times may differ on a loaded machine: that much more difference is theirs.
			const skew = Math.ceil(Math.abs(ours.at - theirs.at) / 1000);
			assert.ok(Math.abs(a - b) <= 1 + skew, `uptime ${a} against memcached's ${b} (start-up skew ${skew} s)`);
		} finally {
			await Promise.all([ours.value.close(), theirs.value.stop()]);
		}
	});

	it('counts uptime as memcached does: from 2 at start', async function () {
		const started = Date.now();
		const fresh = await startServer({ memcachedPort: 0 });
		try {
			const pairs = new Map(await statsPairs(fresh.address('memcached').port, ''));
			const uptime = Number(pairs.get('uptime'));
			// 2 plus the whole seconds since start, which a loaded machine may stretch.
			const elapsed = Math.ceil((Date.now() - started) / 1000);
			assert.ok(uptime >= 2 && uptime <= 3 + elapsed, `uptime ${uptime}, ${elapsed} s after start`);
		} finally {
			await fresh.close();
		}
	});
});

describe('operators: counters move when what they count happens', function () {
	let server;
	let port;
	const stat = async (group, name) => Number(new Map(await statsPairs(port, group)).get(name));
	beforeEach(async () => {
		server = await startServer({ memcachedPort: 0, memoryLimit: 2 * 1024 * 1024 });
		port = server.address('memcached').port;
	});
	afterEach(() => server.close());

	it('evictions: evictions, evicted and evicted_unfetched per class', async function () {
		const value = 'v'.repeat(100);
		const lines = [];
		// Keys of one length: one class, which keeps items (stats items lists only classes that do).
		for (let i = 0; i < 40000; i++) lines.push(`set k${String(i).padStart(5, '0')} 0 0 ${value.length} noreply`, value);
		await run(port, lines);
		const evictions = await stat('', 'evictions');
		assert.ok(evictions > 10000, `evictions ${evictions}`);
		const items = new Map(await statsPairs(port, 'items'));
		const perClass = (field) => [...items].filter(([n]) => n.endsWith(`:${field}`)).reduce((a, [, v]) => a + Number(v), 0);
		assert.strictEqual(perClass('evicted'), evictions);
		assert.strictEqual(perClass('evicted_unfetched'), evictions);
		assert.strictEqual(await stat('', 'evicted_unfetched'), evictions);
	});

	it('expiry: get_expired, then reclaimed and expired_unfetched; flush: get_flushed', async function () {
		await run(port, ['set gone 0 -1 1', 'x', 'get gone', 'set later 0 1 1', 'y', 'set kept 0 0 1', 'z', 'flush_all', 'get kept']);
		assert.strictEqual(await stat('', 'get_expired'), 1);
		assert.strictEqual(await stat('', 'get_flushed'), 1);
		assert.ok(await stat('', 'reclaimed') >= 2);
		assert.ok(await stat('', 'expired_unfetched') >= 2);
	});

	it('the sweep is the crawler: lru_crawler_starts and crawler_items_checked grow, crawler_reclaimed takes expired items', async function () {
		const lines = [];
		for (let i = 0; i < 20; i++) lines.push(`set t${i} 0 1 1`, 'x');
		await run(port, lines);
		const starts = await stat('', 'lru_crawler_starts');
		await waitFor(async () => (await stat('', 'crawler_reclaimed')) >= 20, { what: 'the sweep reclaiming 20 items with a 1 s ttl', timeoutMs: 20000 });
		assert.ok(await stat('', 'lru_crawler_starts') > starts);
		assert.ok(await stat('', 'crawler_items_checked') >= 20);
		assert.strictEqual(await stat('', 'curr_items'), 0);
	});

	it('stats reset zeroes the counters, keeps the gauges', async function () {
		await run(port, ['set a 0 0 1', 'x', 'get a', 'delete nx']);
		await run(port, ['stats reset']);
		const pairs = new Map(await statsPairs(port, ''));
		for (const name of ['cmd_get', 'get_hits', 'cmd_set', 'delete_misses', 'total_items']) assert.strictEqual(pairs.get(name), '0', name);
		assert.strictEqual(pairs.get('curr_items'), '1');
		const slabs = new Map(await statsPairs(port, 'slabs'));
		const hits = [...slabs].filter(([n]) => /:(get_hits|cmd_set)$/.test(n));
		assert.ok(hits.length >= 2 && hits.every(([, v]) => v === '0'), JSON.stringify(hits));
	});

	it('last access: mg l, me la, and per class age and evicted_time follow the store clock', async function () {
		const uptime = () => stat('', 'uptime');
		const before = await uptime();
		const fill = [];
		for (let i = 0; i < 20000; i++) fill.push(`set old${String(i).padStart(5, '0')} 0 0 100 noreply`, 'o'.repeat(100));
		await run(port, ['set k 0 0 1', 'x', ...fill]);
		await waitFor(async () => (await uptime()) >= before + 3, { what: 'the server clock to advance 3 s', timeoutMs: 20000 });
		const starts = await stat('', 'lru_crawler_starts');
		await waitFor(async () => (await stat('', 'lru_crawler_starts')) >= starts + 2, { what: 'a whole pass of the sweep' });
		// me first: mg l reads the access time, then updates it, as memcached's does.
		const reply = await run(port, ['me k', 'mg k l']);
		const after = await uptime();
		const [, l] = /\r\nHD l(\d+)\r\n$/.exec(reply);
		const [, la] = / la=(\d+) /.exec(reply);
		for (const seconds of [Number(l), Number(la)]) assert.ok(seconds >= 2 && seconds <= after - before, `${seconds} s against ${after - before} s`);
		const items = new Map(await statsPairs(port, 'items'));
		const ages = [...items].filter(([n]) => n.endsWith(':age')).map(([, v]) => Number(v));
		assert.ok(ages.some((age) => age >= 2), `ages ${ages}`);
		// A few more evict only old items, unread for 2 s or more (memcached's evicted_time is the
		// last eviction's).
		const more = [];
		for (let i = 0; i < 3000; i++) more.push(`set new${String(i).padStart(5, '0')} 0 0 100 noreply`, 'n'.repeat(100));
		await run(port, more);
		const evicted = [...new Map(await statsPairs(port, 'items'))].filter(([n]) => n.endsWith(':evicted_time')).map(([, v]) => Number(v));
		assert.ok(evicted.some((t) => t >= 2), `evicted_time ${evicted}`);
	});

	it('conn_yields: a pipeline of gets whose replies pass the output mark', async function () {
		await run(port, ['set big 0 0 100000', 'b'.repeat(100000)]);
		const before = await stat('', 'conn_yields');
		const text = await exchange(port, ['get big\r\n'.repeat(10) + 'mn\r\n'], (t) => t.endsWith('MN\r\n'));
		assert.strictEqual(text.split('VALUE big').length - 1, 10);
		assert.ok(await stat('', 'conn_yields') > before);
	});
});

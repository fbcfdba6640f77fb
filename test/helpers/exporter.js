// exporter: asks a server what Prometheus's memcached_exporter v0.11.1 asks and parses the replies as
// strictly as it does (its pkg/exporter and the gomemcache client it uses), so a test can tell
// whether that exporter would report the server up, and with which metric families and values.
'use strict';

const assert = require('assert');
const net = require('net');
const { pipeline: run } = require('./server');

// Go's strconv.ParseFloat on what the exporter reads: decimal or exponent notation, inf, nan.
const GO_FLOAT = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

class ScrapeError extends Error {}

function parseFloatGo(stats, key) {
	if (!(key in stats)) return undefined; // errKeyNotFound: the metric is skipped, no error
	const value = stats[key];
	if (!GO_FLOAT.test(value)) throw new ScrapeError(`${key}: cannot parse ${JSON.stringify(value)}`);
	return Number(value);
}

function parseBool(stats, key) {
	if (!(key in stats)) return undefined;
	if (stats[key] === 'yes') return 1;
	if (stats[key] === 'no') return 0;
	throw new ScrapeError(`${key}: not yes or no: ${JSON.stringify(stats[key])}`);
}

// "seconds.microseconds", each part a Go float.
function parseTimeval(stats, key) {
	if (!(key in stats)) return undefined;
	const parts = stats[key].split('.');
	if (parts.length !== 2 || !parts.every((p) => GO_FLOAT.test(p))) throw new ScrapeError(`${key}: not a timeval`);
	return Number(parts[0]) + Number(parts[1]) / 1e6;
}

// A missing key is an error where the exporter sums or subtracts (cmd_set and the cas counters).
function required(stats, key) {
	const value = parseFloatGo(stats, key);
	if (value === undefined) throw new ScrapeError(`${key}: missing`);
	return value;
}

// One connection, one command at a time, each read up to its "END\r\n" line.
function session(port) {
	const socket = net.connect(port, '127.0.0.1');
	let pending = '';
	let waiter = null;
	let failure = null;
	const settle = () => {
		if (!waiter) return;
		const end = pending.indexOf('END\r\n');
		const error = failure || (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(pending) && pending.includes('\r\n') ? new ScrapeError(pending.split('\r\n')[0]) : null);
		if (end < 0 && !error) return;
		const { resolve, reject } = waiter;
		waiter = null;
		if (end >= 0 && !error) {
			const reply = pending.slice(0, end);
			pending = pending.slice(end + 5);
			resolve(reply.split('\r\n').filter((l) => l !== ''));
		} else reject(error);
	};
	socket.setEncoding('latin1');
	socket.on('data', (d) => {
		pending += d;
		settle();
	});
	socket.on('error', (e) => {
		failure = e;
		settle();
	});
	socket.on('close', () => {
		failure ||= new ScrapeError('connection closed');
		settle();
	});
	return {
		ask(command) {
			return new Promise((resolve, reject) => {
				waiter = { resolve, reject };
				socket.write(`${command}\r\n`);
				settle();
			});
		},
		close: () => socket.destroy(),
	};
}

// gomemcache's Stats(): "stats", "stats slabs", "stats items" into global, per-slab and per-item maps.
// A line of other than three space-separated fields, or not starting with STAT, is skipped.
function parseStatsLines(lines, into) {
	for (const line of lines) {
		const fields = line.split(' ');
		if (fields.length !== 3 || !fields[0].startsWith('STAT')) continue;
		const name = fields[1].split(':');
		const value = fields[2].trim();
		if (name.length === 1) {
			into.stats[fields[1]] = value;
		} else if (name.length === 2 || name.length === 3) {
			const id = name[name.length - 2];
			if (!/^[+-]?\d+$/.test(id)) throw new ScrapeError(`bad slab id in ${line}`);
			const table = name.length === 2 ? into.slabs : into.items;
			(table[Number(id)] ||= {})[name[name.length - 1]] = value;
		}
	}
}

// gomemcache's StatsSettings(): every line must be "STAT <name> <value...>".
function parseSettingsLines(lines) {
	const settings = {};
	for (const line of lines) {
		const fields = line.split(' ');
		if (fields.length < 3 || fields[0] !== 'STAT') throw new ScrapeError(`unexpected stats line format ${line}`);
		settings[fields[1]] = fields.slice(2).join(' ').trim();
	}
	return settings;
}

const ITEM_COUNTERS = {
	crawler_reclaimed: 'memcached_slab_items_crawler_reclaimed_total',
	evicted: 'memcached_slab_items_evicted_total',
	evicted_nonzero: 'memcached_slab_items_evicted_nonzero_total',
	evicted_time: 'memcached_slab_items_evicted_time_seconds',
	evicted_unfetched: 'memcached_slab_items_evicted_unfetched_total',
	expired_unfetched: 'memcached_slab_items_expired_unfetched_total',
	outofmemory: 'memcached_slab_items_outofmemory_total',
	reclaimed: 'memcached_slab_items_reclaimed_total',
	tailrepairs: 'memcached_slab_items_tailrepairs_total',
	mem_requested: 'memcached_slab_mem_requested_bytes',
	moves_to_cold: 'memcached_slab_items_moves_to_cold',
	moves_to_warm: 'memcached_slab_items_moves_to_warm',
	moves_within_lru: 'memcached_slab_items_moves_within_lru',
};
const ITEM_GAUGES = {
	number_hot: 'memcached_slab_hot_items',
	number_warm: 'memcached_slab_warm_items',
	number_cold: 'memcached_slab_cold_items',
	number_temp: 'memcached_slab_temporary_items',
	age_hot: 'memcached_slab_hot_age_seconds',
	age_warm: 'memcached_slab_warm_age_seconds',
};
const GLOBAL = [
	['bytes', 'memcached_current_bytes'],
	['limit_maxbytes', 'memcached_limit_bytes'],
	['curr_items', 'memcached_current_items'],
	['total_items', 'memcached_items_total'],
	['bytes_read', 'memcached_read_bytes_total'],
	['bytes_written', 'memcached_written_bytes_total'],
	['curr_connections', 'memcached_current_connections'],
	['total_connections', 'memcached_connections_total'],
	['rejected_connections', 'memcached_connections_rejected_total'],
	['conn_yields', 'memcached_connections_yielded_total'],
	['listen_disabled_num', 'memcached_connections_listener_disabled_total'],
	['evictions', 'memcached_items_evicted_total'],
	['reclaimed', 'memcached_items_reclaimed_total'],
	['lru_crawler_starts', 'memcached_lru_crawler_starts_total'],
	['crawler_items_checked', 'memcached_lru_crawler_items_checked_total'],
	['crawler_reclaimed', 'memcached_lru_crawler_reclaimed_total'],
	['moves_to_cold', 'memcached_lru_crawler_moves_to_cold_total'],
	['moves_to_warm', 'memcached_lru_crawler_moves_to_warm_total'],
	['moves_within_lru', 'memcached_lru_crawler_moves_within_lru_total'],
	['total_malloced', 'memcached_malloced_bytes'],
	['accepting_conns', 'memcached_accepting_connections'],
];
const SLAB_GAUGES = [
	['chunk_size', 'memcached_slab_chunk_size_bytes'],
	['chunks_per_page', 'memcached_slab_chunks_per_page'],
	['total_pages', 'memcached_slab_current_pages'],
	['total_chunks', 'memcached_slab_current_chunks'],
	['used_chunks', 'memcached_slab_chunks_used'],
	['free_chunks', 'memcached_slab_chunks_free'],
	['free_chunks_end', 'memcached_slab_chunks_free_end'],
	['mem_requested', 'memcached_slab_mem_requested_bytes'],
];
const OPS = ['get', 'delete', 'incr', 'decr', 'cas', 'touch'];

// The exporter's parseStats and parseStatsSettings: metric samples, or a ScrapeError (up 0). As in
// the exporter, a later error does not undo the samples already emitted; it only marks the scrape down.
function toMetrics({ stats: s, slabs, items }, settings) {
	const samples = [];
	let error = null;
	// Each group stops at its first error, as firstError() does after evaluating every argument.
	const group = (fns) => {
		let first = null;
		for (const fn of fns) {
			try {
				fn();
			} catch (e) {
				if (!(e instanceof ScrapeError)) throw e;
				first ||= e;
			}
		}
		if (first) error = first;
	};
	const emit = (family, value, labels = {}) => {
		if (value !== undefined) samples.push({ family, labels, value });
	};
	const metric = (family, parse, stats, key, labels) => () => emit(family, parse(stats, key), labels);

	emit('memcached_version', 1, { version: s.version });
	for (const op of OPS) {
		group([
			metric('memcached_commands_total', parseFloatGo, s, `${op}_hits`, { command: op, status: 'hit' }),
			metric('memcached_commands_total', parseFloatGo, s, `${op}_misses`, { command: op, status: 'miss' }),
		]);
	}
	group([
		metric('memcached_uptime_seconds', parseFloatGo, s, 'uptime'),
		metric('memcached_time_seconds', parseFloatGo, s, 'time'),
		metric('memcached_commands_total', parseFloatGo, s, 'cas_badval', { command: 'cas', status: 'badval' }),
		metric('memcached_commands_total', parseFloatGo, s, 'cmd_flush', { command: 'flush', status: 'hit' }),
	]);
	group([() => {
		const set = required(s, 'cmd_set');
		const cas = required(s, 'cas_misses') + required(s, 'cas_hits') + required(s, 'cas_badval');
		emit('memcached_commands_total', set - cas, { command: 'set', status: 'hit' });
	}]);
	group([
		metric('memcached_process_user_cpu_seconds_total', parseTimeval, s, 'rusage_user'),
		metric('memcached_process_system_cpu_seconds_total', parseTimeval, s, 'rusage_system'),
		...GLOBAL.map(([key, family]) => metric(family, parseFloatGo, s, key)),
	]);
	for (const [id, u] of Object.entries(items)) {
		const slab = { slab: id };
		group([
			metric('memcached_slab_current_items', parseFloatGo, u, 'number', slab),
			metric('memcached_slab_items_age_seconds', parseFloatGo, u, 'age', slab),
			...['hot', 'warm', 'cold', 'temp'].map((lru) =>
				metric('memcached_slab_lru_hits_total', parseFloatGo, u, `hits_to_${lru}`, { ...slab, lru: lru === 'temp' ? 'temporary' : lru })),
		]);
		for (const [key, family] of Object.entries({ ...ITEM_COUNTERS, ...ITEM_GAUGES })) {
			if (key in u) group([metric(family, parseFloatGo, u, key, slab)]);
		}
	}
	for (const [id, v] of Object.entries(slabs)) {
		const slab = { slab: id };
		for (const op of OPS) group([metric('memcached_slab_commands_total', parseFloatGo, v, `${op}_hits`, { ...slab, command: op, status: 'hit' })]);
		group([metric('memcached_slab_commands_total', parseFloatGo, v, 'cas_badval', { ...slab, command: 'cas', status: 'badval' })]);
		group([() => {
			const set = required(v, 'cmd_set');
			const cas = required(v, 'cas_hits') + required(v, 'cas_badval');
			emit('memcached_slab_commands_total', set - cas, { ...slab, command: 'set', status: 'hit' });
		}]);
		group(SLAB_GAUGES.map(([key, family]) => metric(family, parseFloatGo, v, key, slab)));
	}
	group([metric('memcached_max_connections', parseFloatGo, settings, 'maxconns')]);
	if (settings.lru_crawler === 'yes') {
		group([
			metric('memcached_lru_crawler_enabled', parseBool, settings, 'lru_crawler'),
			metric('memcached_lru_crawler_sleep', parseFloatGo, settings, 'lru_crawler_sleep'),
			metric('memcached_lru_crawler_to_crawl', parseFloatGo, settings, 'lru_crawler_tocrawl'),
			metric('memcached_lru_crawler_maintainer_thread', parseBool, settings, 'lru_maintainer_thread'),
			metric('memcached_lru_crawler_hot_percent', parseFloatGo, settings, 'hot_lru_pct'),
			metric('memcached_lru_crawler_warm_percent', parseFloatGo, settings, 'warm_lru_pct'),
			metric('memcached_lru_crawler_hot_max_factor', parseFloatGo, settings, 'hot_max_factor'),
			metric('memcached_lru_crawler_warm_max_factor', parseFloatGo, settings, 'warm_max_factor'),
		]);
	}
	return { samples, error };
}

// One scrape: {up: 0|1, samples: [{family, labels, value}], error}.
async function scrape(port) {
	const conn = session(port);
	try {
		const raw = { stats: {}, slabs: {}, items: {} };
		for (const command of ['stats', 'stats slabs', 'stats items']) parseStatsLines(await conn.ask(command), raw);
		const settings = parseSettingsLines(await conn.ask('stats settings'));
		const { samples, error } = toMetrics(raw, settings);
		samples.push({ family: 'memcached_up', labels: {}, value: error ? 0 : 1 });
		return { up: error ? 0 : 1, samples, error };
	} catch (error) {
		if (!(error instanceof ScrapeError)) throw error;
		return { up: 0, samples: [{ family: 'memcached_up', labels: {}, value: 0 }], error };
	} finally {
		conn.close();
	}
}

// The same mixed traffic on a server: every command the exporter counts, hit and miss.
async function traffic(port) {
	await run(port, [
		'set a 0 0 1', 'x', 'set b 0 100 2', 'yy', 'set n 0 0 2', '10', 'add a 0 0 1', 'z',
		'get a', 'get a b nx', 'gets b', 'get nx',
		'delete b', 'delete nx',
		'incr n 5', 'decr n 3', 'incr nx 1', 'decr nx 1',
		'cas a 0 0 1 999999', 'Q', 'cas nx 0 0 1 1', 'Q',
		'touch a 100', 'touch nx 100', 'gat 100 a', 'gat 100 nx',
		'append a 0 0 1', '+', 'prepend nx 0 0 1', '-',
	]);
	const gets = await run(port, ['gets a']);
	const unique = /^VALUE a \d+ \d+ (\d+)\r\n/.exec(gets)[1];
	assert.strictEqual(await run(port, [`cas a 0 0 1 ${unique}`, 'C']), 'STORED\r\n');
}

module.exports = { scrape, traffic };

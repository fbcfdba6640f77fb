// metrics: an engine's figures in Prometheus's text format, under the metric names memcached_exporter
// gives memcached's, composed from the same stats pairs as "stats", plus each command's latency histogram.
'use strict';

// A family is counter when its name ends in _total and gauge otherwise: the exporter names a few
// counters without the suffix (uptime_seconds, slab_items_moves_*), and promtool's lint wants the
// suffix on every counter, so those are typed gauge here. Dashboards use them the same way.
const typeOf = (family) => (family.endsWith('_total') ? 'counter' : 'gauge');

// [stats name, family, help]: one sample each from "stats".
const GENERAL = [
	['uptime', 'memcached_uptime_seconds', 'Seconds since the server started.'],
	['time', 'memcached_time_seconds', 'The server\'s clock, in seconds since the epoch.'],
	['bytes', 'memcached_current_bytes', 'Bytes held by items now.'],
	['limit_maxbytes', 'memcached_limit_bytes', 'Bytes the items may use.'],
	['curr_items', 'memcached_current_items', 'Items stored now.'],
	['total_items', 'memcached_items_total', 'Items stored since the server started.'],
	['bytes_read', 'memcached_read_bytes_total', 'Bytes read from clients.'],
	['bytes_written', 'memcached_written_bytes_total', 'Bytes written to clients.'],
	['curr_connections', 'memcached_current_connections', 'Client connections open now.'],
	['total_connections', 'memcached_connections_total', 'Client connections accepted since the server started.'],
	['rejected_connections', 'memcached_connections_rejected_total', 'Connections refused for being over the connection limit.'],
	['conn_yields', 'memcached_connections_yielded_total', 'Times a connection stopped running its pipelined commands until its replies were read.'],
	['listen_disabled_num', 'memcached_connections_listener_disabled_total', 'Times the listener stopped accepting for being at the connection limit.'],
	['evictions', 'memcached_items_evicted_total', 'Live items removed to make room for new ones.'],
	['reclaimed', 'memcached_items_reclaimed_total', 'Stores that reused the memory of an expired item.'],
	['store_too_large', 'memcached_item_too_large_total', 'Stores refused for a value over the item size limit.'],
	['store_no_memory', 'memcached_item_no_memory_total', 'Stores refused for want of memory.'],
	['lru_crawler_starts', 'memcached_lru_crawler_starts_total', 'Passes of the expiry sweep started.'],
	['crawler_items_checked', 'memcached_lru_crawler_items_checked_total', 'Items the expiry sweep examined.'],
	['crawler_reclaimed', 'memcached_lru_crawler_reclaimed_total', 'Expired items the expiry sweep freed.'],
	['moves_to_cold', 'memcached_lru_crawler_moves_to_cold_total', 'Items moved to a cold LRU segment (none here: one clock per class).'],
	['moves_to_warm', 'memcached_lru_crawler_moves_to_warm_total', 'Items moved to a warm LRU segment (none here: one clock per class).'],
	['moves_within_lru', 'memcached_lru_crawler_moves_within_lru_total', 'Items bumped within an LRU segment.'],
	['direct_reclaims', 'memcached_direct_reclaims_total', 'Times a store had to evict or reclaim an item itself.'],
	['total_malloced', 'memcached_malloced_bytes', 'Bytes of memory given to slab pages.'],
	['accepting_conns', 'memcached_accepting_connections', 'Whether the listener accepts connections (1) or not (0).'],
	// With a restart file (names of our own):
	['restart_loaded_items', 'memcached_restart_loaded_items', 'Items the restart file gave back at start.'],
	['restart_expired_items', 'memcached_restart_expired_items', 'Items of the restart file that expired while the server was down.'],
	['restart_dropped_items', 'memcached_restart_dropped_items', 'Items of the restart file left out for want of memory or room.'],
	['snapshot_saves', 'memcached_snapshot_saves_total', 'Saves of the cache to the restart file.'],
	['snapshot_failures', 'memcached_snapshot_failures_total', 'Saves to the restart file that failed.'],
	['snapshot_last_bytes', 'memcached_snapshot_last_bytes', 'Bytes of the last save.'],
	['snapshot_last_seconds', 'memcached_snapshot_last_duration_seconds', 'How long the last save took.'],
	['snapshot_age', 'memcached_snapshot_age_seconds', 'Seconds since the last save (-1: none yet).'],
];

// [settings name, family, help, parse]: from "stats settings", when its lru_crawler is on (as the
// exporter reads them); maxconns always.
const yes = (v) => (v === 'yes' ? 1 : 0);
const CRAWLER_SETTINGS = [
	['lru_crawler', 'memcached_lru_crawler_enabled', 'Whether the expiry sweep runs.', yes],
	['lru_crawler_sleep', 'memcached_lru_crawler_sleep', 'The crawler sleep setting, in microseconds.'],
	['lru_crawler_tocrawl', 'memcached_lru_crawler_to_crawl', 'The crawler items-per-pass setting (0: all).'],
	['lru_maintainer_thread', 'memcached_lru_crawler_maintainer_thread', 'Whether a background thread keeps the LRUs.', yes],
	['hot_lru_pct', 'memcached_lru_crawler_hot_percent', 'Share of a class for its hot LRU segment, in percent.'],
	['warm_lru_pct', 'memcached_lru_crawler_warm_percent', 'Share of a class for its warm LRU segment, in percent.'],
	['hot_max_factor', 'memcached_lru_crawler_hot_max_factor', 'Hot segment age limit, as a factor of the cold age.'],
	['warm_max_factor', 'memcached_lru_crawler_warm_max_factor', 'Warm segment age limit, as a factor of the cold age.'],
];

// [name, family, help]: per class from "stats items" ("items:<class>:<name>").
const ITEMS = [
	['number', 'memcached_slab_current_items', 'Items stored now in the class.'],
	['age', 'memcached_slab_items_age_seconds', 'Seconds since the class\'s least recently used item was used.'],
	['crawler_reclaimed', 'memcached_slab_items_crawler_reclaimed_total', 'Expired items of the class freed by the sweep.'],
	['evicted', 'memcached_slab_items_evicted_total', 'Live items of the class evicted.'],
	['evicted_nonzero', 'memcached_slab_items_evicted_nonzero_total', 'Items with an expiry time evicted before it came.'],
	['evicted_time', 'memcached_slab_items_evicted_time_seconds', 'Seconds since the last access of the item last evicted.'],
	['evicted_unfetched', 'memcached_slab_items_evicted_unfetched_total', 'Items evicted without ever having been read.'],
	['expired_unfetched', 'memcached_slab_items_expired_unfetched_total', 'Items that expired without ever having been read.'],
	['outofmemory', 'memcached_slab_items_outofmemory_total', 'Stores in the class that found no memory.'],
	['reclaimed', 'memcached_slab_items_reclaimed_total', 'Stores in the class that reused an expired item\'s memory.'],
	['tailrepairs', 'memcached_slab_items_tailrepairs_total', 'Items freed because a reference to them leaked (never here).'],
	['moves_to_cold', 'memcached_slab_items_moves_to_cold', 'Items of the class moved to a cold LRU segment.'],
	['moves_to_warm', 'memcached_slab_items_moves_to_warm', 'Items of the class moved to a warm LRU segment.'],
	['moves_within_lru', 'memcached_slab_items_moves_within_lru', 'Items of the class bumped within an LRU segment.'],
	['number_hot', 'memcached_slab_hot_items', 'Items of the class in a hot LRU segment.'],
	['number_warm', 'memcached_slab_warm_items', 'Items of the class in a warm LRU segment.'],
	['number_cold', 'memcached_slab_cold_items', 'Items of the class in a cold LRU segment.'],
	['number_temp', 'memcached_slab_temporary_items', 'Items of the class in a temporary LRU segment.'],
	['age_hot', 'memcached_slab_hot_age_seconds', 'Age of the oldest item in the class\'s hot segment.'],
	['age_warm', 'memcached_slab_warm_age_seconds', 'Age of the oldest item in the class\'s warm segment.'],
	['mem_requested', 'memcached_slab_mem_requested_bytes', 'Bytes the class\'s items need, without the rounding to chunks.'],
];

// [name, family, help]: per class from "stats slabs" ("<class>:<name>"); memcached 1.6 moved
// mem_requested from there to "stats items".
const SLABS = [
	['chunk_size', 'memcached_slab_chunk_size_bytes', 'Bytes of each chunk of the class.'],
	['chunks_per_page', 'memcached_slab_chunks_per_page', 'Chunks in each page of the class.'],
	['total_pages', 'memcached_slab_current_pages', 'Pages the class holds.'],
	['total_chunks', 'memcached_slab_current_chunks', 'Chunks the class holds.'],
	['used_chunks', 'memcached_slab_chunks_used', 'Chunks of the class holding an item.'],
	['free_chunks', 'memcached_slab_chunks_free', 'Chunks of the class free for reuse.'],
	['free_chunks_end', 'memcached_slab_chunks_free_end', 'Chunks at the end of the class\'s newest page never used.'],
];

const OPS = ['get', 'delete', 'incr', 'decr', 'cas', 'touch'];

// Text format escaping of a label value.
const escape = (v) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels) {
	const pairs = Object.entries(labels);
	return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

// Go's float formatting is what scrapers expect for the infinities; a number prints as JavaScript does.
const valueText = (v) => (v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Number.isNaN(v) ? 'NaN' : String(v));

// Builds the exposition: family() opens a family with its HELP and TYPE, sample() adds to it.
class Exposition {
	constructor() {
		this.lines = [];
	}

	family(name, help, type = typeOf(name)) {
		this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
	}

	sample(name, value, labels = {}) {
		if (typeof value === 'number') this.lines.push(`${name}${labelText(labels)} ${valueText(value)}`);
	}

	text() {
		return `${this.lines.join('\n')}\n`;
	}
}

// {class: {name: value}} from a group whose names are "<prefix><class>:<name>".
function byClass(pairs, prefix) {
	const classes = {};
	for (const [key, value] of Object.entries(pairs)) {
		const match = /^(\d+):(\w+)$/.exec(key.startsWith(prefix) ? key.slice(prefix.length) : '');
		if (match) (classes[match[1]] ||= {})[match[2]] = value;
	}
	return classes;
}

function general(x, s, settings) {
	x.family('memcached_up', 'Whether the server answered (always 1 when served by the server itself).');
	x.sample('memcached_up', 1);
	x.family('memcached_version', 'The memcached version whose behaviour the server matches, as a label.');
	x.sample('memcached_version', 1, { version: s.version });
	x.family('memcached_commands_total', 'Commands run, by command and outcome.');
	for (const op of OPS) {
		x.sample('memcached_commands_total', s[`${op}_hits`], { command: op, status: 'hit' });
		x.sample('memcached_commands_total', s[`${op}_misses`], { command: op, status: 'miss' });
	}
	x.sample('memcached_commands_total', s.cas_badval, { command: 'cas', status: 'badval' });
	x.sample('memcached_commands_total', s.cmd_flush, { command: 'flush', status: 'hit' });
	// cmd_set counts cas too, as memcached's does: the exporter takes the cas outcomes back out.
	x.sample('memcached_commands_total', s.cmd_set - s.cas_misses - s.cas_hits - s.cas_badval, { command: 'set', status: 'hit' });
	x.family('memcached_process_user_cpu_seconds_total', 'CPU seconds the process spent in user mode.');
	x.sample('memcached_process_user_cpu_seconds_total', s.rusage_user);
	x.family('memcached_process_system_cpu_seconds_total', 'CPU seconds the process spent in the kernel.');
	x.sample('memcached_process_system_cpu_seconds_total', s.rusage_system);
	for (const [name, family, help] of GENERAL) {
		if (s[name] === undefined) continue;
		x.family(family, help);
		x.sample(family, s[name]);
	}
	x.family('memcached_max_connections', 'Connections the server allows at once.');
	x.sample('memcached_max_connections', settings.maxconns);
	if (settings.lru_crawler !== 'yes') return;
	for (const [name, family, help, parse] of CRAWLER_SETTINGS) {
		x.family(family, help);
		x.sample(family, parse ? parse(settings[name]) : settings[name]);
	}
}

function perClass(x, items, slabs) {
	const ids = (table) => Object.keys(table).sort((a, b) => a - b);
	for (const [name, family, help] of ITEMS) {
		x.family(family, help);
		for (const id of ids(items)) x.sample(family, items[id][name], { slab: id });
	}
	x.family('memcached_slab_lru_hits_total', 'Reads of items in the class, by the LRU segment they were in.');
	for (const id of ids(items)) {
		for (const lru of ['hot', 'warm', 'cold', 'temp']) {
			x.sample('memcached_slab_lru_hits_total', items[id][`hits_to_${lru}`], { slab: id, lru: lru === 'temp' ? 'temporary' : lru });
		}
	}
	x.family('memcached_slab_commands_total', 'Commands run on items of the class, by command and outcome.');
	for (const id of ids(slabs)) {
		const v = slabs[id];
		for (const op of OPS) x.sample('memcached_slab_commands_total', v[`${op}_hits`], { slab: id, command: op, status: 'hit' });
		x.sample('memcached_slab_commands_total', v.cas_badval, { slab: id, command: 'cas', status: 'badval' });
		x.sample('memcached_slab_commands_total', v.cmd_set - v.cas_hits - v.cas_badval, { slab: id, command: 'set', status: 'hit' });
	}
	for (const [name, family, help] of SLABS) {
		x.family(family, help);
		for (const id of ids(slabs)) x.sample(family, slabs[id][name], { slab: id });
	}
}

// The latency histograms: cumulative buckets, as the format wants, from per-bucket counts.
function latency(x, { bounds, commands }) {
	const family = 'memcached_command_duration_seconds';
	x.family(family, 'Time the server spent running each command, from its parse to its reply queued.', 'histogram');
	for (const [command, { counts, sum }] of Object.entries(commands)) {
		let cumulative = 0;
		counts.forEach((n, b) => {
			cumulative += n;
			x.sample(`${family}_bucket`, cumulative, { command, le: b < bounds.length ? bounds[b] : '+Inf' });
		});
		x.sample(`${family}_sum`, sum, { command });
		x.sample(`${family}_count`, cumulative, { command });
	}
}

// The whole exposition of a native engine: {stats(group), latency()}.
function compose(native) {
	const x = new Exposition();
	const settings = native.stats('settings');
	const slabs = native.stats('slabs');
	// As the exporter reads them, "stats slabs" totals (total_malloced) join the general figures.
	const totals = Object.fromEntries(Object.entries(slabs).filter(([name]) => !name.includes(':')));
	general(x, { ...totals, ...native.stats('') }, settings);
	perClass(x, byClass(native.stats('items'), 'items:'), byClass(slabs, ''));
	latency(x, native.latency());
	return x.text();
}

module.exports = { compose, CONTENT_TYPE: 'text/plain; version=0.0.4; charset=utf-8' };

// sources: the C files that standalone builds (the C engine test, fuzz targets, valgrind) compile,
// listed once so that a new engine file cannot be left out of one build. `node test/c/sources.js engine`.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');
const CSRC = path.join(ROOT, 'csrc');
// The libuv transport: the addon links it, and the transport test the conn files, conn_ring.c and group.c (with
// the system libuv); everything else in csrc/ is the engine.
const TRANSPORT_TESTED = ['conn.c', 'conn_read.c', 'conn_write.c', 'conn_ring.c', 'group.c'];
const TRANSPORT = new Set([...TRANSPORT_TESTED, 'net.c']);

// What the store alone needs (the store's differential fuzzer).
const STORE = ['buf.c', 'slab.c', 'table.c', 'store.c', 'store_upkeep.c', 'mcnum.c'];

const engine = fs.readdirSync(CSRC).filter((f) => f.endsWith('.c') && !TRANSPORT.has(f)).sort();

const lists = {
	engine: engine.map((f) => path.join(CSRC, f)),
	store: STORE.map((f) => path.join(CSRC, f)),
	transport: TRANSPORT_TESTED.map((f) => path.join(CSRC, f)),
};

if (require.main === module) {
	const list = lists[process.argv[2]];
	if (!list) {
		console.error('usage: node test/c/sources.js engine|store|transport');
		process.exit(2);
	}
	console.log(list.map((f) => path.relative(ROOT, f)).join(' '));
}

module.exports = lists;

// The C engine on its own (`npm run test:c`): engine_test.c (store against a reference model, eviction, every
// split point of a session) built with the system compiler, under ASan and UBSan when they link.
'use strict';

const path = require('path');
const { runCTest } = require('./c-test');
const SOURCES = require('./sources').engine;

describe('C engine, without Node', function () {
	this.timeout(120000);

	it('passes engine_test, under AddressSanitizer and UBSan where the compiler has them', () => {
		runCTest('engine_test', [path.join(__dirname, 'engine_test.c'), path.join(__dirname, 'store_diff.c'), ...SOURCES], []);
	});

	it('passes upkeep_test: an idle shard finishes doubling from ticks, the sweep covers a doubling table, requests write no clock', () => {
		runCTest('upkeep_test', [path.join(__dirname, 'upkeep_test.c'), ...SOURCES], []);
	});

	it('passes getline_test: long get lines fed in pieces, an item named 70,000 times, a bad key, a NUL', () => {
		runCTest('getline_test', [path.join(__dirname, 'getline_test.c'), ...SOURCES], []);
	});

	it('passes snapshot_test: the restart file round trip, damaged copies and a smaller store', () => {
		runCTest('snapshot_test', [path.join(__dirname, 'snapshot_test.c'), ...SOURCES], []);
	});
});

// Values read straight into their item (`npm run test:c`): value_test.c — reserve/commit/abandon
// accounting, and sessions fed storage commands cut at every byte — under ASan and UBSan where they link.
'use strict';

const path = require('path');
const { runCTest } = require('./c-test');
const SOURCES = require('./sources').engine;

describe('C values read into their item, without Node', function () {
	this.timeout(120000);

	it('passes value_test: reservations leave no trace, and a value may arrive in any pieces', () => {
		runCTest('value_test', [path.join(__dirname, 'value_test.c'), ...SOURCES], []);
	});
});

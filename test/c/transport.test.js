// The C transport on its own (`npm run test:c`): transport_test.c drives conn with a fake owner (close,
// linger, backpressure) and group with a fake owner (unthreaded and threaded), linked with the system libuv.
'use strict';

const path = require('path');
const { runCTest } = require('./c-test');
const { needs } = require('../helpers/references');
const sources = require('./sources');

describe('C transport (conn, group), without Node', function () {
	this.timeout(120000);
	before(needs('libuv'));

	it('passes transport_test, under AddressSanitizer and UBSan where the compiler has them', () => {
		runCTest('transport_test', [path.join(__dirname, 'transport_test.c'), ...sources.engine, ...sources.transport], ['-luv']);
	});
});

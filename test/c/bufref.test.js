// Output buffers that send values from their items (`npm run test:c`): bufref_test.c checks the stream they
// flatten to, partial writes at every offset, release when sent and when dropped, and every protocol's replies.
'use strict';

const path = require('path');
const { runCTest } = require('./c-test');
const SOURCES = require('./sources').engine;

describe('C output references, without Node', function () {
	this.timeout(120000);

	it('passes bufref_test, under AddressSanitizer and UBSan where the compiler has them', () => {
		runCTest('bufref_test', [path.join(__dirname, 'bufref_test.c'), ...SOURCES], []);
	});
});

// The io_uring wrapper (`npm run test:c`): ring_test.c drives csrc/ring.c on a socket pair — sends,
// receives into two buffers, a poll, waiting in the ring, a cancel, a queue fuller than its size.
'use strict';

const path = require('path');
const { runCTest } = require('./c-test');

const CSRC = path.join(__dirname, '..', '..', 'csrc');

describe('C io_uring ring, without Node', function () {
	this.timeout(120000);

	it('passes ring_test, under AddressSanitizer and UBSan where the compiler has them', function () {
		const unavailable = runCTest('ring_test', [path.join(__dirname, 'ring_test.c'), path.join(CSRC, 'ring.c')], []);
		if (unavailable === null) return;
		// The server falls back to libuv's writes there; CI's machines have io_uring, so it must run.
		if (process.env.CI === 'true') throw new Error(`CI=true and ${unavailable}`);
		console.warn(`    pending: ${unavailable} (a kernel with io_uring, and sysctl kernel.io_uring_disabled=0)`);
		this.skip();
	});
});

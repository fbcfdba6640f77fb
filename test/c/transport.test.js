// The C transport on its own (`npm run test:c`): transport_test.c drives conn with a fake owner (close,
// linger, backpressure) and group with a fake owner (unthreaded and threaded), linked with the system libuv.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { needs } = require('../helpers/references');

const ROOT = path.join(__dirname, '..', '..');
const SOURCES = [...require('./sources').engine, ...require('./sources').transport];
const SANITIZERS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];

function build(output, extraFlags) {
	const args = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-g', ...extraFlags,
		'-I', path.join(ROOT, 'csrc'), '-o', output, path.join(__dirname, 'transport_test.c'), ...SOURCES, '-luv', '-lpthread'];
	return spawnSync('cc', args, { encoding: 'utf8' });
}

describe('C transport (conn, group), without Node', function () {
	this.timeout(120000);
	before(needs('libuv'));

	it('passes transport_test, under AddressSanitizer and UBSan where the compiler has them', () => {
		const binary = path.join(os.tmpdir(), `simplecached-transport-test-${process.pid}`);
		let built = build(binary, SANITIZERS);
		const sanitized = built.status === 0;
		if (!sanitized) built = build(binary, []);
		assert.strictEqual(built.status, 0, built.stderr);
		try {
			const output = execFileSync(binary, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
			assert.match(output, /transport_test: all checks passed/);
		} finally {
			fs.rmSync(binary, { force: true });
		}
		if (!sanitized) console.warn('    (built without sanitizers: the compiler could not link them)');
	});
});

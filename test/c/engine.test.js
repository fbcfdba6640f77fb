// The C engine on its own (`npm run test:c`): engine_test.c (store against a reference model, eviction, every
// split point of a session) built with the system compiler, under ASan and UBSan when they link.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const SOURCES = require('./sources').engine;
const SANITIZERS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];

function build(output, extraFlags) {
	const args = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-g', ...extraFlags,
		'-I', path.join(ROOT, 'csrc'), '-o', output, path.join(__dirname, 'engine_test.c'),
		path.join(__dirname, 'store_diff.c'), ...SOURCES, '-lpthread'];
	return spawnSync('cc', args, { encoding: 'utf8' });
}

describe('C engine, without Node', function () {
	this.timeout(120000);

	it('passes engine_test, under AddressSanitizer and UBSan where the compiler has them', () => {
		const binary = path.join(os.tmpdir(), `simplecached-engine-test-${process.pid}`);
		let built = build(binary, SANITIZERS);
		const sanitized = built.status === 0;
		if (!sanitized) built = build(binary, []);
		assert.strictEqual(built.status, 0, built.stderr);
		try {
			const output = execFileSync(binary, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
			assert.match(output, /engine_test: all checks passed/);
		} finally {
			fs.rmSync(binary, { force: true });
		}
		// The sanitizers are part of the point: say so when they could not be used.
		if (!sanitized) console.warn('    (built without sanitizers: the compiler could not link them)');
	});
});

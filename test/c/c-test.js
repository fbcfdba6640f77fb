// c-test: builds one of test/c's C programs with the system compiler, under ASan and UBSan when they
// link (else plain, saying so), runs it, and checks it printed "<name>: all checks passed".
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const SANITIZERS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];

// files: the test's own C files (in test/c) and the csrc/ sources it links; libs: e.g. ['-luv'].
function runCTest(name, files, libs) {
	const binary = path.join(os.tmpdir(), `simplecached-${name}-${process.pid}`);
	const build = (extraFlags) => spawnSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-g',
		...extraFlags, '-I', path.join(ROOT, 'csrc'), '-o', binary, ...files, ...libs, '-lpthread'], { encoding: 'utf8' });
	let built = build(SANITIZERS);
	const sanitized = built.status === 0;
	if (!sanitized) built = build([]);
	assert.strictEqual(built.status, 0, built.stderr);
	try {
		const output = execFileSync(binary, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
		assert.match(output, new RegExp(`${name}: all checks passed`));
	} finally {
		fs.rmSync(binary, { force: true });
	}
	// The sanitizers are part of the point: say so when they could not be used.
	if (!sanitized) console.warn('    (built without sanitizers: the compiler could not link them)');
}

module.exports = { runCTest };

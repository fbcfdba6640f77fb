// c-test: builds one of test/c's C programs with the system compiler, under ASan and UBSan when they
// link (else plain, saying so), runs it, and checks it printed "<name>: all checks passed".
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const SANITIZERS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];

// A program exits with this when what it tests is missing on this machine (it prints why).
const UNAVAILABLE = 77;

// files: the test's own C files (in test/c) and the csrc/ sources it links; libs: e.g. ['-luv'].
// Returns null, or the program's reason when it exited UNAVAILABLE.
function runCTest(name, files, libs) {
	const binary = path.join(os.tmpdir(), `simplecached-${name}-${process.pid}`);
	const build = (extraFlags) => spawnSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-g',
		...extraFlags, '-I', path.join(ROOT, 'csrc'), '-o', binary, ...files, ...libs, '-lpthread'], { encoding: 'utf8' });
	let built = build(SANITIZERS);
	const sanitized = built.status === 0;
	if (!sanitized) built = build([]);
	assert.strictEqual(built.status, 0, built.stderr);
	let run;
	try {
		run = spawnSync(binary, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
	} finally {
		fs.rmSync(binary, { force: true });
	}
	if (run.status === UNAVAILABLE) return run.stdout.trim();
	assert.strictEqual(run.status, 0, `${name} exited ${run.status}:\n${run.stdout}${run.stderr}`);
	assert.match(run.stdout, new RegExp(`${name}: all checks passed`));
	// The sanitizers are part of the point: say so when they could not be used.
	if (!sanitized) console.warn('    (built without sanitizers: the compiler could not link them)');
	return null;
}

module.exports = { runCTest };

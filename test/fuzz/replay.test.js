// The fuzz targets' seed corpora and every input that once made a target fail (`npm run test:c`),
// replayed by the targets themselves without libFuzzer, under ASan and UBSan where the compiler has them.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const FUZZ = __dirname;
const C_TESTS = path.join(ROOT, 'test', 'c');
const sources = require('../c/sources');
const ENGINE = [...sources.engine, path.join(FUZZ, 'fake_clock.c'), '-Wl,--wrap=time', '-Wl,--wrap=store_random_seed', '-Wl,--wrap=getrusage', '-lpthread'];
const TARGETS = {
	simple: ['-DFUZZ_PROTOCOL=PROTOCOL_SIMPLE', path.join(FUZZ, 'fuzz_protocol.c'), ...ENGINE],
	text: ['-DFUZZ_PROTOCOL=PROTOCOL_MEMCACHED', path.join(FUZZ, 'fuzz_protocol.c'), ...ENGINE],
	binary: [path.join(FUZZ, 'fuzz_binary.c'), ...ENGINE],
	store: [path.join(FUZZ, 'fuzz_store.c'), path.join(C_TESTS, 'store_diff.c'), ...sources.store],
	snapshot: [path.join(FUZZ, 'fuzz_snapshot.c'), ...ENGINE],
};
const SANITIZERS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];

function build(output, sources, extraFlags) {
	const args = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-g', ...extraFlags,
		'-I', path.join(ROOT, 'csrc'), '-I', C_TESTS, '-I', FUZZ,
		'-o', output, path.join(FUZZ, 'replay_main.c'), ...sources];
	return spawnSync('cc', args, { encoding: 'utf8' });
}

// Seeds, then regressions: each file a target once failed on, named after what it found.
function inputsOf(target) {
	return ['corpus', 'regressions'].flatMap((kind) => {
		const dir = path.join(FUZZ, kind, target);
		return fs.existsSync(dir) ? fs.readdirSync(dir).sort().map((name) => path.join(dir, name)) : [];
	});
}

describe('fuzz targets replay their corpora and past failures', function () {
	this.timeout(180000);

	for (const [target, sources] of Object.entries(TARGETS)) {
		it(`fuzz_${target}: every seed and regression input passes`, () => {
			const inputs = inputsOf(target);
			assert.ok(inputs.length > 0, `no inputs for fuzz_${target}`);
			const binary = path.join(os.tmpdir(), `simplecached-fuzz-${target}-${process.pid}`);
			let built = build(binary, sources, SANITIZERS);
			const sanitized = built.status === 0;
			if (!sanitized) built = build(binary, sources, []);
			assert.strictEqual(built.status, 0, built.stderr);
			try {
				const run = spawnSync(binary, inputs, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
				assert.strictEqual(run.status, 0, `fuzz_${target} failed:\n${run.stderr}`);
				assert.match(run.stdout, new RegExp(`replayed ${inputs.length} inputs`));
			} finally {
				fs.rmSync(binary, { force: true });
			}
			if (!sanitized) console.warn('    (built without sanitizers: the compiler could not link them)');
		});
	}
});

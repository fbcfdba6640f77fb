// Reference tools that some tests compare against (memcached, nutcracker, Python clients...): each
// is looked for once; missing, its tests are pending with the reason, or fail under CI=true.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

// Debian's Python, where the python3-* packages install (a pyenv or venv python3 on PATH would
// not see them).
const PYTHON = '/usr/bin/python3';

// name → the Debian package that brings it, and a command that exits 0 when it is usable.
const REFERENCES = {
	memcached: { pkg: 'memcached', probe: ['memcached', ['-V']] },
	nutcracker: { pkg: 'nutcracker', probe: ['nutcracker', ['-V']] },
	memccapable: { pkg: 'libmemcached-tools', probe: ['memccapable', ['--help']] },
	memcdump: { pkg: 'libmemcached-tools', probe: ['memcdump', ['--help']] },
	memcstat: { pkg: 'libmemcached-tools', probe: ['memcstat', ['--help']] },
	// Cyrus SASL's saslpasswd2, to give a real memcached -S its users (a sasldb).
	saslpasswd2: { pkg: 'sasl2-bin', probe: ['test', ['-x', '/usr/sbin/saslpasswd2']] },
	// Debian's memcached ships memcached-tool, a Perl script.
	'memcached-tool': { pkg: 'memcached', probe: ['perl', ['-c', '/usr/share/memcached/scripts/memcached-tool']] },
	openssl: { pkg: 'openssl', probe: ['openssl', ['version']] },
	python3: { pkg: 'python3', probe: [PYTHON, ['-c', '']] },
	pymemcache: { pkg: 'python3-pymemcache', probe: [PYTHON, ['-c', 'import pymemcache']] },
	pylibmc: { pkg: 'python3-pylibmc', probe: [PYTHON, ['-c', 'import pylibmc']] },
	pytest: { pkg: 'python3-pytest', probe: [PYTHON, ['-m', 'pytest', '--version']] },
	// Prometheus's promtool, to check the /metrics exposition.
	promtool: { pkg: 'prometheus', probe: ['promtool', ['--version']] },
	// libuv's headers and library, for the C test of the transport (the addon uses Node's own libuv).
	libuv: { pkg: 'libuv1-dev', probe: ['test', ['-e', '/usr/include/uv.h']] },
};

// Every package a full run needs: the line the README and the end-of-run summary print.
const INSTALL_ALL = `sudo apt-get install -y ${[...new Set(Object.values(REFERENCES).map((r) => r.pkg))].join(' ')}`;

// CI (or a developer who wants everything) turns a missing reference into a failure.
const STRICT = !['', '0', 'false'].includes(process.env.CI || '') || process.env.SIMPLECACHED_REQUIRE_REFERENCES === '1';

const found = new Map();   // name → boolean, probed on first need

// Skipped tests are written, one JSON line each, to a file of the whole run, so that with mocha's
// parallel workers the process that started the run (the first to load this file) can sum them.
const RUN_ENV = 'SIMPLECACHED_TEST_SKIPS';
const startsRun = !process.env[RUN_ENV];
if (startsRun) process.env[RUN_ENV] = path.join(os.tmpdir(), `simplecached-skips-${process.pid}.jsonl`);
const SKIPS_FILE = process.env[RUN_ENV];

function available(name) {
	const reference = REFERENCES[name];
	if (!reference) throw new Error(`unknown reference tool "${name}" (test/helpers/references.js)`);
	if (!found.has(name)) {
		const [command, args] = reference.probe;
		const probe = spawnSync(command, args, { stdio: 'ignore', timeout: 10000 });
		found.set(name, !probe.error && probe.status === 0);
	}
	return found.get(name);
}

function installLine(names) {
	return `sudo apt-get install -y ${[...new Set(names.map((n) => REFERENCES[n].pkg))].join(' ')}`;
}

// A mocha hook or test body: `before(needs('memcached'))` for a whole describe, or
// `needs('openssl').call(this)` at the top of one test. Missing tools make the suite (or test)
// pending and say why; in STRICT mode they make it fail instead.
function needs(...names) {
	return function () {
		const missing = names.filter((name) => !available(name));
		if (missing.length === 0) return;
		const runnable = this.test;
		const count = runnable.type === 'hook' ? runnable.parent.total() : 1;
		fs.appendFileSync(SKIPS_FILE, `${JSON.stringify({ count, missing })}\n`);
		const why = `needs ${missing.join(', ')}, not found; install: ${installLine(missing)}`;
		if (STRICT) throw new Error(`${why} (CI=true or SIMPLECACHED_REQUIRE_REFERENCES=1: references are required)`);
		console.log(`    pending (${count} test${count === 1 ? '' : 's'}): ${why}`);
		this.skip();
	};
}

// One line after mocha's own summary when anything was skipped (or failed) for a missing tool. The
// install command names every missing reference, not only the first one each suite tripped on.
process.on('exit', () => {
	if (!startsRun || !fs.existsSync(SKIPS_FILE)) return;
	const skipped = fs.readFileSync(SKIPS_FILE, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
	fs.rmSync(SKIPS_FILE, { force: true });
	const count = skipped.reduce((sum, s) => sum + s.count, 0);
	const tripped = [...new Set(skipped.flatMap((s) => s.missing))];
	const missing = Object.keys(REFERENCES).filter((name) => !available(name));
	const verb = STRICT ? 'failed' : 'pending';
	console.log(`\n  references: ${count} test${count === 1 ? '' : 's'} ${verb} without ${tripped.join(', ')}; install what is missing with: ${installLine(missing)}\n`);
});

module.exports = { needs, available, INSTALL_ALL, STRICT, PYTHON };

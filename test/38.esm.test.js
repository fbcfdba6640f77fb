// ESM: `import { Server, Client, SimplecachedError } from 'simplecached'` works at run time, with the
// same names as require('simplecached'); the package is resolved by name, from a child process.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');

const ROOT = path.join(__dirname, '..');

function runNode(file, cwd) {
	return new Promise((resolve) => {
		execFile(process.execPath, [file], { cwd, timeout: 30000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
	});
}

describe('ESM: named imports from the package', function () {
	this.timeout(60000);
	let dir;
	before(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-esm-'));
		fs.mkdirSync(path.join(dir, 'node_modules'));
		fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'simplecached'), 'dir');
		fs.copyFileSync(path.join(__dirname, 'fixtures', 'esm-import.mjs'), path.join(dir, 'esm-import.mjs'));
		fs.writeFileSync(path.join(dir, 'require.cjs'), "console.log(JSON.stringify(Object.keys(require('simplecached')).sort()));\n");
	});
	after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

	it('imports every name require() gives, and they work', async () => {
		const esm = await runNode('esm-import.mjs', dir);
		assert.ifError(esm.err && new Error(`${esm.err.message}\n${esm.stderr}`));
		const cjs = await runNode('require.cjs', dir);
		assert.ifError(cjs.err && new Error(`${cjs.err.message}\n${cjs.stderr}`));
		const required = JSON.parse(cjs.stdout);
		const imported = JSON.parse(esm.stdout);
		assert.ok(['Server', 'Client', 'SimplecachedError'].every((name) => required.includes(name)), cjs.stdout);
		assert.deepStrictEqual(imported.named, required);
		assert.deepStrictEqual(imported, { named: required, value: 'works', sameAsDefault: true, errorClass: 'ENOTSUP' });
	});
});

// The README's usage example runs as written: same code, only the package path and the two
// ports replaced (by free ones), in a child process that must print the promised lines and exit.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');
const { freePort } = require('./helpers/memcached');

describe('README', () => {
	it('runs the usage example and prints what its comments say', async () => {
		const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
		const example = /```js\n([\s\S]*?)```/.exec(readme)[1];
		const [seedPort, memcachedPort] = [await freePort(), await freePort()];
		const code = example
			.replace("require('simplecached')", `require(${JSON.stringify(path.join(__dirname, '..'))})`)
			.replaceAll('11311', String(seedPort))
			.replaceAll('11211', String(memcachedPort));
		const file = path.join(os.tmpdir(), `simplecached-readme-${process.pid}.js`);
		fs.writeFileSync(file, code);
		try {
			const stdout = await new Promise((resolve, reject) => {
				execFile(process.execPath, [file], { timeout: 10000 }, (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)));
			});
			assert.deepStrictEqual(stdout.trim().split('\n'), [
				'hello world', '15', "{ greeting: 'hello world', counter: '15' }", 'no network involved',
			]);
		} finally {
			fs.unlinkSync(file);
		}
	});
});

// The README's examples run as written: same code, only the package path and the ports replaced
// (by free ones), in a child process that must print the promised lines and exit. The nutcracker
// example runs against a real nutcracker started with the README's own nutcracker.yml.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');
const { freePort } = require('./helpers/memcached');
const { runNutcracker, startBackend } = require('./helpers/nutcracker');
const { needs } = require('./helpers/references');

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

// The fenced blocks of one language, in order.
function blocks(language) {
	return [...README.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);
}

// The one block of `language` that contains `marker`.
function blockWith(language, marker) {
	const found = blocks(language).filter((b) => b.includes(marker));
	assert.strictEqual(found.length, 1, `README: ${found.length} ${language} blocks contain ${marker}`);
	return found[0];
}

function withPorts(text, ports) {
	let out = text;
	for (const [from, to] of Object.entries(ports)) out = out.replaceAll(from, String(to));
	return out;
}

// Runs an example with the package path and `ports` replaced; resolves with its stdout lines.
async function runExample(code, ports) {
	const source = withPorts(code, ports).replace("require('simplecached')", `require(${JSON.stringify(path.join(__dirname, '..'))})`);
	const file = path.join(os.tmpdir(), `simplecached-readme-${process.pid}-${Date.now()}.js`);
	fs.writeFileSync(file, source);
	try {
		const stdout = await new Promise((resolve, reject) => {
			execFile(process.execPath, [file], { timeout: 15000 }, (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)));
		});
		return stdout.trim().split('\n');
	} finally {
		fs.unlinkSync(file);
	}
}

async function freePorts(names) {
	const ports = {};
	for (const name of names) ports[name] = await freePort();
	return ports;
}

describe('README', function () {
	this.timeout(30000);

	it('runs the usage example and prints what its comments say', async () => {
		const example = blocks('js')[0];
		const lines = await runExample(example, await freePorts(['11311', '11211']));
		assert.deepStrictEqual(lines, [
			'hello world', '15', "{ greeting: 'hello world', counter: '15' }", 'no network involved',
		]);
	});

	it('runs the client-side hashing example: keys spread, a server lost, its keys moved', async () => {
		const example = blockWith('js', "servers: ['127.0.0.1:11211', '127.0.0.1:11212:2'");
		const ports = await freePorts(['11211', '11212', '11213']);
		const lines = await runExample(example, ports);
		assert.deepStrictEqual(lines, ['value of key:7', '1000', `127.0.0.1:${ports[11212]}`, 'true', 'null', 'true']);
	});

	it('runs the nutcracker example with the README\'s nutcracker.yml, in front of three servers', async function () {
		needs('nutcracker').call(this);
		const backends = [await startBackend(), await startBackend(), await startBackend()];
		const ports = { 22121: await freePort() };
		backends.forEach((b, i) => { ports[String(11211 + i)] = b.address('memcached').port; });
		const nutcracker = await runNutcracker(withPorts(blocks('yaml')[0], ports), ports[22121]);
		try {
			const example = blockWith('js', 'new Client({ port: 22121');
			const lines = await runExample(example, ports);
			assert.deepStrictEqual(lines, [
				'set through nutcracker', 'set by the Client', "{ 'user:42': 'set through nutcracker', 'user:43': 'set by the Client' }",
			]);
			// Each key is on exactly one server.
			for (const key of ['user:42', 'user:43']) assert.strictEqual(backends.filter((b) => b.engine.get(key) !== null).length, 1);
		} finally {
			await nutcracker.stop();
			await Promise.all(backends.map((b) => b.close()));
		}
	});
});

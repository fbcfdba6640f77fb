// Every code block of the README is checked: examples run as written (only the package path and
// fixed ports replaced) and must print the promised lines; every shell command names something
// that exists; the CLI block matches --help; every link and table-of-contents entry resolves.
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');
const { freePort } = require('./helpers/memcached');
const { runNutcracker, startBackend } = require('./helpers/nutcracker');
const { needs, INSTALL_ALL } = require('./helpers/references');
const { startCli, exitWithin, run, CLI } = require('./helpers/process');

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

const ROOT = path.join(__dirname, '..');
const PACKAGE = require('../package.json');

// Every fenced block: {language, code}.
const FENCES = [...README.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ language: m[1], code: m[2] }));

// The js examples, each run by a test below (found by a line only it contains).
const EXAMPLES = {
	quickStart: 'new Server({ port: 0, memcachedPort: 0 }',
	hashing: "servers: ['127.0.0.1:11211', '127.0.0.1:11212:2'",
	nutcracker: 'new Client({ port: 22121',
	workers: 'Engine.attach(workerData.cache',
};

// Starts the CLI with the README's flags (fixed ports made free ones), waits for its banner, stops it.
async function startsWith(args, banner) {
	const server = await startCli(args.map((a) => (/^\d{4,5}$/.test(a) ? '0' : a)), 10000);
	if (banner) assert.match(server.banner, banner);
	server.child.kill('SIGTERM');
	const result = await exitWithin(server, 10000, `simplecached ${args.join(' ')}`);
	assert.strictEqual(result.code, 0, result.stderr);
}

// What each shell command of the README must satisfy; a command none of these knows fails the test.
const SHELL = [
	[/^npm install simplecached$/, () => 'not run: installs from the registry (npm run test:package installs the packed tarball)'],
	// The defaults, as free ports: the seed protocol and memcached's, both named in the banner.
	[/^npm install && node bin\/server\.js$/, () => startsWith(['-p', '11311', '--memcached-port', '11211'], /: seed protocol on 127\.0\.0\.1:\d+, memcached on 127\.0\.0\.1:\d+$/)],
	[/^npm install && npm test$/, () => assert.strictEqual(PACKAGE.scripts.test, 'mocha')],
	[/^npm run (\S+)/, (m) => assert.ok(PACKAGE.scripts[m[1]], `package.json has no script ${m[1]}`)],
	[/^sudo apt-get install -y /, (m, line) => assert.strictEqual(line, INSTALL_ALL, 'the references of test/helpers/references.js')],
	[/^simplecached (.+) &$/, (m) => startsWith(m[1].split(' '))],
	[/^nutcracker -c nutcracker\.yml$/, () => 'run by the nutcracker example test'],
	[/^bash (\S+)/, (m) => assert.ok(fs.existsSync(path.join(ROOT, m[1])), `${m[1]} does not exist`)],
];

// GitHub's anchor for a heading.
function anchor(heading) {
	return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

describe('README', function () {
	this.timeout(60000);

	it('runs the worker_threads Engine example and prints what its comments say', async () => {
		const lines = await runExample(blockWith('js', EXAMPLES.workers), {});
		assert.deepStrictEqual(lines, ['42', 'hello from a worker', 'hello from a worker']);
	});

	it('runs the quick-start example and prints what its comments say', async () => {
		const lines = await runExample(blockWith('js', EXAMPLES.quickStart), {});
		assert.deepStrictEqual(lines, [
			'hello world', '15', "{ greeting: 'hello world', counter: '15' }", 'no network involved',
		]);
	});

	it('runs the client-side hashing example: keys spread, a server lost, its keys moved', async () => {
		const example = blockWith('js', EXAMPLES.hashing);
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
			const example = blockWith('js', EXAMPLES.nutcracker);
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

	it('has no block that none of these tests checks', () => {
		const languages = new Set(FENCES.map((f) => f.language));
		assert.deepStrictEqual([...languages].sort(), ['', 'js', 'sh', 'yaml'], 'a block in a new language needs a check here');
		assert.strictEqual(blocks('js').length, Object.keys(EXAMPLES).length, 'every js block must be one of EXAMPLES');
		assert.strictEqual(blocks('yaml').length, 1, 'the one yaml block is the nutcracker example\'s');
		assert.strictEqual(FENCES.filter((f) => f.language === '').length, 1, 'the one plain block is the command line\'s');
	});

	it('names only commands, scripts, packages and files that exist, and the CLI starts with its flags', async () => {
		const commands = blocks('sh').flatMap((code) => code.split('\n')).map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
		assert.ok(commands.length > 10, `${commands.length} commands`);
		for (const line of commands) {
			const rule = SHELL.find(([pattern]) => pattern.test(line));
			assert.ok(rule, `README command not checked by test/80: ${line}`);
			await rule[1](rule[0].exec(line), line);
		}
	});

	it('lists the command line\'s flags exactly as --help does', async () => {
		const help = (await exitWithin(run([CLI, '--help']), 10000, 'simplecached --help')).stdout;
		const flags = (text) => [...text.matchAll(/(?:^|\s)(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]).filter((f) => f !== '-');
		const block = FENCES.find((f) => f.language === '').code;
		assert.deepStrictEqual([...new Set(flags(block))].sort(), [...new Set(flags(help))].sort());
	});

	it('links only to headings and files that exist', () => {
		const headings = new Set([...README.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1])));
		const links = [...README.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
		assert.ok(links.length > 15, `${links.length} links`);
		for (const link of links) {
			if (/^https?:/.test(link)) continue;
			const [file, hash] = link.split('#');
			if (file === '') assert.ok(headings.has(hash), `no heading for #${hash}`);
			else assert.ok(fs.existsSync(path.join(ROOT, file)), `${file} does not exist`);
		}
	});
});

// Test helpers for child processes: run the CLI (bin/server.js), learn its port from its banner,
// wait for it to exit within a deadline, and read a process's resident memory from /proc.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'server.js');

// Spawns a Node process; collects its output. exited resolves with {code, signal, stdout, stderr}.
// options.wrapper: a command that execs Node in its place, e.g. ['prlimit', '--nofile=200:200'].
// The CLI's memcached port defaults to 11211; tests use free ports only, so a CLI run that names
// no --memcached-port gets "--memcached-port off" first (a later flag of its own still wins).
function run(args, { wrapper = [], ...options } = {}) {
	const cli = args[0] === CLI && !args.some((a) => a.startsWith('--memcached-port'));
	const [command, ...argv] = [...wrapper, process.execPath, ...(cli ? [CLI, '--memcached-port', 'off', ...args.slice(1)] : args)];
	const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
	const out = { stdout: '', stderr: '' };
	child.stdout.setEncoding('utf8');
	child.stderr.setEncoding('utf8');
	child.stdout.on('data', (d) => { out.stdout += d; });
	child.stderr.on('data', (d) => { out.stderr += d; });
	const exited = new Promise((resolve) => {
		child.on('close', (code, signal) => resolve({ code, signal, stdout: out.stdout, stderr: out.stderr }));
	});
	return { child, out, exited };
}

// Resolves with the exit result, or kills the child with SIGKILL and rejects after timeoutMs.
async function exitWithin(proc, timeoutMs, what = 'process') {
	let timer;
	const timeout = new Promise((resolve, reject) => {
		timer = setTimeout(() => {
			proc.child.kill('SIGKILL');
			reject(new Error(`${what} did not exit within ${timeoutMs} ms; stdout: ${JSON.stringify(proc.out.stdout)} stderr: ${JSON.stringify(proc.out.stderr)}`));
		}, timeoutMs);
	});
	try {
		return await Promise.race([proc.exited, timeout]);
	} finally {
		clearTimeout(timer);
	}
}

// Starts `node bin/server.js ...args` and resolves once it prints its banner, with {port, ...proc}.
async function startCli(args, timeoutMs = 30000, options = {}) {
	const proc = run([CLI, ...args], options);
	// "simplecached <version>: seed protocol on <address>:<port>, memcached on ..." — the first
	// listener's address and port (IPv6 addresses in brackets).
	const banner = /^simplecached (\S+): (?:seed protocol|memcached(?: over TLS)?) on \[?([^\s\]]+?)\]?:(\d+)\b(.*)$/m;
	const found = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => { proc.child.kill('SIGKILL'); reject(new Error(`no banner within ${timeoutMs} ms: ${proc.out.stderr}`)); }, timeoutMs);
		const check = () => {
			const match = banner.exec(proc.out.stdout);
			if (match) {
				clearTimeout(timer);
				resolve(match);
			}
		};
		proc.child.stdout.on('data', check);
		proc.exited.then((r) => { clearTimeout(timer); reject(new Error(`exited before listening: ${JSON.stringify(r)}`)); });
	});
	const ports = {};
	for (const [, name, port] of found[0].matchAll(/(seed protocol|memcached over TLS|memcached) on \S+:(\d+)/g)) {
		ports[{ 'seed protocol': 'seed', memcached: 'memcached', 'memcached over TLS': 'tls' }[name]] = Number(port);
	}
	return { ...proc, version: found[1], address: found[2], port: Number(found[3]), ports, banner: found[0] };
}

function vmRss(pid) {
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
	if (!match) throw new Error(`no VmRSS for ${pid}`);
	return Number(match[1]) * 1024;
}

module.exports = { ROOT, CLI, run, exitWithin, startCli, vmRss };

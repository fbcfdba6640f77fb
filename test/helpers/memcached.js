// The reference: a real memcached 1.6 started on an ephemeral port for differential tests.
// Tests ask for it with withMemcached() or needs('memcached') (./references), which say what to install.
'use strict';

const net = require('net');
const { spawn, execFileSync } = require('child_process');
const { freePort } = require('./server');
const { needs } = require('./references');

function waitForPort(port, deadline) {
	return new Promise((resolve, reject) => {
		const attempt = () => {
			const socket = net.connect(port, '127.0.0.1');
			socket.on('connect', () => {
				socket.destroy();
				resolve();
			});
			socket.on('error', () => {
				socket.destroy();
				if (Date.now() > deadline) reject(new Error(`memcached did not listen on ${port}`));
				else setTimeout(attempt, 20);
			});
		};
		attempt();
	});
}

function memcachedVersion() {
	return execFileSync('memcached', ['-V']).toString().trim();
}

// Starts `memcached -t 1` with extra arguments; resolves {port, stop()}.
async function startMemcached(extraArgs = []) {
	const port = await freePort();
	// stderr is kept, not shown: sessions that send `verbosity 1` make memcached log every command.
	const child = spawn('memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', ...extraArgs], {
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	let log = '';
	child.stderr.on('data', (d) => { log = (log + d).slice(-2000); });
	const exited = new Promise((resolve) => {
		child.once('exit', resolve);
		child.once('error', (err) => resolve(err.message));
	});
	// Even if the test run dies, the reference server must not outlive it.
	const killOnExit = () => child.kill('SIGKILL');
	process.once('exit', killOnExit);
	exited.then(() => process.removeListener('exit', killOnExit));
	await Promise.race([
		waitForPort(port, Date.now() + 5000),
		exited.then((code) => { throw new Error(`memcached exited with ${code}: ${log}`); }),
	]);
	return {
		port,
		// SIGKILL: memcached takes 0.5-1 s to exit on SIGTERM (until its clock thread wakes), and
		// nothing here depends on how the reference exits.
		stop: () => {
			child.kill('SIGKILL');
			return exited;
		},
	};
}

// For the enclosing describe: a memcached started before its tests and stopped after them, or
// the suite pending (failing under CI) when memcached is not installed. Fields fill in at start.
function withMemcached(extraArgs = []) {
	const reference = { port: null, stop: null };
	before(needs('memcached'));
	before(async () => { Object.assign(reference, await startMemcached(extraArgs)); });
	after(() => reference.stop && reference.stop());
	return reference;
}

module.exports = { startMemcached, withMemcached, memcachedVersion, freePort };

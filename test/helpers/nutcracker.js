// Test helpers for twemproxy: a real nutcracker (Debian's package, installed by .ci/run) started
// on ephemeral ports with a config generated in a temp dir, and simplecached backends for it.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn } = require('child_process');
const { Server } = require('../..');
const { freePort } = require('./server');

function canConnect(port) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}

// The YAML of one pool; `servers` are "host:port:weight [name]" lines, `pool` adds keys to it.
function nutcrackerConfig(port, servers, pool = {}) {
	const settings = { listen: `127.0.0.1:${port}`, hash: 'md5', distribution: 'ketama', preconnect: true, ...pool };
	const lines = ['pool:'];
	for (const [name, value] of Object.entries(settings)) lines.push(`  ${name}: ${value}`);
	lines.push('  servers:');
	for (const server of servers) lines.push(`    - ${server}`);
	return `${lines.join('\n')}\n`;
}

// Starts nutcracker in front of `servers`; resolves with {port, stop(), log()} once it listens.
async function startNutcracker(servers, pool = {}) {
	const port = await freePort();
	return runNutcracker(nutcrackerConfig(port, servers, pool), port);
}

// Runs nutcracker with the config text given (listening on `port`), from a temp dir.
async function runNutcracker(config, port) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-nutcracker-'));
	const statsPort = await freePort();
	const configFile = path.join(dir, 'nutcracker.yml');
	const logFile = path.join(dir, 'nutcracker.log');
	fs.writeFileSync(configFile, config);
	const child = spawn('nutcracker', ['-c', configFile, '-s', String(statsPort), '-o', logFile, '-v', '5'], { stdio: 'ignore' });
	const exited = new Promise((resolve) => child.once('exit', resolve));
	let spawnError = null;
	child.once('error', (err) => { spawnError = err; });
	const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
	const stop = async () => {
		if (child.exitCode === null && child.signalCode === null && !spawnError) {
			child.kill('SIGKILL');
			await exited;
		}
		fs.rmSync(dir, { recursive: true, force: true });
	};
	const deadline = Date.now() + 5000;
	while (!(await canConnect(port))) {
		if (spawnError || child.exitCode !== null || Date.now() > deadline) {
			const why = spawnError ? spawnError.message : log();
			await stop();
			throw new Error(`nutcracker did not listen on ${port}: ${why}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	return { port, stop, log, config };
}

// A simplecached server in this process, serving memcached's protocol on an ephemeral port.
function startBackend(options = {}) {
	return new Promise((resolve, reject) => {
		const server = new Server({ port: false, memcachedPort: 0, ...options }, (err) => (err ? reject(err) : resolve(server)));
	});
}

module.exports = { startNutcracker, runNutcracker, startBackend, nutcrackerConfig, canConnect };

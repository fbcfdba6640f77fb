// bench/tls.js - the cost of TLS: one simplecached server (bin/server.js) serves memcached's text
// protocol on a plain port and on its TLS port; the same Node load generator drives each in turn.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const tls = require('tls');

const ROOT = path.resolve(__dirname, '..');
const KEYS = 10000;
const SET_RATIO = 0.1;

const USAGE = `usage: node bench/tls.js [options]
  --duration SEC   measured seconds per round and port (3)
  --rounds N       alternating plain/TLS rounds; the median is reported (3)
  --conns N        connections (20)
  --depths LIST    requests in flight per connection, one case each (1,16)
  --value BYTES    value size (32)
  --json           print JSON instead of the table`;

function parseOptions(argv) {
	const o = { duration: 3, rounds: 3, conns: 20, depths: [1, 16], value: 32, json: false };
	for (let i = 0; i < argv.length; i++) {
		const next = () => {
			if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
			return argv[++i];
		};
		const positive = (text) => (Number(text) > 0 ? Number(text) : fail(`${argv[i - 1]} must be positive, got ${text}`));
		switch (argv[i]) {
			case '--duration': o.duration = positive(next()); break;
			case '--rounds': o.rounds = Math.round(positive(next())); break;
			case '--conns': o.conns = Math.round(positive(next())); break;
			case '--depths': o.depths = next().split(',').map((d) => Math.round(positive(d))); break;
			case '--value': o.value = Math.round(positive(next())); break;
			case '--json': o.json = true; break;
			case '-h': case '--help': console.log(USAGE); process.exit(0); break;
			default: fail(`unknown option ${argv[i]}`);
		}
	}
	return o;
}

function fail(message) {
	console.error(`bench/tls.js: ${message}\n${USAGE}`);
	process.exit(2);
}

// ---------------------------------------------------------------- the load generator (a child)

// Opens the connections, keeps `depth` requests in flight on each for `duration` seconds and
// prints the number of replies. Replies are counted by their last line (END or STORED): values
// are all 'x', so those words cannot appear inside one.
async function worker({ port, secure, ca, conns, depth, duration, value }) {
	const payload = 'x'.repeat(value);
	const request = (i) => (Math.random() < SET_RATIO
		? `set key:${i % KEYS} 0 0 ${value}\r\n${payload}\r\n` : `get key:${i % KEYS}\r\n`);
	let counting = false;
	let replies = 0;
	let stop = false;
	const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
		const s = secure ? tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' }) : net.connect(port, '127.0.0.1');
		s.once(secure ? 'secureConnect' : 'connect', () => resolve(s));
		s.once('error', reject);
	})));
	let n = 0;
	for (const s of sockets) {
		s.setNoDelay(true);
		let tail = '';
		s.on('data', (chunk) => {
			const text = tail + chunk.toString('latin1');
			let done = 0;
			for (let at = text.indexOf('\r\n'); at >= 0; at = text.indexOf('\r\n', at + 2)) {
				const start = text.lastIndexOf('\n', at - 1) + 1;
				const word = text.slice(start, at);
				if (word === 'END' || word === 'STORED') done++;
			}
			const last = text.lastIndexOf('\r\n');
			tail = last < 0 ? text : text.slice(last + 2);
			if (counting) replies += done;
			if (!stop) s.write(Array.from({ length: done }, () => request(n++)).join(''));
		});
		s.write(Array.from({ length: depth }, () => request(n++)).join(''));
	}
	await new Promise((resolve) => setTimeout(resolve, 300));   // warm up
	counting = true;
	const started = process.hrtime.bigint();
	await new Promise((resolve) => setTimeout(resolve, duration * 1000));
	counting = false;
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	stop = true;
	sockets.forEach((s) => s.destroy());
	process.stdout.write(JSON.stringify({ ops: replies / seconds }));
}

// ---------------------------------------------------------------- the driver

function cpuSeconds(pid) {
	const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(fields[11]) + Number(fields[12])) / 100;   // utime + stime, in clock ticks
}

async function startServer(certs) {
	const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'server.js'), '-p', 'off', '--memcached-port', '0', '-m', '256',
		'--tls-port', '0', '--tls-cert', certs.cert, '--tls-key', certs.key], { stdio: ['ignore', 'pipe', 'inherit'] });
	const banner = await new Promise((resolve, reject) => {
		let out = '';
		child.stdout.on('data', (d) => {
			out += d;
			if (out.includes('\n')) resolve(out);
		});
		child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
	});
	const plain = Number(/:(\d+) \(memcached protocol\)/.exec(banner)[1]);
	const secure = Number(/:(\d+) \(memcached protocol over TLS\)/.exec(banner)[1]);
	return { child, plain, secure };
}

function runWorker(args) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [__filename, '--worker', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
		let out = '';
		child.stdout.on('data', (d) => { out += d; });
		child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`))));
	});
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
	const o = parseOptions(process.argv.slice(2));
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplecached-bench-tls-'));
	const certs = { key: path.join(dir, 'key.pem'), cert: path.join(dir, 'cert.pem') };
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
		'-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', certs.key, '-out', certs.cert], { stdio: 'ignore' });
	const ca = fs.readFileSync(certs.cert, 'utf8');
	const server = await startServer(certs);
	const results = [];
	try {
		for (const depth of o.depths) {
			const samples = { plain: [], tls: [], plainCpu: [], tlsCpu: [] };
			for (let round = 0; round < o.rounds; round++) {
				for (const secure of [false, true]) {
					const cpu = cpuSeconds(server.child.pid);
					const { ops } = await runWorker({ port: secure ? server.secure : server.plain, secure, ca, conns: o.conns, depth, duration: o.duration, value: o.value });
					// Server CPU per operation over the whole run (warm-up included: a slight overestimate for both).
					const cpuPerOp = ((cpuSeconds(server.child.pid) - cpu) * 1e6) / (ops * (o.duration + 0.3));
					samples[secure ? 'tls' : 'plain'].push(ops);
					samples[secure ? 'tlsCpu' : 'plainCpu'].push(cpuPerOp);
				}
			}
			const plain = median(samples.plain);
			const secure = median(samples.tls);
			results.push({ depth, plain, tls: secure, ratio: secure / plain, plainCpuUs: median(samples.plainCpu), tlsCpuUs: median(samples.tlsCpu) });
		}
	} finally {
		server.child.kill('SIGTERM');
		fs.rmSync(dir, { recursive: true, force: true });
	}
	if (o.json) {
		console.log(JSON.stringify({ options: o, results }, null, 2));
		return;
	}
	console.log(`${o.conns} connections, ${Math.round(SET_RATIO * 100)}% sets, ${o.value}-byte values, median of ${o.rounds} alternating rounds of ${o.duration} s\n`);
	console.log('| requests in flight per connection | plain ops/s | TLS ops/s | TLS / plain | server CPU µs/op plain | TLS |');
	console.log('|---:|---:|---:|---:|---:|---:|');
	for (const r of results) {
		console.log(`| ${r.depth} | ${Math.round(r.plain).toLocaleString('en')} | ${Math.round(r.tls).toLocaleString('en')} | ${r.ratio.toFixed(2)}× | ${r.plainCpuUs.toFixed(2)} | ${r.tlsCpuUs.toFixed(2)} |`);
	}
}

if (process.argv[2] === '--worker') worker(JSON.parse(process.argv[3])).catch((err) => { console.error(err); process.exit(1); });
else main().catch((err) => { console.error(err); process.exit(1); });

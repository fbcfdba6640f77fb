// memcached's "watch" log streams and -v/-vv lines, against memcached 1.6.18: the same commands on
// both servers give the same lines in the same order once volatile fields are normalised.
'use strict';

const assert = require('assert');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { startServer, waitFor, freePort, statsPairs } = require('./helpers/server');
const { withMemcached, startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

const SERVER = path.join(__dirname, '..', 'bin', 'server.js');

// Every socket a test opened, closed after it even when it fails: a watcher left open would take
// one of the 20 places from the tests after it.
const sockets = new Set();
function closeSockets() {
	for (const s of sockets) s.destroy();
	sockets.clear();
}

// A socket whose received text accumulates in `text`.
function open(port) {
	return new Promise((resolve, reject) => {
		const socket = net.connect(port, '127.0.0.1');
		sockets.add(socket);
		socket.text = '';
		socket.gone = false;
		socket.setEncoding('latin1');
		socket.on('data', (d) => { socket.text += d; });
		socket.on('close', () => { socket.gone = true; });
		socket.once('error', reject);
		socket.once('connect', () => {
			socket.removeListener('error', reject);
			// A reset after the test is done with a socket is not its concern.
			socket.on('error', () => {});
			resolve(socket);
		});
	});
}

async function stat(port, name) {
	return Number(new Map(await statsPairs(port)).get(name));
}

async function startWatcher(port, args) {
	const w = await open(port);
	w.write(`watch${args ? ` ${args}` : ''}\r\n`);
	await waitFor(() => w.text.length >= 4, { what: 'the reply to watch' });
	assert.strictEqual(w.text.slice(0, 4), 'OK\r\n');
	w.text = w.text.slice(4);
	return w;
}

// Sends each command followed by a meta no-op and waits for its MN, so commands run one by one.
async function run(client, commands) {
	for (const command of commands) {
		const before = client.text.length;
		client.write(`${command}mn\r\n`);
		await waitFor(() => client.text.slice(before).endsWith('MN\r\n'), { what: `the reply to ${JSON.stringify(command)}` });
	}
}

// The volatile fields: time, global id, descriptor and peer port. A class id is each server's own
// (ours are finer than memcached's): only whether there is one (not 0) is compared. memcached's
// too_large line shows its descriptor as clsid (it passes too few arguments). The only
// ttl set is 100, which reads 99 on either server when the clock ticks between store and log.
function normalise(lines) {
	return lines.map((l) => l.replace(/^ts=\d+\.\d+ gid=\d+ /, '')
		.replace(/cfd=-?\d+/, 'cfd=N').replace(/rport=\d+/, 'rport=N').replace(/ ttl=99 /, ' ttl=100 ').replace(/clsid=[1-9]\d*/, 'clsid=C')
		.replace(/(status=too_large .*)clsid=\w+/, '$1clsid=N'));
}

function logLines(text) {
	const lines = text.split('\n');
	assert.strictEqual(lines.pop(), '', 'the stream ends with a whole line');
	return lines;
}

// Each line of memcached's form, with global ids increasing.
function checkForm(lines) {
	let last = 0;
	for (const line of lines) {
		const m = /^ts=\d+\.\d{1,6} gid=(\d+) type=\w+( \w+=\S*)+$/.exec(line);
		assert.ok(m, `log line ${JSON.stringify(line)}`);
		assert.ok(Number(m[1]) > last, `gids increase: ${line}`);
		last = Number(m[1]);
	}
}

const COMMANDS = [
	'set foo 0 0 3\r\nbar\r\n', 'get foo\r\n', 'get nope\r\n', 'gets foo nope foo\r\n', 'add foo 0 0 1\r\nx\r\n',
	'replace foo 0 100 2\r\nxy\r\n', 'append foo 0 0 1\r\nz\r\n', 'prepend nope 0 0 1\r\nz\r\n',
	'cas foo 0 0 1 999999\r\nq\r\n', 'cas nope 0 0 1 1\r\nq\r\n', 'incr foo 1\r\n', 'set n 0 0 1\r\n5\r\n',
	'incr n 3\r\n', 'decr n 1\r\n', 'incr nope 1\r\n', 'touch n 100\r\n', 'touch nope 1\r\n', 'gat 0 n nope\r\n',
	'gats 10 n\r\n', 'delete foo\r\n', 'delete foo\r\n', 'get a%20b\r\n', 'set k\x01y 0 0 1\r\nq\r\n',
	'set sp~-._ 0 0 0 noreply\r\n\r\n', 'mg n v\r\n', 'mg nope v\r\n', 'ms m 2\r\nhi\r\n', 'md m\r\n', 'md m\r\n',
	`set big 0 0 ${2 * 1024 * 1024}\r\n${'x'.repeat(2 * 1024 * 1024)}\r\n`,
];

// The lines a watcher with args sees for COMMANDS on the server at port, up to the sentinel that
// ends them (its own line, which is left out).
async function watchRun(port, args, sentinel) {
	const watcher = await startWatcher(port, args);
	const client = await open(port);
	await run(client, COMMANDS);
	if (sentinel === 'close') {
		client.end();
		await waitFor(() => /type=conn_close/.test(watcher.text), { what: 'the conn_close line' });
	} else {
		await run(client, [sentinel]);
		await waitFor(() => watcher.text.includes('key=sentinel '), { what: 'the sentinel line' });
		client.destroy();
	}
	watcher.destroy();
	const lines = logLines(watcher.text);
	checkForm(lines);
	return sentinel === 'close' ? lines : lines.filter((l) => !l.includes('key=sentinel '));
}

for (const threads of [1, 2]) {
	describe(`watch: memcached's log streams (threads: ${threads})`, function () {
		this.timeout(30000);
		afterEach(closeSockets);
		const reference = withMemcached();
		let server;
		let port;
		before(async () => {
			server = await startServer({ memcachedPort: 0, threads });
			port = server.address('memcached').port;
		});
		after(() => server && server.close());

		const streams = [
			['', 'get sentinel\r\n', 'no argument: fetchers'],
			['fetchers', 'get sentinel\r\n', 'fetchers'],
			['mutations', 'set sentinel 0 0 1\r\nx\r\n', 'mutations'],
			['fetchers mutations', 'set sentinel 0 0 1\r\nx\r\n', 'fetchers and mutations together'],
			['connevents', 'close', 'connevents'],
		];
		for (const [args, sentinel, title] of streams) {
			it(`${title}: the same lines as memcached's, in the same order`, async () => {
				const theirs = normalise(await watchRun(reference.port, args, sentinel));
				const ours = normalise(await watchRun(port, args, sentinel));
				assert.ok(theirs.length > 0);
				assert.deepStrictEqual(ours, theirs);
			});
		}

		it('an unknown stream is refused with memcached\'s reply; the connection stays a command connection', async () => {
			for (const p of [reference.port, port]) {
				const s = await open(p);
				s.write('watch fetchers bogus\r\nwatch nothing noreply\r\nversion\r\n');
				await waitFor(() => /VERSION .*\r\n$/.test(s.text), { what: 'version' });
				assert.match(s.text, /^ERROR\r\nVERSION /);
				s.destroy();
			}
		});

		it('class ids are our own classes, as metadump numbers them', async () => {
			const w = await startWatcher(port, 'fetchers mutations');
			const client = await open(port);
			const sizes = [1, 300, 5000, 70000];
			await run(client, sizes.map((n) => `set cls${n} 7 0 ${n}\r\n${'v'.repeat(n)}\r\nget cls${n}\r\n`));
			await run(client, ['lru_crawler metadump all\r\n']);
			await waitFor(() => w.text.includes('key=cls70000 status=found'), { what: 'the last line' });
			for (const n of sizes) {
				const cls = new RegExp(`^key=cls${n} .* cls=(\\d+) `, 'm').exec(client.text)[1];
				assert.match(w.text, new RegExp(`type=item_store key=cls${n} status=stored cmd=set ttl=0 clsid=${cls} cfd=\\d+ size=${n}\n`));
				assert.match(w.text, new RegExp(`type=item_get key=cls${n} status=found clsid=${cls} cfd=\\d+ size=${n}\n`));
			}
			w.destroy();
			client.destroy();
		});

		it('a watcher executes no further command', async () => {
			const w = await startWatcher(port, 'fetchers');
			w.write('version\r\nget x\r\n');
			const client = await open(port);
			await run(client, ['get watched\r\n']);
			await waitFor(() => w.text.includes('key=watched '), { what: 'the watched line' });
			assert.doesNotMatch(w.text, /VERSION|END|key=x /);
			w.destroy();
			client.destroy();
		});

		it('20 watchers at most, as in memcached; a watcher that hangs up frees its place', async () => {
			for (const p of [reference.port, port]) {
				const watchers = [];
				for (let i = 0; i < 20; i++) watchers.push(await startWatcher(p, 'connevents'));
				await waitFor(async () => await stat(p, 'log_watchers') === 20, { what: 'log_watchers 20' });
				const extra = await open(p);
				extra.write('watch\r\n');
				await waitFor(() => extra.text.endsWith('\r\n'), { what: 'the reply to a 21st watch' });
				assert.strictEqual(extra.text, 'WATCHER_TOO_MANY log watcher limit reached\r\n');
				watchers.pop().destroy();
				// The hang-up is seen when the server next looks at that socket: retry until it has.
				await waitFor(async () => {
					extra.text = '';
					extra.write('watch\r\n');
					await waitFor(() => extra.text.endsWith('\r\n'), { what: 'a reply to watch' });
					if (extra.text === 'OK\r\n') return true;
					assert.strictEqual(extra.text, 'WATCHER_TOO_MANY log watcher limit reached\r\n');
					return false;
				}, { what: 'a place for a new watcher' });
				for (const w of [...watchers, extra]) w.destroy();
				await waitFor(async () => await stat(p, 'log_watchers') === 0, { what: 'every watcher gone' });
			}
		});

		it('a watcher that does not read loses lines and is told how many with skipped=N', async () => {
			await waitFor(async () => await stat(port, 'log_watchers') === 0, { what: 'earlier watchers gone' });
			const w = await startWatcher(port, 'fetchers');
			w.pause();
			const client = await open(port);
			// Far more than the socket buffers, the connection's output mark and the watcher's 256 KiB.
			const keys = Array.from({ length: 100 }, (_, i) => `skipkey${i}`).join(' ');
			const batches = 2000;
			for (let sent = 0; sent < batches; sent += 100) {
				await run(client, [`get ${keys}\r\n`.repeat(99) + `get ${keys}\r\n`]);
			}
			w.resume();
			// The sentinel may be logged while the buffer is still full, and then be skipped itself:
			// numbered sentinels go until one arrives; those before it were skipped.
			let sentinels = 0;
			await waitFor(() => {
				if (/key=sentinel\d+ /.test(w.text)) return true;
				client.write(`get sentinel${++sentinels}\r\n`);
				return false;
			}, { what: 'a sentinel line' });
			const all = logLines(w.text.slice(0, w.text.indexOf('\n', w.text.search(/key=sentinel\d+ /)) + 1));
			const first = Number(/key=sentinel(\d+) /.exec(all[all.length - 1])[1]);
			const lines = all.slice(0, -1);
			const skipped = lines.filter((l) => l.startsWith('skipped='));
			assert.ok(skipped.length > 0, 'some lines were skipped');
			let lost = 0;
			for (const l of skipped) {
				assert.match(l, /^skipped=[1-9]\d*$/);
				lost += Number(l.slice(8));
			}
			checkForm(lines.filter((l) => !l.startsWith('skipped=')));
			const got = lines.filter((l) => l.includes('key=skipkey')).length;
			const skippedStat = stat(port, 'log_watcher_skipped');
			assert.ok(await skippedStat >= lost, 'stats count the lines skipped');
			assert.strictEqual(got + lost, batches * 100 + first - 1, 'every line was either sent or counted as skipped');
			w.destroy();
			client.destroy();
		});
	});
}

// Which items go first differs (memcached's segmented LRU, our clock), so evictions are compared
// by form: the same fields in the same order, one line per eviction each server counts.
describe('watch evictions: memcached\'s eviction lines', function () {
	this.timeout(30000);
	afterEach(closeSockets);
	before(needs('memcached'));
	const EVICTION = /^ts=\d+\.\d+ gid=\d+ type=eviction key=key\d+ fetch=(yes|no) ttl=(-1|\d+) la=\d+ clsid=\d+ size=1000$/;

	// memcached's logger thread sleeps up to a second when idle, and a worker whose 64 KiB log
	// buffer fills meanwhile drops lines (counted in log_worker_dropped), as a watcher whose buffer
	// fills skips them (log_watcher_skipped): on a loaded machine the reference may lose some, so
	// its lines are counted against evictions less those. Ours formats each line straight into the
	// watcher's 256 KiB buffer, which these ~150 KB fit: it must lose none.
	async function evictions(port, { mayDrop }) {
		const w = await startWatcher(port, 'evictions');
		const client = await open(port);
		// Half never expire (ttl=-1), half in 1000 s; 3 MB through 2 MB of memory.
		const sets = Array.from({ length: 3000 }, (_, i) => `set key${i} 0 ${i % 2 ? 0 : 1000} 1000 noreply\r\n${'x'.repeat(1000)}\r\n`);
		for (let i = 0; i < sets.length; i += 500) await run(client, [sets.slice(i, i + 500).join('')]);
		const count = await stat(port, 'evictions');
		assert.ok(count > 500, `${count} evictions`);
		let lost = 0;
		await waitFor(async () => {
			const stats = new Map(await statsPairs(port));
			lost = Number(stats.get('log_worker_dropped')) + Number(stats.get('log_watcher_skipped'));
			const complete = w.text.split('\n').length - 1;
			const skippedLines = (w.text.match(/^skipped=\d+$/gm) || []).length;
			return complete - skippedLines + lost >= count;
		}, { what: `${count} eviction lines` });
		if (!mayDrop) assert.strictEqual(lost, 0, 'lines lost');
		const lines = logLines(w.text).filter((l) => !/^skipped=\d+$/.test(l));
		assert.strictEqual(lines.length + lost, count);
		for (const line of lines) {
			const m = EVICTION.exec(line);
			assert.ok(m, line);
			assert.ok(m[2] === '-1' || (Number(m[2]) >= 999 && Number(m[2]) <= 1000), line);
		}
		assert.ok(lines.some((l) => / ttl=-1 /.test(l)), 'items without expiry are evicted');
		assert.ok(lines.some((l) => / ttl=(999|1000) /.test(l)), 'items with one are evicted');
		return lines;
	}

	it('one line per eviction, in memcached\'s form, on both', async () => {
		const reference = await startMemcached(['-m', '2']);
		const server = await startServer({ memcachedPort: 0, memoryLimit: 2 * 1024 * 1024 });
		try {
			await evictions(reference.port, { mayDrop: true });
			await evictions(server.address('memcached').port, { mayDrop: false });
		} finally {
			await reference.stop();
			await new Promise((resolve) => server.close(resolve));
		}
	});
});

// The -vv lines of a process: command lines "<fd ..." and reply lines ">fd ..." with fd normalised,
// from the test's first command on (the probe that saw the port open comes and goes before it, in
// an order that is a race).
function verboseLines(text) {
	const lines = text.split('\n').filter((l) => /^[<>]\d+ /.test(l) && !/server listening/.test(l))
		.map((l) => l.replace(/^([<>])\d+ /, '$1fd '));
	const start = lines.findIndex((l) => !/^<fd (new auto-negotiating client connection|connection closed\.)$/.test(l));
	return start < 0 ? [] : lines.slice(start);
}

// Children still running when the test process exits are killed: one 'exit' listener for all of
// them (one each would pass Node's listener warning once more than 10 run at a time).
const LIVE_CHILDREN = new Set();
process.once('exit', () => { for (const child of LIVE_CHILDREN) child.kill('SIGKILL'); });

function spawnLogged(command, args) {
	const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
	child.log = '';
	child.stderr.setEncoding('latin1');
	child.stderr.on('data', (d) => { child.log += d; });
	LIVE_CHILDREN.add(child);
	child.once('exit', () => LIVE_CHILDREN.delete(child));
	return child;
}

async function listening(port) {
	await waitFor(() => new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	}), { what: `a listener on ${port}` });
}

const VV_COMMANDS = [
	'set foo 0 0 3\r\nbar\r\n', 'get foo nope\r\n', 'add foo 0 0 1\r\nx\r\n', 'incr foo 1\r\n', 'bogus\r\n',
	'delete foo noreply\r\n', 'touch foo 10\r\n', 'get foo\r\n',
];

async function verboseRun(port, commands) {
	const client = await open(port);
	await run(client, commands);
	client.write('quit\r\n');
	await waitFor(() => client.gone, { what: 'the close after quit' });
}

describe('-v/-vv: memcached\'s stderr lines', function () {
	this.timeout(30000);
	afterEach(closeSockets);
	before(needs('memcached'));
	const children = [];
	after(() => children.forEach((c) => c.kill('SIGKILL')));

	async function both(ourArgs, theirArgs) {
		const [ourPort, theirPort] = [await freePort(), await freePort()];
		const ours = spawnLogged(process.execPath, [SERVER, '-p', 'off', '--memcached-port', String(ourPort), ...ourArgs]);
		const theirs = spawnLogged('memcached', ['-u', 'root', '-l', '127.0.0.1', '-p', String(theirPort), '-U', '0', '-t', '1', ...theirArgs]);
		children.push(ours, theirs);
		await listening(ourPort);
		await listening(theirPort);
		return [{ port: ourPort, child: ours }, { port: theirPort, child: theirs }];
	}

	it('-vv: every command line and reply line, as memcached prints them', async () => {
		const servers = await both(['-vv'], ['-vv']);
		const out = [];
		for (const { port, child } of servers) {
			await verboseRun(port, VV_COMMANDS);
			await waitFor(() => /^<\d+ connection closed\.$/m.test(child.log), { what: 'the closed line' });
			out.push(verboseLines(child.log).filter((l) => !/^<fd mn$/.test(l)));
		}
		assert.ok(out[1].length > 10);
		assert.deepStrictEqual(out[0], out[1]);
	});

	it('"verbosity" turns -vv lines on and off while running, as in memcached; off by default', async () => {
		const servers = await both([], []);
		const out = [];
		for (const { port, child } of servers) {
			await verboseRun(port, ['get before\r\n', 'verbosity 2\r\n', 'get during\r\n', 'verbosity 0\r\n', 'get after\r\n']);
			// The line that ends the logged part is the reply to "verbosity 0"; quit is not logged.
			await waitFor(() => /^<\d+ verbosity 0$/m.test(child.log), { what: 'the verbosity 0 line' });
			out.push(verboseLines(child.log).filter((l) => !/^<fd mn$/.test(l)));
		}
		assert.deepStrictEqual(out[0], ['>fd OK', '>fd MN', '<fd get during', '>fd END', '>fd MN', '<fd verbosity 0']);
		assert.deepStrictEqual(out[0], out[1]);
	});

	it('-v: memcached\'s error and warning lines only', async () => {
		const servers = await both(['-v'], ['-v']);
		const out = [];
		for (const { port, child } of servers) {
			await verboseRun(port, ['get a\r\n', 'cache_memlimit 100\r\n']);
			await waitFor(() => /^maxbytes adjusted to 100m$/m.test(child.log), { what: 'the maxbytes line' });
			out.push(child.log.split('\n').filter((l) => /^[<>]\d+ /.test(l) || /maxbytes/.test(l)));
		}
		assert.deepStrictEqual(out[0], ['maxbytes adjusted to 100m']);
		assert.deepStrictEqual(out[0], out[1]);
	});
});

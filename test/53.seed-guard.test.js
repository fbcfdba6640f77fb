// The seed-port guard: memcached clients and tools pointed at the seed port get one CLIENT_ERROR
// naming the memcached port and nothing is stored, while seed clients keep the seed spec's replies.
'use strict';

const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { withServer, startServer, exchange } = require('./helpers/server');
const { needs } = require('./helpers/references');

const MEMCACHED_TOOL = '/usr/share/memcached/scripts/memcached-tool';

function refusal(port) {
	return `CLIENT_ERROR this port speaks the simplecached seed protocol (set/get/delete <key>); memcached's protocol is on port ${port}\r\n`;
}

// Runs a command line tool; resolves with {code, stdout, stderr} (a bound only for a hang).
function tool(command, args, cwd) {
	return new Promise((resolve) => {
		execFile(command, args, { cwd, timeout: 20000 }, (err, stdout, stderr) => {
			resolve({ code: err ? (err.killed ? 'killed' : err.code) : 0, stdout, stderr });
		});
	});
}

describe('seed-port guard', () => {
	const s = withServer({ port: 0, memcachedPort: 0 });

	describe('memcached commands on the seed port', () => {
		for (const line of ['gets k', 'incr k 1', 'decr k 1', 'stats', 'version', 'add k 0 0 1', 'cas k 0 0 1 5', 'touch k 10',
			'flush_all', 'verbosity 1', 'mg k v', 'mn']) {
			it(`${line}: one error naming the memcached port, then the connection closes`, async () => {
				const reply = await exchange(s.port(), [`${line}\r\nget k\r\n`], null);
				assert.strictEqual(reply, refusal(s.port('memcached')));
			});
		}

		it('a memcached set with its data block stores nothing (set then get, as memccp does)', async () => {
			const reply = await exchange(s.port(), ['set guard-a 0 0 5\r\nhello\r\n'], null);
			assert.strictEqual(reply, refusal(s.port('memcached')));
			assert.strictEqual(await exchange(s.port(), ['get guard-a\r\n'], 'END\r\n'), 'END\r\n');
		});

		it('also with noreply, a negative exptime, and a data block holding line ends', async () => {
			for (const [head, data] of [['0 0 3 noreply', 'abc'], ['5 -1 2', 'ab'], ['0 0 9', 'a\r\nb\nc\r\nd']]) {
				const reply = await exchange(s.port(), [`set guard-b ${head}\r\n${data}\r\n`], null);
				assert.strictEqual(reply, refusal(s.port('memcached')), head);
			}
			assert.strictEqual(await exchange(s.port(), ['get guard-b\r\n'], 'END\r\n'), 'END\r\n');
		});

		it('a data block arriving after its command line, in pieces, is waited for', async () => {
			const data = 'x'.repeat(3000);
			const reply = await exchange(s.port(), ['set guard-c 0 0 3000\r\n' + data.slice(0, 10), data.slice(10, 2000), `${data.slice(2000)}\r\n`], null, { gapMs: 20 });
			assert.strictEqual(reply, refusal(s.port('memcached')));
			assert.strictEqual(await exchange(s.port(), ['get guard-c\r\n'], 'END\r\n'), 'END\r\n');
		});

		it("memcached's binary protocol gets the error instead of a hang", async () => {
			const header = Buffer.alloc(24);
			header[0] = 0x80;   // request magic
			header[1] = 0x0b;   // version
			const reply = await exchange(s.port(), [header], null);
			assert.strictEqual(reply, refusal(s.port('memcached')));
		});

		it('names no port when the memcached protocol is not served', async () => {
			const only = await startServer({ port: 0 });
			try {
				const reply = await exchange(only.address('simple').port, ['stats\r\n'], null);
				assert.strictEqual(reply, "CLIENT_ERROR this port speaks the simplecached seed protocol (set/get/delete <key>); memcached's protocol is not served (--memcached-port)\r\n");
			} finally {
				await only.close();
			}
		});
	});

	describe('seed clients keep the seed spec byte for byte', () => {
		it('set with a value that reads as "0 0 1", waiting for its reply: STORED, and get returns it', async () => {
			const reply = await exchange(s.port(), ['set seed-a 0 0 1\r\n', 'get seed-a\r\n'], 'STORED\r\nVALUE seed-a 0 0 1\r\nEND\r\n', { gapMs: 20 });
			assert.strictEqual(reply, 'STORED\r\nVALUE seed-a 0 0 1\r\nEND\r\n');
		});

		it('pipelined: a next command exactly as long as the "data block" is still a command', async () => {
			// "get seed-b" is 10 bytes, as the value announces: a seed command, not a data block.
			const reply = await exchange(s.port(), ['set seed-b 0 0 10\r\nget seed-b\r\n'], 'STORED\r\nVALUE seed-b 0 0 10\r\nEND\r\n');
			assert.strictEqual(reply, 'STORED\r\nVALUE seed-b 0 0 10\r\nEND\r\n');
		});

		it('pipelined: shorter or longer commands after it, with "\\n" line ends', async () => {
			const reply = await exchange(s.port(), ['set seed-c 1 2 300\nget seed-c\ndelete seed-c\nget seed-c\n'], 'STORED\r\nVALUE seed-c 1 2 300\r\nEND\r\nDELETED\r\nEND\r\n');
			assert.strictEqual(reply, 'STORED\r\nVALUE seed-c 1 2 300\r\nEND\r\nDELETED\r\nEND\r\n');
		});

		it('values that only look like a storage command: too few or many numbers, letters, too large', async () => {
			for (const value of ['0 0', '0 0 1 2', '0 x 1', '0 0 1 noreplyx', `0 0 ${2 * 1024 * 1024}`]) {
				const reply = await exchange(s.port(), [`set seed-d ${value}\r\nxy\r\nget seed-d\r\n`], `STORED\r\nERROR\r\nVALUE seed-d ${value}\r\nEND\r\n`);
				assert.strictEqual(reply, `STORED\r\nERROR\r\nVALUE seed-d ${value}\r\nEND\r\n`, value);
			}
		});

		it('other invalid lines still get a bare ERROR and the session goes on', async () => {
			const reply = await exchange(s.port(), ['hello\r\nget\r\nset k\r\ngetx k\r\nget seed-e\r\n'], 'ERROR\r\nERROR\r\nERROR\r\nERROR\r\nEND\r\n');
			assert.strictEqual(reply, 'ERROR\r\nERROR\r\nERROR\r\nERROR\r\nEND\r\n');
		});
	});

	describe('real tools against the seed port, beside the memcached port', function () {
		this.timeout(60000);
		before(needs('memccapable', 'memcached-tool'));
		let dir;
		before(() => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-guard-'));
			fs.writeFileSync(path.join(dir, 'guard-file'), 'tool data\n');
		});
		after(() => fs.rmSync(dir, { recursive: true, force: true }));

		it('memccp fails with the error on the seed port, stores nothing; succeeds on the memcached port', async () => {
			const seed = await tool('memccp', [`--servers=127.0.0.1:${s.port()}`, 'guard-file'], dir);
			assert.notStrictEqual(seed.code, 0, JSON.stringify(seed));
			assert.match(seed.stderr, new RegExp(`memcached's protocol is on port ${s.port('memcached')}`));
			assert.strictEqual(await exchange(s.port(), ['get guard-file\r\n'], 'END\r\n'), 'END\r\n');
			const memcached = await tool('memccp', [`--servers=127.0.0.1:${s.port('memcached')}`, 'guard-file'], dir);
			assert.strictEqual(memcached.code, 0, JSON.stringify(memcached));
			assert.strictEqual(s.server.engine.get('guard-file').toString(), 'tool data\n');
		});

		it('memcstat fails with the error on the seed port; lists stats on the memcached port', async () => {
			const seed = await tool('memcstat', [`--servers=127.0.0.1:${s.port()}`], dir);
			assert.notStrictEqual(seed.code, 0, JSON.stringify(seed));
			assert.match(seed.stderr, new RegExp(`memcached's protocol is on port ${s.port('memcached')}`));
			const memcached = await tool('memcstat', [`--servers=127.0.0.1:${s.port('memcached')}`], dir);
			assert.strictEqual(memcached.code, 0, JSON.stringify(memcached));
			assert.match(memcached.stdout, /curr_items/);
		});

		it('memcached-tool ends instead of hanging on the seed port', async () => {
			const seed = await tool('perl', [MEMCACHED_TOOL, `127.0.0.1:${s.port()}`, 'stats'], dir);
			assert.notStrictEqual(seed.code, 'killed', 'memcached-tool hung');
			assert.doesNotMatch(seed.stdout, /curr_items/);
			const memcached = await tool('perl', [MEMCACHED_TOOL, `127.0.0.1:${s.port('memcached')}`, 'stats'], dir);
			assert.strictEqual(memcached.code, 0, JSON.stringify(memcached));
			assert.match(memcached.stdout, /curr_items/);
		});
	});
});

// The Client's memcached reply reader, fed a reply stream recorded from a real memcached: cut at
// every byte, or one byte at a time, it must read exactly what it reads from the stream in one piece.
'use strict';

const assert = require('assert');
const net = require('net');
const Request = require('../lib/request');
const textProtocol = require('../lib/text_protocol');
const { GetBatch } = require('../lib/get_batch');
const { startMemcached } = require('./helpers/memcached');
const { needs } = require('./helpers/references');

// Requests covering every reply shape: hits and misses, data blocks holding \r\n, numbers, errors,
// and batches of gets (as a connection sends a turn's gets) with misses, repeats and Buffer keys.
function script() {
	const binary = Buffer.from([0, 13, 10, 0x45, 0x4e, 0x44, 13, 10, 255]);   // "\0\r\nEND\r\n\xff"
	const make = (op, fields = {}) => Object.assign(new Request(op, null), fields);
	const batch = (op, keys) => new GetBatch(keys.map((key) => make(op, { key })), () => { throw new Error('batch refused'); });
	return [
		make('flushAll'),
		make('get', { key: 'absent' }),
		make('set', { key: 'a', value: 'hello world', flags: 7, ttl: 100 }),
		make('set', { key: 'bin', value: binary }),
		make('set', { key: 'empty', value: '' }),
		make('set', { key: 'utf8', value: 'ключ ✓' }),
		make('get', { key: 'a' }),
		make('get', { key: 'bin' }),
		make('get', { key: 'empty' }),
		make('gets', { key: 'utf8' }),
		make('gets', { key: 'absent' }),
		make('getMulti', { keys: ['a', 'absent', 'bin', 'utf8'], names: new Map(['a', 'absent', 'bin', 'utf8'].map((k) => [k, k])) }),
		make('add', { key: 'a', value: 'x' }),
		make('replace', { key: 'nope', value: 'x' }),
		make('append', { key: 'a', value: '!' }),
		make('prepend', { key: 'a', value: '>' }),
		make('cas', { key: 'a', value: 'x', cas: '999999' }),
		make('delete', { key: 'empty' }),
		make('delete', { key: 'empty' }),
		make('set', { key: 'n', value: '41' }),
		make('incr', { key: 'n', delta: '1' }),
		make('incr', { key: 'n', delta: '18446744073709551000' }),
		make('decr', { key: 'absent', delta: '1' }),
		make('incr', { key: 'a', delta: '1' }),
		make('touch', { key: 'a', ttl: 10 }),
		make('touch', { key: 'absent', ttl: 10 }),
		make('set', { key: 'big', value: Buffer.alloc(2 * 1024 * 1024, 120) }),
		make('stats', { arg: 'settings' }),
		make('version'),
		make('get', { key: 'a' }),
		make('set', { key: 'ключ', value: 'k' }),
		batch('get', ['a', 'absent', Buffer.from('bin'), 'a', 'ключ', 'absent']),
		batch('gets', ['utf8', 'absent', 'a']),
	];
}

// Everything memcached answers to the script's requests, in one Buffer.
async function record(port) {
	const requests = script();
	const bytes = Buffer.concat(requests.flatMap((r) => {
		const payload = textProtocol.encode(r);
		return (typeof payload === 'string' ? [payload] : payload).map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
	}));
	const socket = net.connect(port, '127.0.0.1');
	const chunks = [];
	socket.write(bytes);
	// Done once the whole stream reads as complete replies to every request.
	await new Promise((resolve, reject) => {
		socket.on('data', (d) => {
			chunks.push(d);
			if (read([Buffer.concat(chunks)]).complete) resolve();
		});
		socket.on('error', reject);
	});
	socket.destroy();
	return Buffer.concat(chunks);
}

// Reads the replies from `chunks` as the Client does: leftover bytes joined with the next chunk.
function read(chunks) {
	const requests = script();
	let index = 0;
	let leftover = null;
	for (const chunk of chunks) {
		const data = leftover ? Buffer.concat([leftover, chunk]) : chunk;
		let pos = 0;
		while (index < requests.length && pos < data.length) {
			pos = textProtocol.read(requests[index], data, pos, 'utf8');
			if (!requests[index].complete) break;
			index++;
		}
		leftover = pos < data.length ? data.subarray(pos) : null;
	}
	// A server's error line is named by its first word (ESERVER errors hold the line).
	const resultOf = (r) => (r.error ? `error ${r.error.code === 'ESERVER' ? r.error.serverMessage.split(' ')[0] : r.error.code}` : r.result);
	const results = requests.map((r) => (r.members ? r.members.map((m) => (r.complete ? resultOf(m) ?? null : undefined)) : resultOf(r)));
	return { complete: index === requests.length && leftover === null, results };
}

describe('client: memcached reply reader on a recorded stream', function () {
	this.timeout(60000);
	let stream;
	let whole;
	before(needs('memcached'));
	before(async () => {
		const memcached = await startMemcached();
		try {
			stream = await record(memcached.port);
		} finally {
			await memcached.stop();
		}
		whole = read([stream]);
	});

	it('reads every reply of the stream in one piece, with the results memcached means', () => {
		assert.ok(whole.complete);
		const r = whole.results;
		assert.deepStrictEqual(r.slice(0, 12), [
			true, null, true, true, true, true, 'hello world', '\u0000\r\nEND\r\n\ufffd', '',
			{ value: 'ключ ✓', cas: r[9].cas, flags: 0 }, null,
			{ a: 'hello world', bin: '\u0000\r\nEND\r\n\ufffd', utf8: 'ключ ✓' },
		]);
		assert.match(r[9].cas, /^\d+$/);
		assert.deepStrictEqual(r.slice(12, 26), [false, false, true, true, false, true, false, true, 42, 18446744073709551042n, null, 'error CLIENT_ERROR', true, false]);
		assert.strictEqual(r[26], 'error SERVER_ERROR');
		assert.strictEqual(typeof r[27].maxbytes, 'number');
		assert.match(r[28], /^1\.6\./);
		assert.strictEqual(r[29], '>hello world!');
		assert.deepStrictEqual(r.slice(30, 32), [true, ['>hello world!', null, '\u0000\r\nEND\r\n\ufffd', '>hello world!', 'k', null]]);
		assert.deepStrictEqual(r[32], [{ value: 'ключ ✓', cas: r[9].cas, flags: 0 }, null, { value: '>hello world!', cas: r[32][2].cas, flags: 7 }]);
		assert.match(r[32][2].cas, /^\d+$/);
	});

	it('reads the same when the stream is cut in two at every byte', () => {
		for (let cut = 1; cut < stream.length; cut++) {
			const split = read([stream.subarray(0, cut), stream.subarray(cut)]);
			assert.ok(split.complete, `cut at ${cut}`);
			assert.deepStrictEqual(split.results, whole.results, `cut at ${cut}`);
		}
	});

	it('reads the same when the stream arrives one byte at a time', () => {
		const bytes = [];
		for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
		const oneByOne = read(bytes);
		assert.ok(oneByOne.complete);
		assert.deepStrictEqual(oneByOne.results, whole.results);
	});
});

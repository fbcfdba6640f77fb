// Client option typedValues: values keep their JavaScript type through the item's flags, and read the
// same as npm memcached's, both ways, against a real memcached; without the option nothing changes.
'use strict';

const assert = require('assert');
const { promisify } = require('util');
const Memcached = require('memcached');
const { Client } = require('..');
const { withMemcached } = require('./helpers/memcached');
const { pipeline } = require('./helpers/server');

// Values npm memcached stores and reads back as themselves (its Buffers pass through latin1 text,
// so their bytes stay below 0x80 here).
const VALUES = {
	string: 'plain text ✓',
	number: 42.5,
	negative: -7,
	boolean: true,
	falsy: false,
	object: { a: 1, nested: { list: [1, 'two', null] } },
	array: [3, 2, 1],
	buffer: Buffer.from('bytes\x00\x01 ok'),
};

function npmClient(port) {
	const client = new Memcached(`127.0.0.1:${port}`, { retries: 0, timeout: 5000 });
	return {
		set: promisify(client.set.bind(client)),
		get: promisify(client.get.bind(client)),
		end: () => client.end(),
	};
}

describe('Client typedValues: types round-trip, as npm memcached stores them', function () {
	const memcached = withMemcached();
	let typed;
	let plain;
	let npm;
	before(() => {
		typed = new Client({ port: memcached.port, protocol: 'memcached', typedValues: true });
		plain = new Client({ port: memcached.port, protocol: 'memcached' });
		npm = npmClient(memcached.port);
	});
	after(async () => {
		if (npm) npm.end();
		await Promise.all([typed && typed.close(), plain && plain.close()]);
	});

	it('reads back numbers, booleans, JSON and Buffers as themselves; strings stay strings', async () => {
		const binary = Buffer.from([0, 13, 10, 255, 128]);
		for (const [name, value] of Object.entries({ ...VALUES, binary, nullish: null })) {
			assert.strictEqual(await typed.set(`t-${name}`, value), true);
			assert.deepStrictEqual(await typed.get(`t-${name}`), value, name);
		}
		const { value, flags } = await typed.gets('t-number');
		assert.deepStrictEqual([value, flags], [42.5, 8]);
		assert.deepStrictEqual(await typed.getMulti(['t-object', 't-buffer']), { 't-object': VALUES.object, 't-buffer': VALUES.buffer });
	});

	it('stores with npm memcached\'s flags, and reads what npm memcached stored', async () => {
		for (const [name, value] of Object.entries(VALUES)) {
			await npm.set(`from-npm-${name}`, value, 0);
			assert.deepStrictEqual(await typed.get(`from-npm-${name}`), value, `npm memcached → Client: ${name}`);
			await typed.set(`to-npm-${name}`, value);
			assert.deepStrictEqual(await npm.get(`to-npm-${name}`), value, `Client → npm memcached: ${name}`);
		}
		// The flags on the wire, as memcached holds them.
		const reply = await pipeline(memcached.port, ['mg to-npm-number f', 'mg to-npm-object f', 'mg to-npm-buffer f', 'mg to-npm-string f']);
		assert.strictEqual(reply, 'HD f8\r\nHD f2\r\nHD f4\r\nHD f0\r\n');
	});

	it('changes nothing without the option: numbers and booleans come back as strings', async () => {
		await plain.set('p-number', 42);
		await plain.set('p-bool', true);
		assert.strictEqual(await plain.get('p-number'), '42');
		assert.strictEqual(await plain.get('p-bool'), 'true');
		await typed.set('p-object', { a: 1 });
		assert.strictEqual(await plain.get('p-object'), '{"a":1}');
		await assert.rejects(plain.set('p-object', { a: 1 }), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_TYPE');
	});

	it('fails only the get of a value flagged JSON that does not parse (EDECODE)', async () => {
		await plain.set('bad-json', '{not json', { flags: 2 });
		await typed.set('good', 'fine');
		const [bad, good, batch] = await Promise.all([
			typed.get('bad-json').catch((err) => err),
			typed.get('good'),
			typed.getMulti(['bad-json', 'good']).catch((err) => err),
		]);
		assert.strictEqual(bad.code, 'EDECODE');
		assert.strictEqual(good, 'fine');
		assert.strictEqual(batch.code, 'EDECODE');
		assert.strictEqual(await typed.get('good'), 'fine', 'the connection is still in step');
	});

	it('refuses flags given together with typedValues', async () => {
		await assert.rejects(typed.set('k', 'v', { flags: 1 }), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_VALUE');
	});
});

// index.d.ts describes the public API: it declares exactly the methods that exist at run time.
// (tsd's type check of test/types/*.test-d.ts is slower: `npm run test:types`.)
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');

describe('types: index.d.ts matches the run-time API', () => {
	// Methods named in a declaration block of index.d.ts, event methods aside.
	function declaredMethods(opening) {
		const text = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
		const start = text.indexOf(opening);
		assert.ok(start >= 0, `index.d.ts has no ${opening}`);
		const block = text.slice(start, text.indexOf('\n}', start));
		const names = [...block.matchAll(/^\t(\w+)\(/gm)].map((m) => m[1]).filter((n) => !['on', 'once', 'constructor'].includes(n));
		return [...new Set(names)].sort();
	}

	function runtimeMethods(cls) {
		return Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== 'constructor' && !n.startsWith('_')).sort();
	}

	it('declares exactly the public methods that Client and Server have at run time', () => {
		const { Client, Server } = require('..');
		assert.deepStrictEqual(declaredMethods('export interface Client<'), runtimeMethods(Client));
		assert.deepStrictEqual(declaredMethods('export declare class Server'), runtimeMethods(Server));
	});

	it('declares exactly the public methods that Engine has at run time (its accessor aside)', () => {
		const { Engine } = require('..');
		const methods = runtimeMethods(Engine).filter((n) => typeof Object.getOwnPropertyDescriptor(Engine.prototype, n).value === 'function');
		assert.deepStrictEqual(declaredMethods('export interface Engine<'), methods);
	});

	it('is the package\'s declared typings file', () => {
		const pkg = require('../package.json');
		assert.strictEqual(pkg.types, 'index.d.ts');
		assert.ok(pkg.files.includes('index.d.ts'));
	});
});

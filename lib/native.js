// native: loads the compiled C engine (build/Release/simplecached.node).
// One place to find it, so that a missing build fails with a message that says what to run.
'use strict';

const path = require('path');

function load() {
	const candidates = ['Release', 'Debug'].map((dir) => path.join(__dirname, '..', 'build', dir, 'simplecached.node'));
	for (const file of candidates) {
		try {
			return require(file);
		} catch (err) {
			if (err.code !== 'MODULE_NOT_FOUND') throw err;
		}
	}
	throw new Error('simplecached: native addon not built; run `npm install` (or `npx node-gyp rebuild`) in ' + path.join(__dirname, '..'));
}

module.exports = load();

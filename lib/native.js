// native: loads the C engine: a local build (build/Release, made by `npm run build`) first, else the
// prebuilt binary shipped for this platform (prebuilds/<platform>-<arch>, N-API: any Node >= 18).
'use strict';

const path = require('path');
const loadBinding = require('node-gyp-build');

const PACKAGE = path.join(__dirname, '..');

function load() {
	try {
		return loadBinding(PACKAGE);
	} catch (err) {
		// node-gyp-build found nothing for this platform: say what builds one.
		err.message = `simplecached: no native addon for ${process.platform}-${process.arch} in ${PACKAGE} `
			+ `(no prebuilt binary matches, and none was compiled); run \`npm rebuild simplecached --ignore-scripts=false\` `
			+ `in your project (\`npm run build\` in a checkout), which needs a C/C++ compiler, make and python3.\n${err.message}`;
		throw err;
	}
}

module.exports = load();

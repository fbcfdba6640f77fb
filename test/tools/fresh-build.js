// pretest: rebuilds the addon when a C source is newer than build/Release's binary. npm install
// keeps a build that loads (node-gyp-build), so C pulled or edited since would otherwise go untested.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.join(__dirname, '..', '..');
const BINARY = path.join(ROOT, 'build', 'Release', 'simplecached.node');

if (fs.existsSync(BINARY)) {
	const built = fs.statSync(BINARY).mtimeMs;
	const sources = ['binding.gyp', ...fs.readdirSync(path.join(ROOT, 'csrc')).map((f) => path.join('csrc', f))];
	const newer = sources.find((f) => fs.statSync(path.join(ROOT, f)).mtimeMs > built);
	if (newer) {
		console.log(`${newer} is newer than build/Release: rebuilding the addon (npm run build)`);
		execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
	}
}

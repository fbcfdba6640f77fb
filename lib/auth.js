// auth: reads memcached's ascii authentication file (`-Y`): one `user:password` per line.
// The engine receives only credentials checked here; a bad file stops the server from starting.
'use strict';

const fs = require('fs');

const MAX_ENTRY = 255;     // memcached reads the file in lines of at most 255 bytes
const MAX_ENTRIES = 1024;

function fileError(file, message, code) {
	const err = new Error(`auth file ${file}: ${message}`);
	err.code = code;
	err.authFile = file;
	return err;
}

// Parses the file as memcached 1.6 does: the user runs to the first ':', the password to the
// line end ('\r' or '\n'); every line needs a ':' (an empty line too); a last line needs no
// newline. Returns [[user, password], ...] as Buffers.
function parse(bytes, file) {
	const entries = [];
	const lines = bytes.toString('latin1').split('\n');
	if (lines[lines.length - 1] === '') lines.pop();
	lines.forEach((line, i) => {
		const colon = line.indexOf(':');
		if (colon < 0) throw fileError(file, `line ${i + 1} is malformed: expected user:password`, 'EAUTHFILE');
		if (line.length > MAX_ENTRY) throw fileError(file, `line ${i + 1} is longer than ${MAX_ENTRY} bytes`, 'EAUTHFILE');
		if (line.includes('\0')) throw fileError(file, `line ${i + 1} holds a NUL byte`, 'EAUTHFILE');
		const cr = line.indexOf('\r', colon);
		const password = line.slice(colon + 1, cr < 0 ? line.length : cr);
		entries.push([Buffer.from(line.slice(0, colon), 'latin1'), Buffer.from(password, 'latin1')]);
	});
	if (entries.length > MAX_ENTRIES) throw fileError(file, `more than ${MAX_ENTRIES} entries`, 'EAUTHFILE');
	return entries;
}

// Reads and parses the file; throws an Error whose code is the fs error's or 'EAUTHFILE'.
function load(file) {
	let bytes;
	try {
		bytes = fs.readFileSync(file);
	} catch (err) {
		throw fileError(file, `cannot read it: ${err.message}`, err.code);
	}
	return parse(bytes, file);
}

module.exports = { load, parse };

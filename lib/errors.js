// errors: the Error objects that simplecached hands to callers, built in one place.
// Protocol error lines become errors whose code is the reply's first word (ERROR, CLIENT_ERROR, SERVER_ERROR).
'use strict';

function protocolError(line) {
	const space = line.indexOf(' ');
	const code = space < 0 ? line : line.slice(0, space);
	const detail = space < 0 ? '' : line.slice(space + 1);
	const err = new Error(detail ? `${code}: ${detail}` : `server answered ${code}`);
	err.code = code;
	err.reply = line;
	return err;
}

function connectionError(message, code) {
	const err = new Error(message);
	err.code = code;
	return err;
}

module.exports = { protocolError, connectionError };

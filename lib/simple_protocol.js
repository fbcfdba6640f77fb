// simple_protocol: the client side of the seed protocol — request encoding and reply matching.
// Pure functions over Buffers; the Client owns sockets and queues.
'use strict';

const CRLF = Buffer.from('\r\n');
const GET = Buffer.from('get ');
const SET = Buffer.from('set ');
const DELETE = Buffer.from('delete ');
const SPACE = Buffer.from(' ');

function encodeGet(key) {
	return [GET, key, CRLF];
}

function encodeSet(key, value) {
	return [SET, key, SPACE, value, CRLF];
}

function encodeDelete(key) {
	return [DELETE, key, CRLF];
}

// Seed values run to the end of the line, so they cannot hold a line break.
function checkValue(value) {
	if (value.includes(10) || value.includes(13)) {
		throw new RangeError('values of the simplecached protocol cannot contain \\r or \\n; use protocol "memcached" for binary values');
	}
}

function isLine(line, text) {
	return line.length === text.length && line.toString('latin1') === text;
}

// Each handler gets one reply line (without its line end) for the request at the head of the
// queue and returns {done, value} or {error}. A get spans two lines: VALUE, then END.
const replies = {
	get(request, line) {
		if (request.value === undefined) {
			if (isLine(line, 'END')) return { done: true, value: null };
			const prefix = 6 + request.key.length;
			if (line.length > prefix && line.toString('latin1', 0, 6) === 'VALUE ' &&
				line.subarray(6, prefix).equals(request.key) && line[prefix] === 0x20) {
				request.value = line.subarray(prefix + 1);
				return { done: false };
			}
			return null;
		}
		return isLine(line, 'END') ? { done: true, value: request.value } : null;
	},
	set(request, line) {
		return isLine(line, 'STORED') ? { done: true, value: true } : null;
	},
	delete(request, line) {
		if (isLine(line, 'DELETED')) return { done: true, value: true };
		if (isLine(line, 'NOT_FOUND')) return { done: true, value: false };
		return null;
	},
};

function isErrorLine(line) {
	const text = line.toString('latin1', 0, Math.min(line.length, 13));
	return text === 'ERROR' || text.startsWith('CLIENT_ERROR ') || text.startsWith('SERVER_ERROR ');
}

module.exports = { encodeGet, encodeSet, encodeDelete, checkValue, replies, isErrorLine };

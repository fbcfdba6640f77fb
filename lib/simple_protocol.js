// simple_protocol: the client side of the seed protocol — request encoding and reply reading.
// Same interface as text_protocol: encode(request) -> chunks, read(request, data, pos) -> pos.
'use strict';

const { protocolError, connectionError } = require('./errors');

const CRLF = Buffer.from('\r\n');
const WORDS = { get: Buffer.from('get '), set: Buffer.from('set '), delete: Buffer.from('delete ') };
const SPACE = Buffer.from(' ');

function encode(request) {
	const { op, key, value } = request;
	if (!WORDS[op]) throw new TypeError(`operation ${op} needs protocol 'memcached'`);
	if (op !== 'set') return [WORDS[op], key, CRLF];
	// Seed values run to the end of the line, so they cannot hold a line break.
	if (value.includes(10) || value.includes(13)) {
		throw new RangeError('values of the simplecached protocol cannot contain \\r or \\n; use protocol "memcached" for binary values');
	}
	return [WORDS.set, key, SPACE, value, CRLF];
}

function isLine(line, text) {
	return line.length === text.length && line.toString('latin1') === text;
}

function isErrorLine(line) {
	const text = line.toString('latin1', 0, Math.min(line.length, 13));
	return text === 'ERROR' || text.startsWith('CLIENT_ERROR ') || text.startsWith('SERVER_ERROR ');
}

// One reply line for the request: returns {value} when it completes the request, {more: true}
// when the request goes on (a get's VALUE line before END), or null when it makes no sense.
const replies = {
	get(request, line) {
		if (request.value === undefined) {
			if (isLine(line, 'END')) return { value: null };
			const prefix = 6 + request.key.length;
			if (line.length > prefix && line.toString('latin1', 0, 6) === 'VALUE ' &&
				line.subarray(6, prefix).equals(request.key) && line[prefix] === 0x20) {
				request.value = line.subarray(prefix + 1);
				return { more: true };
			}
			return null;
		}
		return isLine(line, 'END') ? { value: request.value } : null;
	},
	set: (request, line) => (isLine(line, 'STORED') ? { value: true } : null),
	delete(request, line) {
		if (isLine(line, 'DELETED')) return { value: true };
		if (isLine(line, 'NOT_FOUND')) return { value: false };
		return null;
	},
};

function read(request, data, pos) {
	for (;;) {
		const nl = data.indexOf(10, pos);
		if (nl < 0) return pos;
		const line = data.subarray(pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl);
		pos = nl + 1;
		if (isErrorLine(line)) {
			request.error = protocolError(line.toString());
			request.complete = true;
			return pos;
		}
		const reply = replies[request.op](request, line);
		if (reply === null) throw connectionError(`unexpected reply to ${request.op}: ${line}`, 'EPROTO');
		if (!reply.more) {
			request.value = reply.value;
			request.complete = true;
			return pos;
		}
	}
}

module.exports = { encode, read, isErrorLine };

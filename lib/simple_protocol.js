// simple_protocol: the client side of the seed protocol — request encoding and reply reading.
// Same interface as text_protocol: encode(request) -> string or parts, read(request, data, pos) -> pos.
'use strict';

const { serverError, connectionError } = require('./errors');

const LF = 10;
const CR = 13;
const OPS = new Set(['get', 'set', 'delete']);

function encode(request) {
	const { op, key, value } = request;
	if (!OPS.has(op)) throw connectionError(`${op}() needs protocol 'memcached': the seed protocol has only get, set and delete`, 'ENOTSUP');
	if (op !== 'set') return typeof key === 'string' ? `${op} ${key}\r\n` : [`${op} `, key, '\r\n'];
	// Seed values run to the end of the line, so they cannot hold a line break.
	if (value.includes('\n') || value.includes('\r')) {
		throw new RangeError('values of the simplecached protocol cannot contain \\r or \\n; use protocol "memcached" for binary values');
	}
	if (typeof key === 'string' && typeof value === 'string') return `set ${key} ${value}\r\n`;
	return ['set ', key, ' ', value, '\r\n'];
}

function isLine(data, start, end, text) {
	return end - start === text.length && data.toString('latin1', start, end) === text;
}

function isErrorLine(line) {
	const text = line.toString('latin1', 0, Math.min(line.length, 13));
	// "ERROR <why>": memcached's word for a refused connection ("ERROR Too many open connections").
	return text === 'ERROR' || text.startsWith('ERROR ') || text.startsWith('CLIENT_ERROR ') || text.startsWith('SERVER_ERROR ');
}

// "VALUE <key> <value>" for this very key: where the value starts, or -1.
function valueStart(request, data, start, end) {
	const key = typeof request.key === 'string' ? Buffer.from(request.key) : request.key;
	const prefix = start + 6 + key.length;
	if (prefix >= end || data[prefix] !== 0x20 || data.toString('latin1', start, start + 6) !== 'VALUE ') return -1;
	return data.subarray(start + 6, prefix).equals(key) ? prefix + 1 : -1;
}

// One reply line for the request: true once it completes the request, false when the request goes
// on (a get's VALUE line before END); throws when the line makes no sense here.
function readLine(request, data, start, end, encoding) {
	const { op } = request;
	if (op === 'set' && isLine(data, start, end, 'STORED')) request.result = true;
	else if (op === 'delete' && isLine(data, start, end, 'DELETED')) request.result = true;
	else if (op === 'delete' && isLine(data, start, end, 'NOT_FOUND')) request.result = false;
	else if (op === 'get' && isLine(data, start, end, 'END')) request.result = request.result === undefined ? null : request.result;
	else if (op === 'get' && request.result === undefined && valueStart(request, data, start, end) >= 0) {
		const from = valueStart(request, data, start, end);
		request.result = encoding === null ? Buffer.from(data.subarray(from, end)) : data.toString(encoding, from, end);
		return false;
	} else {
		throw connectionError(`unexpected reply to ${op}: ${data.toString('latin1', start, end)}`, 'EPROTO');
	}
	return true;
}

function read(request, data, pos, encoding) {
	for (;;) {
		const nl = data.indexOf(LF, pos);
		if (nl < 0) return pos;
		const end = nl > pos && data[nl - 1] === CR ? nl - 1 : nl;
		const start = pos;
		pos = nl + 1;
		if (isErrorLine(data.subarray(start, end))) {
			request.error = serverError(data.toString('latin1', start, end));
			request.complete = true;
			return pos;
		}
		if (readLine(request, data, start, end, encoding)) {
			request.complete = true;
			return pos;
		}
	}
}

module.exports = { encode, read, isErrorLine };

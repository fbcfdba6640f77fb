// text_protocol: the client side of memcached's text protocol — encoding requests and reading
// replies (lines and length-prefixed data blocks) incrementally from Buffers, byte by byte.
'use strict';

const { serverError, connectionError, SimplecachedError } = require('./errors');
const { decodeTyped } = require('./typed_values');

const CR = 13;
const LF = 10;
const SPACE = 32;

const bytesOf = (text) => Buffer.from(text, 'latin1');
const END = bytesOf('END');
const STORED = [[bytesOf('STORED'), true], [bytesOf('NOT_STORED'), false], [bytesOf('EXISTS'), false], [bytesOf('NOT_FOUND'), false]];
const DELETED = [[bytesOf('DELETED'), true], [bytesOf('NOT_FOUND'), false]];
const TOUCHED = [[bytesOf('TOUCHED'), true], [bytesOf('NOT_FOUND'), false]];
const OK = [[bytesOf('OK'), true]];
const NOT_FOUND = bytesOf('NOT_FOUND');
const VALUE = bytesOf('VALUE ');

// True when data[start, end) holds exactly `bytes`: a loop, cheaper than a native call for short words.
function equalsAt(data, start, end, bytes) {
	if (end - start !== bytes.length) return false;
	for (let i = 0; i < bytes.length; i++) if (data[start + i] !== bytes[i]) return false;
	return true;
}

function startsWith(data, start, end, bytes) {
	if (end - start < bytes.length) return false;
	for (let i = 0; i < bytes.length; i++) if (data[start + i] !== bytes[i]) return false;
	return true;
}

// End of a line's text (before CR LF, or a bare LF) that ends at the LF at `nl`.
function textEnd(data, pos, nl) {
	return nl > pos && data[nl - 1] === CR ? nl - 1 : nl;
}

// A decimal number in data[start, end), or -1 if it is empty, not all digits or past 2^53.
function decimal(data, start, end) {
	if (start >= end || end - start > 15) return -1;
	let n = 0;
	for (let i = start; i < end; i++) {
		const digit = data[i] - 48;
		if (digit < 0 || digit > 9) return -1;
		n = n * 10 + digit;
	}
	return n;
}

function isErrorText(line) {
	// "ERROR <why>": memcached's word for a refused connection ("ERROR Too many open connections").
	return line === 'ERROR' || line.startsWith('ERROR ') || line.startsWith('CLIENT_ERROR ') || line.startsWith('SERVER_ERROR ');
}

// Any line that is no expected answer: a server error line fails only its request; anything else
// means the stream can no longer be trusted, so it is thrown and the connection is dropped.
function failLine(request, data, start, end) {
	const line = data.toString('latin1', start, end);
	if (!isErrorText(line)) throw connectionError(`unexpected reply to ${request.op}: ${line}`, 'EPROTO');
	request.error = serverError(line);
	request.complete = true;
}

function decode(data, start, end, encoding) {
	return encoding === null ? Buffer.from(data.subarray(start, end)) : data.toString(encoding, start, end);
}

// Replies of one line; `answers` pairs each expected line with its result.
function oneLine(answers) {
	return (request, data, pos) => {
		const nl = data.indexOf(LF, pos);
		if (nl < 0) return pos;
		const end = textEnd(data, pos, nl);
		for (let i = 0; i < answers.length; i++) {
			if (equalsAt(data, pos, end, answers[i][0])) {
				request.result = answers[i][1];
				request.complete = true;
				return nl + 1;
			}
		}
		failLine(request, data, pos, end);
		return nl + 1;
	};
}

// The data block of a VALUE: where the reply goes on once all of it is here, or -1 until then
// (request.need then says how many bytes from pos it takes).
function readBlock(request, data, pos, encoding, typed) {
	const end = pos + request.blockBytes;
	if (data.length < end + 2) {
		request.need = request.blockBytes + 2;
		return -1;
	}
	if (data[end] !== CR || data[end + 1] !== LF) throw connectionError(`unexpected reply to ${request.op}: data block without CRLF`, 'EPROTO');
	const value = typed ? decodeTyped(data, pos, end, request.blockFlags, encoding) : decode(data, pos, end, encoding);
	const { op } = request;
	request.blockBytes = -1;
	request.need = 0;
	if (value instanceof SimplecachedError && op !== 'getBatch' && op !== 'getsBatch') {
		request.error = request.error || value;
		return end + 2;
	}
	if (op === 'get') request.result = value;
	else if (op === 'gets') request.result = { value, cas: request.blockCas, flags: request.blockFlags };
	else if (op === 'getMulti') request.result[request.names.get(request.blockKey)] = value;
	else if (op === 'getBatch') request.blockMember.result = value;
	else request.blockMember.result = { value, cas: request.blockCas, flags: request.blockFlags };
	return end + 2;
}

// "VALUE <key> <flags> <bytes> [<cas>]" between pos and end: fills the request's block fields.
function readValueHeader(request, data, pos, end) {
	const keyStart = pos + 6;
	const keyEnd = data.indexOf(SPACE, keyStart);
	const flagsEnd = keyEnd < 0 || keyEnd >= end ? -1 : data.indexOf(SPACE, keyEnd + 1);
	if (flagsEnd < 0 || flagsEnd >= end || !startsWith(data, pos, end, VALUE)) return false;
	let bytesEnd = data.indexOf(SPACE, flagsEnd + 1);
	if (bytesEnd < 0 || bytesEnd > end) bytesEnd = end;
	const flags = decimal(data, keyEnd + 1, flagsEnd);
	const bytes = decimal(data, flagsEnd + 1, bytesEnd);
	if (flags < 0 || bytes < 0) return false;
	if (bytesEnd < end) {
		request.blockCas = data.toString('latin1', bytesEnd + 1, end);
		if (!/^\d+$/.test(request.blockCas)) return false;
	}
	request.blockFlags = flags;
	request.blockBytes = bytes;
	if (request.op === 'getMulti') request.blockKey = data.toString('latin1', keyStart, keyEnd);
	else if (request.op === 'getBatch' || request.op === 'getsBatch') {
		request.blockMember = request.memberFor(data, keyStart, keyEnd);
		if (request.blockMember === null) {
			throw connectionError(`unexpected reply to get: VALUE for ${data.toString('latin1', keyStart, keyEnd)}, a key not asked for`, 'EPROTO');
		}
	}
	return true;
}

// VALUE blocks until END: get → value or null; gets → {value, cas, flags} or null;
// getMulti → {key: value} of the keys present; a GetBatch → each member's own result.
function readValues(request, data, pos, encoding, typed) {
	if (request.result === undefined) request.result = request.op === 'getMulti' ? {} : null;
	for (;;) {
		if (request.blockBytes >= 0) {
			const next = readBlock(request, data, pos, encoding, typed);
			if (next < 0) return pos;
			pos = next;
			continue;
		}
		const nl = data.indexOf(LF, pos);
		if (nl < 0) return pos;
		const end = textEnd(data, pos, nl);
		if (equalsAt(data, pos, end, END)) {
			request.complete = true;
			return nl + 1;
		}
		if (!readValueHeader(request, data, pos, end)) {
			failLine(request, data, pos, end);
			return nl + 1;
		}
		pos = nl + 1;
	}
}

// A number or NOT_FOUND (incr/decr): a Number, a BigInt past 2^53, or null.
function readCounter(request, data, pos) {
	const nl = data.indexOf(LF, pos);
	if (nl < 0) return pos;
	const end = textEnd(data, pos, nl);
	const line = data.toString('latin1', pos, end);
	if (/^\d+$/.test(line)) {
		const n = BigInt(line);
		request.result = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
		request.complete = true;
	} else if (equalsAt(data, pos, end, NOT_FOUND)) {
		request.result = null;
		request.complete = true;
	} else {
		failLine(request, data, pos, end);
	}
	return nl + 1;
}

// STAT <name> <value> lines until END.
function readStats(request, data, pos) {
	if (request.result === undefined) request.result = {};
	for (;;) {
		const nl = data.indexOf(LF, pos);
		if (nl < 0) return pos;
		const end = textEnd(data, pos, nl);
		if (equalsAt(data, pos, end, END)) {
			request.complete = true;
			return nl + 1;
		}
		const match = /^STAT (\S+) (.*)$/.exec(data.toString('latin1', pos, end));
		if (!match) {
			failLine(request, data, pos, end);
			return nl + 1;
		}
		const text = match[2];
		request.result[match[1]] = /^-?\d+(\.\d+)?$/.test(text) && Number.isSafeInteger(Math.trunc(Number(text))) ? Number(text) : text;
		pos = nl + 1;
	}
}

function readVersion(request, data, pos) {
	const nl = data.indexOf(LF, pos);
	if (nl < 0) return pos;
	const end = textEnd(data, pos, nl);
	const line = data.toString('latin1', pos, end);
	if (line.startsWith('VERSION ')) {
		request.result = line.slice(8);
		request.complete = true;
	} else {
		failLine(request, data, pos, end);
	}
	return nl + 1;
}

const readStored = oneLine(STORED);

// How each operation reads its reply.
const readers = {
	get: readValues,
	gets: readValues,
	getMulti: readValues,
	getBatch: readValues,
	getsBatch: readValues,
	set: readStored,
	add: readStored,
	replace: readStored,
	append: readStored,
	prepend: readStored,
	cas: readStored,
	delete: oneLine(DELETED),
	incr: readCounter,
	decr: readCounter,
	touch: oneLine(TOUCHED),
	flushAll: oneLine(OK),
	stats: readStats,
	version: readVersion,
};

// Reads as much of the request's reply as `data` holds from `pos`; returns where it stopped.
// Sets request.complete with request.result or request.error once the reply is whole.
// typed: option typedValues (values decode by their flags, see typed_values.js).
function read(request, data, pos, encoding, typed) {
	return readers[request.op](request, data, pos, encoding, typed === true);
}

// A data block: one string when the value is a string, parts when it is a Buffer.
function storage(word, request, extra) {
	const { key, value } = request;
	const length = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
	const head = `${request.flags} ${request.ttl} ${length}${extra}\r\n`;
	if (typeof key === 'string' && typeof value === 'string') return `${word} ${key} ${head}${value}\r\n`;
	return [`${word} `, key, ` ${head}`, value, '\r\n'];
}

// A command line naming a key: one string, or parts when the key is a Buffer.
function keyed(word, key, rest) {
	if (typeof key === 'string') return `${word} ${key}${rest}\r\n`;
	return [`${word} `, key, `${rest}\r\n`];
}

// `get k1 k2 ...`: one string, or parts when a key is a Buffer.
function multiKey(word, keys) {
	let text = word;
	for (let i = 0; i < keys.length; i++) {
		if (typeof keys[i] !== 'string') return [word, ...keys.flatMap((k) => [' ', k]), '\r\n'];
		text += ` ${keys[i]}`;
	}
	return `${text}\r\n`;
}

// Encodes a request as a string, or as an array of strings and Buffers when it carries Buffers.
// Keys and values were checked by the client; numbers were validated there too.
function encode(request) {
	const { op, key } = request;
	switch (op) {
	case 'get':
	case 'gets':
	case 'delete':
		return keyed(op, key, '');
	case 'set':
	case 'add':
	case 'replace':
	case 'append':
	case 'prepend':
		return storage(op, request, '');
	case 'cas':
		return storage('cas', request, ` ${request.cas}`);
	case 'getMulti':
		return multiKey('get', request.keys);
	case 'getBatch':
	case 'getsBatch':
		return multiKey(request.memberOp, request.members.map((m) => m.key));
	case 'incr':
	case 'decr':
		return keyed(op, key, ` ${request.delta}`);
	case 'touch':
		return keyed('touch', key, ` ${request.ttl}`);
	case 'flushAll':
		return request.arg ? `flush_all ${request.arg}\r\n` : 'flush_all\r\n';
	case 'stats':
		return request.arg ? `stats ${request.arg}\r\n` : 'stats\r\n';
	case 'version':
		return 'version\r\n';
	default:
		throw new TypeError(`unknown operation ${op}`);
	}
}

function isErrorLine(line) {
	return isErrorText(line.toString('latin1'));
}

// Connections may send consecutive gets as one GetBatch (see get_batch.js).
const batchesGets = true;

module.exports = { encode, read, isErrorLine, batchesGets };

// text_protocol: the client side of memcached's text protocol — encoding requests and reading
// replies (lines and length-prefixed data blocks) incrementally from Buffers.
'use strict';

const { protocolError, connectionError } = require('./errors');

const CRLF = Buffer.from('\r\n');
// Command words with their space, made once rather than per request.
const WORDS = Object.fromEntries(['get', 'gets', 'set', 'add', 'replace', 'append', 'prepend'].map((w) => [w, Buffer.from(`${w} `)]));

// Positions of the next line: [start of line, end of its text, start of what follows], or null.
function nextLine(data, pos) {
	const nl = data.indexOf(10, pos);
	if (nl < 0) return null;
	return [pos, nl > pos && data[nl - 1] === 13 ? nl - 1 : nl, nl + 1];
}

function text(data, [start, end]) {
	return data.toString('latin1', start, end);
}

function isError(line) {
	return line === 'ERROR' || line.startsWith('CLIENT_ERROR ') || line.startsWith('SERVER_ERROR ');
}

// END, or an error line, completes a multi-line reply; true when it did.
function ended(request, line) {
	if (line !== 'END' && !isError(line)) return false;
	if (line !== 'END') request.error = protocolError(line);
	request.complete = true;
	return true;
}

function unexpected(request, line) {
	return connectionError(`unexpected reply to ${request.op}: ${line}`, 'EPROTO');
}

// Replies of one line: `answers` maps the line to the result; an error line becomes an Error.
function oneLine(answers) {
	return (request, data, pos) => {
		const at = nextLine(data, pos);
		if (!at) return pos;
		const line = text(data, at);
		if (Object.prototype.hasOwnProperty.call(answers, line)) request.value = answers[line];
		else if (isError(line)) request.error = protocolError(line);
		else throw unexpected(request, line);
		request.complete = true;
		return at[2];
	};
}

// "VALUE <key> <flags> <bytes> [<cas>]" → {key, flags, bytes, cas, value}, or null. Scans with
// indexOf rather than split: this runs once per value received.
function parseValueLine(line) {
	if (!line.startsWith('VALUE ')) return null;
	const k = line.indexOf(' ', 6);
	const f = k < 0 ? -1 : line.indexOf(' ', k + 1);
	if (f < 0) return null;
	const b = line.indexOf(' ', f + 1);
	const bytes = Number(b < 0 ? line.slice(f + 1) : line.slice(f + 1, b));
	const cas = b < 0 ? undefined : line.slice(b + 1);
	if (!Number.isInteger(bytes) || bytes < 0 || (cas !== undefined && !/^\d+$/.test(cas))) return null;
	return { key: line.slice(6, k), flags: Number(line.slice(k + 1, f)), bytes, cas, value: null };
}

// VALUE <key> <flags> <bytes> [<cas>] blocks until END. request.values collects
// {key, flags, value, cas}; the client shapes the result.
function readValues(request, data, pos) {
	request.values = request.values || [];
	for (;;) {
		if (request.block) {
			const end = pos + request.block.bytes;
			if (data.length < end + 2) return pos;
			if (data[end] !== 13 || data[end + 1] !== 10) throw unexpected(request, 'data block without CRLF');
			// The block becomes the result entry as is: no copy of its fields per value.
			request.block.value = data.subarray(pos, end);
			request.values.push(request.block);
			request.block = null;
			pos = end + 2;
			continue;
		}
		const at = nextLine(data, pos);
		if (!at) return pos;
		const line = text(data, at);
		pos = at[2];
		if (ended(request, line)) return pos;
		request.block = parseValueLine(line);
		if (request.block === null) throw unexpected(request, line);
	}
}

// A number or NOT_FOUND (incr/decr).
function readCounter(request, data, pos) {
	const at = nextLine(data, pos);
	if (!at) return pos;
	const line = text(data, at);
	if (/^\d+$/.test(line)) {
		const n = BigInt(line);
		request.value = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
	} else if (line === 'NOT_FOUND') {
		request.value = null;
	} else if (isError(line)) {
		request.error = protocolError(line);
	} else {
		throw unexpected(request, line);
	}
	request.complete = true;
	return at[2];
}

// STAT <name> <value> lines until END.
function readStats(request, data, pos) {
	request.value = request.value || {};
	for (;;) {
		const at = nextLine(data, pos);
		if (!at) return pos;
		const line = text(data, at);
		pos = at[2];
		if (ended(request, line)) return pos;
		const match = /^STAT (\S+) (.*)$/.exec(line);
		if (!match) throw unexpected(request, line);
		request.value[match[1]] = /^-?\d+(\.\d+)?$/.test(match[2]) && Number.isSafeInteger(Math.trunc(Number(match[2]))) ? Number(match[2]) : match[2];
	}
}

function readVersion(request, data, pos) {
	const at = nextLine(data, pos);
	if (!at) return pos;
	const line = text(data, at);
	if (line.startsWith('VERSION ')) request.value = line.slice(8);
	else if (isError(line)) request.error = protocolError(line);
	else throw unexpected(request, line);
	request.complete = true;
	return at[2];
}

const STORED = oneLine({ STORED: true, NOT_STORED: false, EXISTS: false, NOT_FOUND: false });

// How each operation reads its reply.
const readers = {
	get: readValues,
	gets: readValues,
	getMulti: readValues,
	set: STORED,
	add: STORED,
	replace: STORED,
	append: STORED,
	prepend: STORED,
	cas: STORED,
	delete: oneLine({ DELETED: true, NOT_FOUND: false }),
	incr: readCounter,
	decr: readCounter,
	touch: oneLine({ TOUCHED: true, NOT_FOUND: false }),
	flushAll: oneLine({ OK: true }),
	stats: readStats,
	version: readVersion,
};

function read(request, data, pos) {
	return readers[request.op](request, data, pos);
}

const line = (...words) => Buffer.from(`${words.join(' ')}\r\n`, 'latin1');

// Encodes a request as chunks. Keys and values are Buffers already checked by the client;
// numbers were validated there too.
function encode(request) {
	const { op, key, value, flags = 0, ttl = 0 } = request;
	switch (op) {
	case 'get':
	case 'gets':
		return [WORDS[op], key, CRLF];
	case 'getMulti':
		return [Buffer.from('get'), ...request.keys.flatMap((k) => [Buffer.from(' '), k]), CRLF];
	case 'set':
	case 'add':
	case 'replace':
	case 'append':
	case 'prepend':
		return [WORDS[op], key, line('', flags, ttl, value.length), value, CRLF];
	case 'cas':
		return [Buffer.from('cas '), key, line('', flags, ttl, value.length, request.cas), value, CRLF];
	case 'delete':
		return [Buffer.from('delete '), key, CRLF];
	case 'incr':
	case 'decr':
		return [Buffer.from(`${op} `), key, line('', request.delta)];
	case 'touch':
		return [Buffer.from('touch '), key, line('', ttl)];
	case 'flushAll':
		return [line('flush_all', ...(request.delay ? [request.delay] : []))];
	case 'stats':
		return [line('stats', ...(request.group ? [request.group] : []))];
	case 'version':
		return [line('version')];
	default:
		throw new TypeError(`unknown operation ${op}`);
	}
}

module.exports = { encode, read, isErrorLine: (buf) => isError(buf.toString('latin1')) };

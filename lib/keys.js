// keys: memcached's key and value rules, checked before anything reaches a socket or the engine.
// A key or value that could split a protocol line is refused here, so it can never inject a command.
'use strict';

const { typeError, rangeError } = require('./errors');

const KEY_MAX = 250;
// A UTF-16 code unit is at most 3 bytes of UTF-8, so a string this short cannot pass KEY_MAX bytes.
const SURELY_SHORT = Math.floor(KEY_MAX / 3);

function keyRangeError(length) {
	return rangeError(`key must be 1 to ${KEY_MAX} bytes, got ${length}`);
}

function toKeyBuffer(key) {
	if (typeof key !== 'string' && !Buffer.isBuffer(key)) throw typeError('key must be a string or a Buffer');
	const buf = Buffer.isBuffer(key) ? key : Buffer.from(key);
	if (buf.length === 0 || buf.length > KEY_MAX) throw keyRangeError(buf.length);
	for (let i = 0; i < buf.length; i++) {
		if (buf[i] <= 0x20 || buf[i] === 0x7f) throw rangeError('key must not contain spaces or control characters');
	}
	return buf;
}

// The key as given (string or Buffer) once checked. Strings are checked on their code units —
// UTF-8 never encodes a character >= 0x80 with a byte below 0x80 — so no Buffer is made for them.
function checkKey(key) {
	if (typeof key !== 'string') return toKeyBuffer(key);
	const length = key.length;
	if (length === 0) throw keyRangeError(0);
	let ascii = true;
	for (let i = 0; i < length; i++) {
		const c = key.charCodeAt(i);
		if (c <= 0x20 || c === 0x7f) throw rangeError('key must not contain spaces or control characters');
		if (c >= 0x80) ascii = false;
	}
	if (ascii ? length > KEY_MAX : length > SURELY_SHORT && Buffer.byteLength(key) > KEY_MAX) throw keyRangeError(Buffer.byteLength(key));
	return key;
}

function toValueBuffer(value) {
	if (Buffer.isBuffer(value)) return value;
	if (typeof value === 'string') return Buffer.from(value);
	if (typeof value === 'number' || typeof value === 'boolean') return Buffer.from(String(value));
	throw typeError('value must be a string, a Buffer, a number or a boolean');
}

// The value as a string or Buffer, as the protocols write it.
function checkValue(value) {
	if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
	if (typeof value === 'number' || typeof value === 'boolean') return String(value);
	throw typeError('value must be a string, a Buffer, a number or a boolean');
}

module.exports = { KEY_MAX, toKeyBuffer, toValueBuffer, checkKey, checkValue };

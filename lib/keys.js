// keys: memcached's key and value rules, checked before anything reaches a socket or the engine.
// A key or value that could split a protocol line is refused here, so it can never inject a command.
'use strict';

const KEY_MAX = 250;

function toKeyBuffer(key) {
	if (typeof key !== 'string' && !Buffer.isBuffer(key)) throw new TypeError('key must be a string or a Buffer');
	const buf = Buffer.isBuffer(key) ? key : Buffer.from(key);
	if (buf.length === 0 || buf.length > KEY_MAX) throw new RangeError(`key must be 1 to ${KEY_MAX} bytes, got ${buf.length}`);
	for (let i = 0; i < buf.length; i++) {
		if (buf[i] <= 0x20 || buf[i] === 0x7f) throw new RangeError('key must not contain spaces or control characters');
	}
	return buf;
}

function toValueBuffer(value) {
	if (Buffer.isBuffer(value)) return value;
	if (typeof value === 'string') return Buffer.from(value);
	if (typeof value === 'number' || typeof value === 'boolean') return Buffer.from(String(value));
	throw new TypeError('value must be a string, a Buffer, a number or a boolean');
}

module.exports = { KEY_MAX, toKeyBuffer, toValueBuffer };

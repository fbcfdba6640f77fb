// typed_values: option typedValues — values keep their JavaScript type through the item's flags,
// with npm memcached's flag values, so that either client reads what the other stored.
'use strict';

const { SimplecachedError, typeError } = require('./errors');

// npm memcached's flags (lib/memcached.js): strings carry 0.
const FLAG_JSON = 1 << 1;
const FLAG_BINARY = 1 << 2;
const FLAG_NUMERIC = 1 << 3;

// {value, flags} to store: a string as is, a Buffer's bytes, a number's digits, anything else as
// JSON (booleans, null, objects, arrays), as npm memcached writes them.
function encodeTyped(value) {
	if (typeof value === 'string') return { value, flags: 0 };
	if (Buffer.isBuffer(value)) return { value, flags: FLAG_BINARY };
	if (typeof value === 'number') return { value: String(value), flags: FLAG_NUMERIC };
	const json = JSON.stringify(value);
	if (json === undefined) throw typeError(`option typedValues: a ${typeof value} cannot be stored`);
	return { value: json, flags: FLAG_JSON };
}

// The value of a data block data[start, end) stored with `flags`; other flags decode as without
// the option (encoding, or a Buffer when encoding is null).
function decodeTyped(data, start, end, flags, encoding) {
	if (flags === FLAG_BINARY) return Buffer.from(data.subarray(start, end));
	if (flags === FLAG_NUMERIC) return Number(data.toString('latin1', start, end));
	if (flags === FLAG_JSON) {
		const text = data.toString('utf8', start, end);
		try {
			return JSON.parse(text);
		} catch (err) {
			return new SimplecachedError('EDECODE', `a value stored as JSON (flags ${flags}) does not parse: ${err.message}`, { cause: err });
		}
	}
	return encoding === null ? Buffer.from(data.subarray(start, end)) : data.toString(encoding, start, end);
}

module.exports = { encodeTyped, decodeTyped, FLAG_JSON, FLAG_BINARY, FLAG_NUMERIC };

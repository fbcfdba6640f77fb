// options: validation of user options, throwing TypeError/RangeError that name the option.
// Native code receives only values checked here.
'use strict';

const { typeError, rangeError } = require('./errors');

function integer(options, name, fallback, min, max) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'number' || !Number.isInteger(value)) {
		throw typeError(`option ${name} must be an integer, got ${typeof value === 'number' ? value : typeof value}`);
	}
	if (value < min || value > max) throw rangeError(`option ${name} must be between ${min} and ${max}, got ${value}`);
	return value;
}

function string(options, name, fallback) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'string' || value === '') throw typeError(`option ${name} must be a non-empty string`);
	return value;
}

function boolean(options, name, fallback) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'boolean') throw typeError(`option ${name} must be a boolean`);
	return value;
}

// Accepts `port` or `{port, ...}` as the seed's API did.
function normalize(options) {
	if (options === undefined || options === null) return {};
	if (typeof options === 'number') return { port: options };
	if (typeof options !== 'object') throw typeError('options must be an object or a port number');
	return options;
}

// Edit distance between two names, case ignored: a key typed in the wrong case counts as near.
function distance(a, b) {
	a = a.toLowerCase();
	b = b.toLowerCase();
	let row = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const next = [i];
		for (let j = 1; j <= b.length; j++) {
			next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
		}
		row = next;
	}
	return row[b.length];
}

// How far a typed key is from a known name: a name the key abbreviates or extends comes first
// ('prot' is 'protocol' rather than 'port'), then the fewest edits.
function nearness(key, name) {
	const a = key.toLowerCase();
	const b = name.toLowerCase();
	return (a.includes(b) || b.includes(a) ? 0 : 1000) + distance(a, b);
}

// Refuses a key that is not in `known` (an option nobody reads would be silently ignored), naming
// the closest known one. what: 'option' or 'option of set()', for the message.
function checkKeys(options, known, what) {
	for (const key of Object.keys(options)) {
		if (known.includes(key)) continue;
		const closest = known.reduce((best, name) => (nearness(key, name) < nearness(key, best) ? name : best));
		const err = typeError(`unknown ${what} '${key}': did you mean '${closest}'? (known: ${known.join(', ')})`);
		err.code = 'ERR_INVALID_ARG_VALUE';
		throw err;
	}
}

module.exports = { integer, string, boolean, normalize, checkKeys };

// options: validation of user options, throwing TypeError/RangeError that name the option.
// Native code receives only values checked here.
'use strict';

function integer(options, name, fallback, min, max) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'number' || !Number.isInteger(value)) {
		throw new TypeError(`option ${name} must be an integer, got ${typeof value === 'number' ? value : typeof value}`);
	}
	if (value < min || value > max) throw new RangeError(`option ${name} must be between ${min} and ${max}, got ${value}`);
	return value;
}

function string(options, name, fallback) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'string' || value === '') throw new TypeError(`option ${name} must be a non-empty string`);
	return value;
}

function boolean(options, name, fallback) {
	const value = options[name];
	if (value === undefined || value === null) return fallback;
	if (typeof value !== 'boolean') throw new TypeError(`option ${name} must be a boolean`);
	return value;
}

// Accepts `port` or `{port, ...}` as the seed's API did.
function normalize(options) {
	if (options === undefined || options === null) return {};
	if (typeof options === 'number') return { port: options };
	if (typeof options !== 'object') throw new TypeError('options must be an object or a port number');
	return options;
}

module.exports = { integer, string, boolean, normalize };

// errors: the Error objects that simplecached hands to callers, built in one place.
// The Client's errors are all SimplecachedErrors whose `code` is one of CODES (README "Errors").
'use strict';

// Every code a SimplecachedError from the Client can carry, and what it means.
const CODES = {
	ECONNREFUSED: 'the server refused the connection (nothing listens there)',
	ECONNRESET: 'the connection dropped with the request in flight',
	ECONNECT: 'the connection could not be made for another reason (DNS, TLS, routing): see .cause',
	ETIMEDOUT: 'no connection or no reply within connectTimeout / timeout',
	ESERVERDEAD: 'the server is marked dead after `failures` failures and is left alone for `retry` ms',
	ECLOSED: 'the client was closed',
	ESERVER: 'the server answered ERROR, CLIENT_ERROR or SERVER_ERROR: its line is in .serverMessage',
	EPROTO: 'the server answered something that is no reply to the request; the connection is dropped',
	ENOTSUP: "the seed protocol cannot do this (no expiry, flags, counters, ...): use protocol 'memcached'",
	EDECODE: 'option typedValues: a value stored as JSON does not parse',
};

class SimplecachedError extends Error {
	// extra: more fields (serverMessage, server, cause, partial).
	constructor(code, message, extra) {
		super(message, extra && extra.cause ? { cause: extra.cause } : undefined);
		this.name = 'SimplecachedError';
		this.code = code;
		if (extra) for (const key of Object.keys(extra)) if (key !== 'cause') this[key] = extra[key];
	}
}

// A server's error line (ERROR, CLIENT_ERROR <why>, SERVER_ERROR <why>) as the Client reports it.
// `reply` is the line's older name, kept for code written before serverMessage.
function serverError(line) {
	const space = line.indexOf(' ');
	const word = space < 0 ? line : line.slice(0, space);
	const detail = space < 0 ? '' : line.slice(space + 1);
	const message = detail ? `${word}: ${detail}` : `server answered ${word}`;
	return new SimplecachedError('ESERVER', message, { serverMessage: line, reply: line });
}

function connectionError(message, code) {
	return new SimplecachedError(code, message);
}

// A socket's own error in the Client's terms: refused, timed out and dropped keep their names
// (EPIPE is a drop too); anything else is ECONNECT before the connection is up, ECONNRESET after.
function socketError(err, label, connected) {
	const own = err.code === 'EPIPE' ? 'ECONNRESET' : err.code;
	const known = own === 'ECONNREFUSED' || own === 'ECONNRESET' || own === 'ETIMEDOUT';
	const code = known ? own : connected ? 'ECONNRESET' : 'ECONNECT';
	const why = err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
	return new SimplecachedError(code, `${label}: ${why}`, { cause: err });
}

// An error of the in-process Engine: code is the reply's first word (SERVER_ERROR).
function protocolError(line) {
	const space = line.indexOf(' ');
	const code = space < 0 ? line : line.slice(0, space);
	const detail = space < 0 ? '' : line.slice(space + 1);
	const err = new Error(detail ? `${code}: ${detail}` : `server answered ${code}`);
	err.code = code;
	err.reply = line;
	return err;
}

// An argument error, as Node's own: TypeError with code ERR_INVALID_ARG_VALUE (or _TYPE).
function argumentError(message, code = 'ERR_INVALID_ARG_VALUE', Kind = TypeError) {
	const err = new Kind(message);
	err.code = code;
	return err;
}

const typeError = (message) => argumentError(message, 'ERR_INVALID_ARG_TYPE', TypeError);
const rangeError = (message) => argumentError(message, 'ERR_OUT_OF_RANGE', RangeError);

module.exports = { SimplecachedError, CODES, serverError, connectionError, socketError, protocolError, argumentError, typeError, rangeError };

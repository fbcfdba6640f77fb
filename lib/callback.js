// callback: runs an async operation either Node-style (callback last) or as a Promise.
// Every public async method goes through here, so both styles behave the same.
'use strict';

const { typeError } = require('./errors');

function callbackOrPromise(callback, start) {
	if (callback !== undefined && typeof callback !== 'function') {
		throw typeError('callback must be a function');
	}
	if (callback) {
		start(callback);
		return undefined;
	}
	return new Promise((resolve, reject) => {
		start((err, result) => (err ? reject(err) : resolve(result)));
	});
}

module.exports = { callbackOrPromise };

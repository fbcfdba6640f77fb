// request: one client request from validation to its answer — the fields a protocol encodes, the
// state its reader keeps while the reply arrives, and how the caller is answered (callback or Promise).
'use strict';

class Request {
	constructor(op, key) {
		this.op = op;
		this.key = key;            // a checked key: string or Buffer
		this.keys = null;          // getMulti: checked keys; names maps each as received to the caller's
		this.names = null;
		this.value = null;         // storage commands: string or Buffer
		this.flags = 0;
		this.ttl = 0;
		this.cas = null;
		this.delta = null;
		this.arg = null;           // flushAll delay, stats group
		this.callback = null;      // (err, result), or resolve/reject of the caller's Promise
		this.resolve = null;
		this.reject = null;
		this.deadline = 0;         // ms timestamp past which the request has timed out; 0: none
		// Reader state.
		this.complete = false;
		this.result = undefined;
		this.error = null;
		this.need = 0;             // bytes the reader needs from where it stopped before it can go on
		this.blockBytes = -1;      // a VALUE header read whose data block has not all arrived
		this.blockFlags = 0;
		this.blockCas = null;
		this.blockKey = null;
	}

	// Answers the caller exactly once. A callback that throws must not break the reader that
	// called it, so its exception is rethrown on its own tick, where the caller's code will see it.
	finish(err, result) {
		const callback = this.callback;
		if (callback !== null) {
			this.callback = null;
			try {
				callback(err, result);
			} catch (thrown) {
				process.nextTick(rethrow, thrown);
			}
		} else if (this.resolve !== null) {
			if (err) this.reject(err);
			else this.resolve(result);
			this.resolve = null;
		}
	}
}

function rethrow(err) {
	throw err;
}

module.exports = Request;

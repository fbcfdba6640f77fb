// get_batch: single-key gets made in one turn of the event loop on one connection, sent as one
// multi-key `get k1 k2 ...` and answered from its one reply — one server command and write, not one each.
'use strict';

const { SimplecachedError } = require('./errors');

// Keys per batch: bounds the command line (250-byte keys: ~25 KB, which any proxy takes) and how
// long one reply holds up the replies behind it.
const BATCH_MAX = 100;

// True when data[start, end) holds the key's bytes. ASCII string keys compare code unit by
// byte; other strings (UTF-8 may differ in length) and Buffer keys compare as Buffers.
function keyAt(data, start, end, key) {
	if (typeof key !== 'string') return key.length === end - start && key.equals(data.subarray(start, end));
	if (key.length !== end - start) return Buffer.byteLength(key) === end - start && Buffer.from(key).equals(data.subarray(start, end));
	for (let i = 0; i < key.length; i++) {
		const c = key.charCodeAt(i);
		if (c >= 0x80) return Buffer.from(key).equals(data.subarray(start, end));
		if (c !== data[start + i]) return false;
	}
	return true;
}

class GetBatch {
	// members: Requests of one op, 'get' or 'gets', in the order they were made; onLost(): told
	// when the server answers the batch with an error line.
	constructor(members, onLost) {
		this.onLost = onLost;
		this.memberOp = members[0].op;
		this.op = this.memberOp === 'get' ? 'getBatch' : 'getsBatch';
		this.members = members;
		this.deadline = members[0].deadline;   // the oldest member's: it times out first
		this._cursor = 0;                      // the member the next VALUE most likely answers
		// Reader state, as a Request has it.
		this.complete = false;
		this.result = undefined;
		this.error = null;
		this.need = 0;
		this.blockBytes = -1;
		this.blockFlags = 0;
		this.blockCas = null;
		this.blockMember = null;
	}

	// The member a VALUE line's key [start, end) answers, or null if no member is waiting for it.
	// Servers answer keys in the order asked and skip misses, so the search starts after the
	// last member answered; a reordering server (or proxy) is still answered right.
	memberFor(data, start, end) {
		const { members } = this;
		for (let n = 0; n < members.length; n++) {
			const i = (this._cursor + n) % members.length;
			const member = members[i];
			if (member.result === undefined && keyAt(data, start, end, member.key)) {
				this._cursor = i + 1;
				return member;
			}
		}
		return null;
	}

	// Answers every member: its value, null for a key the reply did not hold, or the error. An
	// error line may be about one key only — nutcracker answers a whole multi-key get with
	// SERVER_ERROR (and hangs up) when one of its servers is down — so the owner is told, and
	// sends gets one by one for a while: each then fails or succeeds on its own.
	finish(err) {
		if (err && err.reply !== undefined) this.onLost();
		for (const member of this.members) {
			// A value that did not decode (typedValues: bad JSON) fails its own get only.
			if (member.result instanceof SimplecachedError) member.finish(member.result);
			else if (member.result !== undefined) member.finish(null, member.result);
			else member.finish(err, err ? undefined : null);
		}
	}
}

// Where the run of batchable requests that starts at requests[i] ends: past consecutive gets
// (or gets-es: the two differ in their replies) up to BATCH_MAX, or i + 1 for anything else.
function batchEnd(requests, i) {
	const { op } = requests[i];
	let end = i + 1;
	if (op !== 'get' && op !== 'gets') return end;
	const limit = Math.min(requests.length, i + BATCH_MAX);
	while (end < limit && requests[end].op === op) end++;
	return end;
}

module.exports = { GetBatch, batchEnd, BATCH_MAX };

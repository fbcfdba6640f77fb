// Requests cut at chosen bytes, sent so that each cut is a read boundary at the server: the bytes
// after a cut go out only once every request before it has been answered (so were read).
'use strict';

const net = require('net');

// The writes for a list of requests, each {bytes, cut}: a cut request ends one write and begins
// the next. Each write says how many requests are whole once it is sent (its replies to wait
// for). A cut at 0 or at the end is no cut. Cut requests should follow a whole one (the first
// write needs a reply to wait for, or its cut would not be a read boundary).
function pacedWrites(requests) {
	const writes = [];
	let pending = [];
	let whole = 0;
	for (const { bytes, cut } of requests) {
		if (cut > 0 && cut < bytes.length) {
			pending.push(bytes.subarray(0, cut));
			writes.push({ bytes: Buffer.concat(pending), replies: whole });
			pending = [bytes.subarray(cut)];
		} else {
			pending.push(bytes);
		}
		whole++;
	}
	writes.push({ bytes: Buffer.concat(pending), replies: whole });
	return writes;
}

// Reply counters: (buf, from) -> {end} past the first whole reply at `from`, or {need} (the
// length buf must reach before asking again; buf.length + 1 when unknown).

// memcached's text and meta replies, and the seed protocol's: a line, except "VALUE" lines whose
// data blocks run to an "END" line (a get), and "VA <n>" whose block follows (an mg).
function textReply(buf, from) {
	let at = from;
	for (;;) {
		const nl = buf.indexOf('\n', at);
		if (nl < 0) return { need: buf.length + 1 };
		const line = buf.toString('latin1', at, nl + 1);
		at = nl + 1;
		const value = /^VALUE \S+ \d+ (\d+)/.exec(line);
		if (value) {
			at += Number(value[1]) + 2;
			if (at > buf.length) return { need: at };
			continue;
		}
		const va = /^VA (\d+)/.exec(line);
		if (va) {
			const end = at + Number(va[1]) + 2;
			return end > buf.length ? { need: end } : { end };
		}
		if (line.startsWith('VALUE ')) continue;   // the seed protocol's: the value is on the line
		return { end: at };
	}
}

// The binary protocol: one packet.
function binaryReply(buf, from) {
	if (buf.length - from < 24) return { need: from + 24 };
	const end = from + 24 + buf.readUInt32BE(from + 8);
	return end > buf.length ? { need: end } : { end };
}

// One connection's reply stream, counted as it arrives: whole replies move to `answered`, and the
// chunks of a reply still arriving are joined only when its counter asks for more than it had.
class PacedConnection {
	constructor(socket, replyAt) {
		this.socket = socket;
		this.replyAt = replyAt;
		this.chunks = [];     // received past the last whole reply
		this.length = 0;
		this.answered = [];   // whole replies not yet returned by send()
		this.replies = 0;
		this.need = 1;
		this.closed = false;
		this.wake = null;
		socket.setNoDelay(true);
		socket.on('data', (d) => {
			this.chunks.push(d);
			this.length += d.length;
			if (this.length >= this.need) this._count();
		});
		socket.on('error', () => {});
		socket.on('close', () => {
			this.closed = true;
			this._notify();
		});
	}

	static open(port, replyAt) {
		return new Promise((resolve, reject) => {
			const socket = net.connect(port, '127.0.0.1');
			socket.once('error', reject);
			socket.once('connect', () => {
				socket.removeListener('error', reject);
				resolve(new PacedConnection(socket, replyAt));
			});
		});
	}

	_count() {
		const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
		let at = 0;
		for (;;) {
			const r = this.replyAt(buf, at);
			if (r.end === undefined) {
				this.need = r.need - at;
				break;
			}
			at = r.end;
			this.replies++;
		}
		if (at > 0) this.answered.push(buf.subarray(0, at));
		this.chunks = at < buf.length ? [buf.subarray(at)] : [];
		this.length = buf.length - at;
		this._notify();
	}

	_notify() {
		const wake = this.wake;
		this.wake = null;
		if (wake) wake();
	}

	async _until(replies) {
		while (this.replies < replies) {
			if (this.closed) throw new Error(`connection closed after ${this.replies} of ${replies} replies`);
			await new Promise((resolve) => { this.wake = resolve; });
		}
	}

	// Sends the writes in turn, each once the replies before it are in; resolves with every reply
	// byte received for them.
	async send(writes) {
		const base = this.replies;
		let answered = 0;   // replies that prove the previous write was read
		for (const { bytes, replies } of writes) {
			await this._until(base + answered);
			this.socket.write(bytes);
			answered = replies;
		}
		await this._until(base + answered);
		const replies = Buffer.concat(this.answered);
		this.answered = [];
		return replies;
	}

	close() {
		this.socket.destroy();
	}
}

module.exports = { pacedWrites, textReply, binaryReply, PacedConnection };

// Binary protocol helpers for tests: request encoding (lengths may lie, to make malformed headers),
// response decoding, and a connection that reads replies in rounds ended by a NOOP sentinel.
'use strict';

const { Peer } = require('./differential');

const OP = {
	GET: 0x00, SET: 0x01, ADD: 0x02, REPLACE: 0x03, DELETE: 0x04, INCREMENT: 0x05, DECREMENT: 0x06,
	QUIT: 0x07, FLUSH: 0x08, GETQ: 0x09, NOOP: 0x0a, VERSION: 0x0b, GETK: 0x0c, GETKQ: 0x0d,
	APPEND: 0x0e, PREPEND: 0x0f, STAT: 0x10, SETQ: 0x11, ADDQ: 0x12, REPLACEQ: 0x13, DELETEQ: 0x14,
	INCREMENTQ: 0x15, DECREMENTQ: 0x16, QUITQ: 0x17, FLUSHQ: 0x18, APPENDQ: 0x19, PREPENDQ: 0x1a,
	VERBOSITY: 0x1b, TOUCH: 0x1c, GAT: 0x1d, GATQ: 0x1e, SASL_LIST_MECHS: 0x20, SASL_AUTH: 0x21,
	SASL_STEP: 0x22, GATK: 0x23, GATKQ: 0x24,
};

const toBuf = (b) => (Buffer.isBuffer(b) ? b : Buffer.from(b || '', 'latin1'));

// One request. Lengths default to the real ones; keylen/extlen/bodylen/magic override them.
function request(opcode, f = {}) {
	const extras = toBuf(f.extras);
	const key = toBuf(f.key);
	const value = toBuf(f.value);
	const h = Buffer.alloc(24);
	h[0] = f.magic ?? 0x80;
	h[1] = opcode;
	h.writeUInt16BE(f.keylen ?? key.length, 2);
	h[4] = f.extlen ?? extras.length;
	h[5] = f.datatype ?? 0;
	h.writeUInt16BE(f.vbucket ?? 0, 6);
	h.writeUInt32BE(f.bodylen ?? extras.length + key.length + value.length, 8);
	h.writeUInt32BE((f.opaque ?? 0) >>> 0, 12);
	h.writeBigUInt64BE(BigInt(f.cas ?? 0), 16);
	return Buffer.concat([h, extras, key, value]);
}

const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(n))); return b; };
const storeExtras = (flags, exptime) => Buffer.concat([u32(flags), u32(exptime)]);
const arithExtras = (delta, initial, exptime) => Buffer.concat([u64(delta), u64(initial), u32(exptime)]);

// Splits a reply stream into packets; `rest` is a trailing incomplete packet.
function parse(buf) {
	const packets = [];
	let pos = 0;
	while (buf.length - pos >= 24) {
		const bodylen = buf.readUInt32BE(pos + 8);
		if (buf.length - pos < 24 + bodylen) break;
		const keylen = buf.readUInt16BE(pos + 2);
		const extlen = buf[pos + 4];
		const body = buf.subarray(pos + 24, pos + 24 + bodylen);
		packets.push({
			magic: buf[pos], opcode: buf[pos + 1], keylen, extlen, datatype: buf[pos + 5],
			status: buf.readUInt16BE(pos + 6), bodylen, opaque: buf.readUInt32BE(pos + 12),
			cas: buf.readBigUInt64BE(pos + 16), extras: body.subarray(0, extlen),
			key: body.subarray(extlen, extlen + keylen), value: body.subarray(extlen + keylen),
			raw: buf.subarray(pos, pos + 24 + bodylen),
		});
		pos += 24 + bodylen;
	}
	return { packets, rest: buf.subarray(pos) };
}

const SENTINEL_OPAQUE = 0x5e5e5e5e;
const SENTINEL = request(OP.NOOP, { opaque: SENTINEL_OPAQUE });

// One connection (the text Peer's, which it extends); round() writes chunks and a NOOP sentinel
// and resolves once the sentinel's answer arrived, the server hung up, or the time ran out.
class BinaryPeer extends Peer {
	// Servers hang up on bad binary input: a reset after the connection is up only closes it.
	open(onConnect) {
		const socket = super.open(onConnect);
		socket.on('error', () => {});
		return socket;
	}

	_done() {
		const r = this.received;
		return this.sentinel && r.length >= 24 && r[r.length - 24] === 0x81 && r[r.length - 23] === OP.NOOP &&
			r.readUInt32BE(r.length - 12) === SENTINEL_OPAQUE;
	}

	// chunks: Buffers written one by one (with a pause between when `gapMs`); sentinel: end the
	// round with a NOOP (else it ends when the server hangs up or after timeoutMs).
	async round(chunks, { sentinel = true, timeoutMs = 30000, gapMs = 0 } = {}) {
		this.received = Buffer.alloc(0);
		this.sentinel = sentinel;
		const done = new Promise((resolve) => { this.waiter = resolve; });
		for (const chunk of chunks) {
			if (this.closed) break;
			this.socket.write(chunk);
			if (gapMs) await new Promise((resolve) => setTimeout(resolve, gapMs));
		}
		if (sentinel && !this.closed) this.socket.write(SENTINEL);
		this._check();
		let timer;
		await Promise.race([done, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
		clearTimeout(timer);
		this.waiter = null;
		return { bytes: this.received, closed: this.closed };
	}

	close() {
		this.socket.destroy();
	}
}

// The reply stream with every cas replaced by its role (order of first appearance in `roles`, a
// Map kept per server across rounds), as readable lines: two servers numbering cas differently
// still compare equal.
function normalize(bytes, roles) {
	const { packets, rest } = parse(bytes);
	const lines = packets.map((p) => {
		let cas = '0';
		if (p.cas !== 0n) {
			if (!roles.has(p.cas)) roles.set(p.cas, roles.size + 1);
			cas = `#${roles.get(p.cas)}`;
		}
		return `${p.magic.toString(16)} op=${p.opcode.toString(16)} st=${p.status.toString(16)} key=${p.keylen} ext=${p.extlen} ` +
			`dt=${p.datatype} body=${p.bodylen} opaque=${p.opaque.toString(16)} cas=${cas} ${p.raw.subarray(24).toString('hex')}`;
	});
	if (rest.length) lines.push(`partial ${rest.toString('hex')}`);
	return lines.join('\n');
}

module.exports = { OP, request, parse, normalize, BinaryPeer, storeExtras, arithExtras, u32, u64, SENTINEL_OPAQUE };

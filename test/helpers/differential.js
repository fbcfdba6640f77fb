// Differential testing against memcached: the same bytes go to both servers, replies must match.
// Peer collects one connection's replies; normalize() replaces cas uniques by their role.
'use strict';

const assert = require('assert');
const net = require('net');
const { render } = require('./sessions');

// The line end first closes whatever unterminated garbage a round may end with (both servers
// answer that line with ERROR), so the version command is always read as one.
const SENTINEL = Buffer.from('\r\nversion\r\n');
const SENTINEL_REPLY = 'VERSION 1.6.18\r\n';

// One connection whose replies are read in rounds: each round ends with a `version` command, so
// the round is complete when its reply ends with the VERSION line (or the server hung up).
class Peer {
	constructor(port) {
		this.port = port;
		this.received = Buffer.alloc(0);
		this.closed = false;
		this.waiter = null;
	}

	// The socket, calling onConnect once it can carry commands (a subclass may speak TLS).
	open(onConnect) {
		return net.connect(this.port, '127.0.0.1', onConnect);
	}

	connect() {
		return new Promise((resolve, reject) => {
			this.socket = this.open(resolve);
			this.socket.setNoDelay(true);
			this.socket.once('error', reject);
			this.socket.on('data', (d) => {
				this.received = Buffer.concat([this.received, d]);
				this._check();
			});
			this.socket.on('close', () => {
				this.closed = true;
				this._check();
			});
		});
	}

	// Whether this round's reply is complete (a subclass may end its rounds another way).
	_done() {
		return this.received.toString('latin1').endsWith(SENTINEL_REPLY);
	}

	_check() {
		if (this.waiter && (this.closed || this._done())) {
			const resolve = this.waiter;
			this.waiter = null;
			resolve();
		}
	}

	// Writes the chunks then the sentinel; resolves with this round's reply (latin1 text) and
	// whether the server closed the connection.
	async round(chunks, timeoutMs = 30000) {
		this.received = Buffer.alloc(0);
		const done = new Promise((resolve) => { this.waiter = resolve; });
		if (!this.closed) {
			for (const chunk of chunks) this.socket.write(chunk);
			this.socket.write(SENTINEL);
		}
		this._check();
		let timer;
		await Promise.race([done, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
		clearTimeout(timer);
		this.waiter = null;
		return { text: this.received.toString('latin1'), closed: this.closed };
	}

	close() {
		this.socket.destroy();
	}
}

// Meta replies: their status codes, and the flags in them that differ between two correct servers.
const META_STATUS = new Set(['HD', 'VA', 'EN', 'NF', 'NS', 'EX']);

function roleOf(roles, cas) {
	if (!roles.has(cas)) roles.set(cas, roles.size);
	return roles.get(cas);
}

// A meta reply line: "c<cas>" becomes its role, "t<seconds>" (time-dependent) becomes "t<ttl>"
// (but "t-1", no ttl, stays); with a "k<key>" flag the cas is remembered for that key.
function normalizeMeta(parts, roles, onValue) {
	const first = parts[0] === 'VA' ? 2 : 1;
	let cas = null;
	let key = null;
	for (let i = first; i < parts.length; i++) {
		if (/^c\d+$/.test(parts[i])) {
			cas = parts[i].slice(1);
			parts[i] = `c<cas#${roleOf(roles, cas)}>`;
		} else if (/^t\d+$/.test(parts[i])) {
			parts[i] = 't<ttl>';
		} else if (parts[i][0] === 'k' && key === null) {
			key = parts[i].slice(1);
		}
	}
	if (cas !== null && key !== null) onValue(key, cas);
	return parts.join(' ');
}

// Walks a reply stream, skipping data blocks, and calls onValue(key, casText) for each VALUE line
// (or meta reply with k and c flags) that carries a cas. Returns the text with each cas replaced by
// a role number from `roles` (a Map from cas text to role), so that two servers numbering cas
// differently still compare.
function normalize(text, roles, onValue = () => {}) {
	let out = '';
	let pos = 0;
	while (pos < text.length) {
		const nl = text.indexOf('\r\n', pos);
		if (nl < 0) {
			out += text.slice(pos);
			break;
		}
		const line = text.slice(pos, nl);
		pos = nl + 2;
		const parts = line.split(' ');
		if (parts[0] === 'VALUE' && (parts.length === 4 || parts.length === 5)) {
			const bytes = Number(parts[3]);
			if (parts.length === 5) {
				onValue(parts[1], parts[4]);
				if (!roles.has(parts[4])) roles.set(parts[4], roles.size);
				parts[4] = `<cas#${roles.get(parts[4])}>`;
			}
			out += `${parts.join(' ')}\r\n${text.slice(pos, pos + bytes + 2)}`;
			pos += bytes + 2;
		} else if (META_STATUS.has(parts[0])) {
			out += `${normalizeMeta(parts, roles, onValue)}\r\n`;
			// A VA line's data block follows it; an ma's value is short and never holds a CRLF.
			if (parts[0] === 'VA' && /^\d+$/.test(parts[1] || '')) {
				const bytes = Number(parts[1]);
				out += text.slice(pos, pos + bytes + 2);
				pos += bytes + 2;
			}
		} else {
			out += `${line}\r\n`;
		}
	}
	return out;
}

// Where two normalized replies first differ, with some context, for a readable failure.
function firstDifference(a, b) {
	let i = 0;
	while (i < a.length && i < b.length && a[i] === b[i]) i++;
	const from = Math.max(0, i - 120);
	return `at byte ${i}:\n  memcached:    ${JSON.stringify(a.slice(from, i + 120))}\n  simplecached: ${JSON.stringify(b.slice(from, i + 120))}`;
}

// The two sides of a differential test, memcached's port first: a peer each, with that server's
// cas uniques by key (for the cas arguments) and their roles (for normalize()).
async function connectSides(ports, makePeer = (port) => new Peer(port)) {
	const sides = ports.map((port) => ({ peer: makePeer(port), roles: new Map(), cas: new Map() }));
	await Promise.all(sides.map((side) => side.peer.connect()));
	return sides;
}

// Sends the commands (each a Buffer or an array of pieces) to both sides, cut at `cuts`; their
// replies, normalized, must be identical. Returns whether memcached hung up.
async function exchangeSides(sides, pieces, cuts, label) {
	const commands = pieces.map((p) => (Array.isArray(p) ? p : [p]));
	const results = await Promise.all(sides.map((side) => side.peer.round(render(commands, side.cas, cuts))));
	const [expected, actual] = results.map((result, i) => normalize(result.text, sides[i].roles, (k, cas) => sides[i].cas.set(k, cas)));
	assert.strictEqual(actual, expected, `${label}: replies differ ${firstDifference(expected, actual)}`);
	assert.strictEqual(results[1].closed, results[0].closed, `${label}: memcached closed=${results[0].closed}`);
	return results[0].closed;
}

module.exports = { Peer, normalize, firstDifference, connectSides, exchangeSides, SENTINEL_REPLY };

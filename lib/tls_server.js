// tls_server: a TLS listener built on Node's `tls` whose decrypted bytes feed the C engine, one
// native Session per connection. Off the hot path by design: plain TCP listeners stay all-C.
'use strict';

const tls = require('tls');
const native = require('./native');

const EMPTY = Buffer.alloc(0);
// As the native listeners: the over-the-limit reply, and how long a connection waits after its
// last reply for the peer to close.
const { REPLY_TOO_MANY_CONNECTIONS: TOO_MANY, LINGER_MS } = native.constants;
const HANDSHAKE_MS = 10000;
const TIMEOUT_CHECK_MS = 1000;

// Serves one TLS socket: input goes to the session, replies are written back. While the socket
// holds unsent replies past its high-water mark (write() returned false) or the session stopped
// at its output mark, nothing more is read, so a client that does not read cannot make the
// server buffer without bound; the session's pending input is bounded by the protocol limits.
// After the peer's end (or shutdown()), the commands already received are still answered, then
// the socket ends; once its replies are flushed the peer has LINGER_MS to close.
// Returns {shutdown(): stop reading, answer what was received, end; overdue(now, limits): whether
// the connection has been idle (no command) or stalled (replies unread) for longer than allowed}.
function serve(socket, session) {
	let waiting = false;    // paused until 'drain' or the next tick
	let inputEnded = false;
	let ending = false;
	let lastActive = Date.now();   // a command executed, or replies written (as conn.c counts)
	let stalledSince = 0;   // when write() last returned false and no 'drain' came since
	const end = () => {
		if (ending) return;
		ending = true;
		socket.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
		socket.end();
	};
	const settle = () => {
		if (session.state !== 'open' || (inputEnded && !waiting && !session.blocked)) end();
	};
	const pump = (chunk) => {
		if (ending || session.state !== 'open') return;
		const replies = session.feed(chunk);
		if (session.executed || replies.length > 0) lastActive = Date.now();
		const flowing = replies.length === 0 || socket.write(replies);
		if (!flowing && !stalledSince) stalledSince = Date.now();
		if (session.state === 'open' && (!flowing || session.blocked) && !waiting) {
			waiting = true;
			socket.pause();
			if (flowing) setImmediate(resume);
			else socket.once('drain', resume);
		}
		settle();
	};
	const resume = () => {
		waiting = false;
		stalledSince = 0;
		if (socket.destroyed) return;
		if (session.blocked) pump(EMPTY);
		if (!waiting && !inputEnded) socket.resume();
		settle();
	};
	const shutdown = () => {
		inputEnded = true;
		socket.pause();
		settle();
	};
	socket.setNoDelay(true);
	socket.on('data', pump);
	socket.on('end', shutdown);
	socket.on('error', () => socket.destroy());
	socket.on('close', () => session.close());
	// The plain listeners' idle and write timeouts, at the granularity JavaScript sees: write
	// progress is known by 'drain'.
	const overdue = (now, { idleTimeout, writeTimeout }) => (stalledSince > 0
		? writeTimeout > 0 && now - stalledSince >= writeTimeout * 1000
		: idleTimeout > 0 && !inputEnded && now - lastActive >= idleTimeout * 1000);
	socket.on('drain', () => { stalledSince = 0; });
	return { shutdown, overdue };
}

class TlsListener {
	// engine: the native Engine; options: {protocol, maxConnections, idleTimeout, writeTimeout,
	// tls: tls.createServer options}
	constructor(engine, { protocol, maxConnections, idleTimeout = 0, writeTimeout = 0, tls: tlsOptions }) {
		this._engine = engine;
		this._sockets = new Map();   // TLS sockets being served -> serve()'s {shutdown, overdue}
		this._limits = { idleTimeout, writeTimeout };
		this._timer = null;
		if (idleTimeout > 0 || writeTimeout > 0) {
			this._timer = setInterval(() => this._closeOverdue(), TIMEOUT_CHECK_MS);
			this._timer.unref();
		}
		this._raw = new Set();       // every TCP connection, handshakes in progress included
		// A client gets HANDSHAKE_MS (not Node's 120 s) to finish its handshake, unless tls says otherwise.
		// allowHalfOpen: the peer's end must not end our side before its commands are answered.
		this._server = tls.createServer({ handshakeTimeout: HANDSHAKE_MS, ...tlsOptions, allowHalfOpen: true },
			(socket) => this._accept(socket, protocol, maxConnections));
		// A failed handshake concerns that client only.
		this._server.on('tlsClientError', (err, socket) => socket.destroy());
		this._server.on('connection', (raw) => {
			this._raw.add(raw);
			raw.on('close', () => this._raw.delete(raw));
		});
	}

	_accept(socket, protocol, maxConnections) {
		if (this._engine.stats().curr_connections >= maxConnections) {
			this._engine.countRejected();
			socket.on('error', () => socket.destroy());
			socket.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
			socket.end(TOO_MANY);
			return;
		}
		socket.on('close', () => this._sockets.delete(socket));
		this._sockets.set(socket, serve(socket, new native.Session(this._engine, { protocol })));
	}

	// Idle connections end gracefully; stalled readers are dropped, as on the plain ports.
	_closeOverdue() {
		const now = Date.now();
		for (const [socket, served] of this._sockets) {
			if (!served.overdue(now, this._limits)) continue;
			if (this._limits.writeTimeout > 0 && socket.writableLength > 0) socket.destroy();
			else served.shutdown();
		}
	}

	listen(host, port, callback) {
		const onError = (err) => callback(err);
		this._server.once('error', onError);
		this._server.listen({ host, port, exclusive: true }, () => {
			this._server.removeListener('error', onError);
			callback(null);
		});
	}

	address() {
		const a = this._server.address();
		return a && { address: a.address, family: a.family, port: a.port };
	}

	// Stops accepting; each connection ends once its replies are written; what is still open
	// LINGER_MS later (a peer that does not close, a handshake in progress) is destroyed. The
	// callback runs when every socket is closed.
	close(callback) {
		clearInterval(this._timer);
		this._server.close(() => callback());
		for (const served of this._sockets.values()) served.shutdown();
		if (this._raw.size > 0) setTimeout(() => this._raw.forEach((raw) => raw.destroy()), LINGER_MS).unref();
	}
}

module.exports = TlsListener;

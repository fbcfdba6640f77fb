// backend: one server of a Client — its pool of connections and its health: reconnection with
// exponential backoff, marked dead after `failures` consecutive failures, tried again after `retry` ms.
'use strict';

const Connection = require('./connection');
const { serverLabel } = require('./client_options');
const { connectionError } = require('./errors');

class Backend {
	// address: {host, port, path, weight, name} (path: a Unix socket instead of host and port); settings: the client's checked options; owner: told
	// of what happens to the server, as {onFirstOutcome(backend, err|null) (the first connection
	// attempt's result, once), onConnectionError(backend, err), onDead(backend, err, wasDead),
	// onAlive(backend)}.
	constructor(address, settings, owner) {
		this.host = address.host;
		this.port = address.port;
		this.path = address.path;
		this.weight = address.weight;
		this.name = address.name;
		this.label = serverLabel(address);
		this.settings = settings;
		this.owner = owner;
		this.closing = false;
		this.connections = new Array(settings.poolSize).fill(null);
		this._next = 0;
		this.failures = 0;           // consecutive failures, reset by any reply
		this.dead = false;
		this.retryAt = 0;            // no new connection before this time (ms)
		this.lastError = null;
		this.reported = false;       // the first connection attempt's outcome went to the owner
		this.batchesSuspended = false;   // a batch of gets was lost: new connections start without
		for (let i = 0; i < this.connections.length; i++) this.connections[i] = this._open();
	}

	// Sends on the next connection of the pool, opening it if it was dropped — unless the server
	// is in its backoff or dead time, in which case the request fails at once.
	send(request, payload) {
		const index = this.connections.length === 1 ? 0 : this._poolIndex(request);
		let connection = this.connections[index];
		if (connection === null) {
			if (Date.now() < this.retryAt) {
				process.nextTick(failRequest, request, this.unavailable());
				return;
			}
			connection = this._open();
			this.connections[index] = connection;
		}
		connection.send(request, payload);
	}

	// The error for a request refused without trying: the last failure's code, or ESERVERDEAD.
	unavailable() {
		const wait = Math.max(0, this.retryAt - Date.now());
		const last = this.lastError;
		const reason = last ? last.message : 'no connection';
		const err = this.dead
			? connectionError(`server ${this.label} is marked dead after ${this.failures} failures (${reason}); retried in ${wait} ms`, 'ESERVERDEAD')
			: connectionError(`server ${this.label} is unreachable (${reason}); reconnecting in ${wait} ms`, (last && last.code) || 'ECONNRESET');
		err.server = this.label;
		return err;
	}

	// Closes every connection once it has answered what it was sent.
	close(done) {
		this.closing = true;
		let open = 0;
		const closed = () => {
			if (--open === 0) done();
		};
		for (const connection of this.connections) {
			if (connection === null) continue;
			open++;
			connection.close(closed);
		}
		if (open === 0) process.nextTick(done);
	}

	// A key always takes the same connection of the pool, so requests on one key are answered in
	// the order they were made; requests without a key take turns.
	_poolIndex(request) {
		const key = request.key !== null ? request.key : request.keys !== null ? request.keys[0] : null;
		if (key === null) {
			this._next = (this._next + 1) % this.connections.length;
			return this._next;
		}
		let hash = 0x811c9dc5;   // FNV-1a over code units or bytes: cheap, and spreads keys evenly
		if (typeof key === 'string') {
			for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
		} else {
			for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key[i], 0x01000193);
		}
		return (hash >>> 0) % this.connections.length;
	}

	_open() {
		return new Connection(this, { host: this.host, port: this.port, path: this.path, ...this.settings, batchesSuspended: this.batchesSuspended });
	}

	onConnect() {
		if (!this.reported) {
			this.reported = true;
			this.owner.onFirstOutcome(this, null);
		}
	}

	// The server answered a batch of gets with an error line, or hung up with one in flight (see
	// get_batch.js): gets go one by one, on every connection, until they are answered cleanly.
	onBatchLost() {
		this.batchesSuspended = true;
		for (const connection of this.connections) if (connection !== null) connection.suspendBatches();
	}

	onBatchesResumed() {
		this.batchesSuspended = false;
	}

	// Any reply proves the server up: failures are forgotten, and a dropped connection of the
	// pool may be opened again at once.
	onReply() {
		if (this.failures === 0) return;
		this.failures = 0;
		this.lastError = null;
		this.retryAt = 0;
		if (this.dead) {
			this.dead = false;
			this.owner.onAlive(this);
		}
	}

	// A dropped connection. Connections of the pool that drop together (the server went away)
	// count as one failure: only a failure after the backoff time has passed counts again.
	onDrop(connection, err) {
		const index = this.connections.indexOf(connection);
		if (index >= 0) this.connections[index] = null;
		if (connection.closing || this.closing) return;
		const now = Date.now();
		if (now >= this.retryAt) {
			this.failures++;
			this.lastError = err;
			const { failures, reconnect, retry } = this.settings;
			const backoff = Math.min(retry, reconnect * 2 ** (this.failures - 1));
			this.retryAt = now + (this.failures >= failures ? retry : backoff);
			if (this.failures >= failures) {
				const wasDead = this.dead;
				this.dead = true;
				this.owner.onDead(this, err, wasDead);
			}
		}
		if (!this.reported) {
			this.reported = true;
			this.owner.onFirstOutcome(this, err);
		} else {
			this.owner.onConnectionError(this, err);
		}
	}
}

function failRequest(request, err) {
	request.finish(err);
}

module.exports = Backend;

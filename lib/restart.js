// restart: a Server's restart file — loaded before it listens, saved when it closes and every
// snapshotInterval seconds — so that a restart keeps the cache (the file's format: csrc/snapshot.h).
'use strict';

const fs = require('fs');

// Loads file into engine. Resolves the load's figures, or null when there is no file yet. A file
// that is not a whole, valid snapshot is moved aside to <file>.bad, and resolves {error, movedTo}:
// the server starts empty. A file that cannot be read at all rejects (the server does not start).
async function restore(engine, file) {
	try {
		return await engine.load(file);
	} catch (err) {
		if (err.code === 'ENOENT') return null;
		if (err.code !== 'EBADSNAPSHOT') throw err;
		const movedTo = `${file}.bad`;
		await fs.promises.rename(file, movedTo);
		return { error: err, movedTo };
	}
}

// Saves of one engine to one file, one at a time: a save asked for while one runs starts when it
// ends, so the last one asked for sees every write made before it was asked for.
class Snapshots {
	constructor(engine, file) {
		this._engine = engine;
		this._file = file;
		this._queue = Promise.resolve();
		this._pending = 0;
		this._timer = null;
	}

	// idle: at idle CPU priority, for saves while serving (the one at close runs at full speed).
	save({ idle = false } = {}) {
		this._pending++;
		const run = this._queue.then(() => this._engine.save(this._file, { idle }));
		this._queue = run.then(() => {}, () => {}).then(() => { this._pending--; });
		return run;
	}

	// A save every `seconds`, skipped while one is still queued; errors go to onError. The timer
	// does not keep the process alive.
	every(seconds, onError) {
		this._timer = setInterval(() => {
			if (this._pending === 0) this.save({ idle: true }).catch(onError);
		}, seconds * 1000);
		this._timer.unref();
	}

	stop() {
		clearInterval(this._timer);
		this._timer = null;
	}
}

module.exports = { restore, Snapshots };

// restart: a Server's restart file — loaded before it listens, saved when it closes and every
// snapshotInterval seconds — so that a restart keeps the cache (the file's format: csrc/snapshot.h).
'use strict';

const fs = require('fs');
const path = require('path');

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

// The partial saves left beside file by processes that died while saving (<file>.tmp.<pid>.<n>,
// csrc/snapshot_save.c): each is as large as the cache was, and nothing else would remove them. A
// file whose process still runs (or whose pid has been reused) is left alone. Best effort: what
// cannot be listed or removed stays. Resolves the paths removed.
async function removeAbandonedSaves(file) {
	const dir = path.dirname(file);
	const prefix = `${path.basename(file)}.tmp.`;
	const names = await fs.promises.readdir(dir).catch(() => []);
	const removed = [];
	for (const name of names) {
		const pid = name.startsWith(prefix) && /^(\d+)\.\d+$/.exec(name.slice(prefix.length));
		if (!pid || isRunning(Number(pid[1]))) continue;
		const abandoned = path.join(dir, name);
		if (await fs.promises.unlink(abandoned).then(() => true, () => false)) removed.push(abandoned);
	}
	return removed;
}

function isRunning(pid) {
	if (pid === process.pid) return true;
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return err.code === 'EPERM';
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

module.exports = { restore, removeAbandonedSaves, Snapshots };

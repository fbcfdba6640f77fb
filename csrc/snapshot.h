/* snapshot: the cache saved to a file and loaded back, so that a restart keeps it. Saving walks
 * the shards a few buckets per lock while they serve; loading checks the whole file first. */
#ifndef SC_SNAPSHOT_H
#define SC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* The file: a 64-byte header (magic "SCSNAP\r\n", format version, creation time, the highest cas
 * unique, the limits it was saved under, CRC-32C), blocks of up to about 1 MiB of items (each
 * block: item count, length, CRC-32C of its items), and a 40-byte trailer (magic, totals, CRC).
 * Integers are little-endian. An item: key length, marks, flags, value length, expiry and last
 * access as unix times (expiry 0: never), cas unique, key, value. */
#define SNAPSHOT_VERSION 1

typedef enum snapshot_status {
    SNAPSHOT_OK = 0,
    SNAPSHOT_MISSING = 1,    /* load: no file at that path (not an error: the cache starts empty) */
    SNAPSHOT_INVALID = -1,   /* load: not a whole, valid snapshot of a version this server reads */
    SNAPSHOT_IO = -2,        /* the file could not be read or written (see error) */
} snapshot_status_t;

typedef struct snapshot_report {
    uint64_t items;        /* saved, or loaded (and still held once the load ended) */
    uint64_t bytes;        /* of the file */
    uint64_t expired;      /* load: items whose expiry passed while they were in the file */
    uint64_t dropped;      /* load: items left out for want of memory, or over the item size limit */
    double seconds;        /* the whole save or load */
    char error[256];       /* why it failed, naming the file; "" when it did not */
} snapshot_report_t;

/* Writes every live item to path: to "<path>.tmp.<pid>.<n>" first, fsync'd, then renamed over
 * path, and the directory fsync'd, so a crash at any moment leaves the previous file or the new one
 * whole (a crash may leave a .tmp file behind). Each shard's lock is held for one visit of a few
 * dozen buckets at a time, never during a write. Saves racing on one path each write a whole file;
 * the last to finish wins. */
snapshot_status_t snapshot_save(engine_t *e, const char *path, snapshot_report_t *r);

/* snapshot_save on a thread of its own scheduled SCHED_IDLE (else nice 19), joined before it
 * returns: it runs only on CPU time no other thread wants, so the data path keeps its latency,
 * and on a machine kept fully busy it may wait long. For saves while serving. */
snapshot_status_t snapshot_save_idle(engine_t *e, const char *path, snapshot_report_t *r);

/* Loads the snapshot at path into e, on top of what e holds. Nothing is loaded unless the whole
 * file checks out (magic, version, every CRC, every length, the totals). Items expired by now are
 * skipped; when the rest would not fit in the memory limit, the most recently used ones that do
 * fit are loaded. Cas uniques keep their values and later ones are higher. */
snapshot_status_t snapshot_load(engine_t *e, const char *path, snapshot_report_t *r);

/* snapshot_load over a file's bytes already in memory, named `name` in errors: what the loader
 * does after mapping the file (and what its fuzz target drives). r is not cleared first. */
snapshot_status_t snapshot_load_bytes(engine_t *e, const void *data, size_t size, const char *name,
                                      snapshot_report_t *r);

#endif

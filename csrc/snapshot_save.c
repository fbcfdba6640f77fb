/* snapshot_save: writes the cache to a snapshot file (snapshot.h) beside the old one and renames it
 * into place. Items are copied out a few buckets per shard lock; file writes happen unlocked. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crc32c.h"
#include "snapshot_format.h"

/* Hash buckets copied per lock (about as many items): the lock is held for a microsecond or so, so
 * that a save descheduled while holding it rarely stalls a request. Measured with bench/restart.js:
 * 64 buckets per lock raised the loadgen's p99 during saves 4-6x, 2-8 buckets 2.3x, and the idle
 * thread (snapshot_save_idle) brought it to 1.1x. */
#define SAVE_BUCKETS_PER_VISIT 4

typedef struct writer {
    int fd;
    int64_t started;       /* the engine's clock origin: store times + started = unix times */
    buf_t block;           /* the block being filled: its header's room, then items */
    uint32_t block_items;
    uint64_t items, blocks, payload, max_cas, written;
    bool out_of_memory;
} writer_t;

static double _now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int _write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs under the shard's lock: copies one item into the block. */
static void _save_item(const item_t *it, unsigned cls, void *arg)
{
    (void)cls;
    writer_t *w = arg;
    size_t n = SNAP_ITEM_HEADER_BYTES + it->nkey + it->nvalue;
    /* A block's length is 32-bit; only items of hundreds of MiB could pass that within one visit. */
    if (w->out_of_memory || buf_len(&w->block) + n > UINT32_MAX || buf_reserve(&w->block, n) != 0) {
        w->out_of_memory = true;
        return;
    }
    unsigned char *h = (unsigned char *)buf_tail(&w->block);
    memset(h, 0, SNAP_ITEM_HEADER_BYTES);
    h[0] = it->nkey;
    h[1] = it->state & STORE_RESTORED_MARKS;
    snap_put32(h + 4, item_flags(it));
    snap_put32(h + 8, it->nvalue);
    snap_put64(h + 16, it->exptime == 0 ? 0 : (uint64_t)(w->started + it->exptime));
    snap_put64(h + 24, (uint64_t)(w->started + it->atime));
    snap_put64(h + 32, it->cas);
    memcpy(h + SNAP_ITEM_HEADER_BYTES, item_key(it), it->nkey);
    memcpy(h + SNAP_ITEM_HEADER_BYTES + it->nkey, item_value(it), it->nvalue);
    w->block.end += n;
    w->block_items++;
    if (it->cas > w->max_cas)
        w->max_cas = it->cas;
}

static int _flush_block(writer_t *w)
{
    if (w->block_items == 0)
        return 0;
    unsigned char *h = (unsigned char *)buf_head(&w->block);
    size_t payload = buf_len(&w->block) - SNAP_BLOCK_HEADER_BYTES;
    snap_put32(h, SNAP_BLOCK_MAGIC);
    snap_put32(h + 4, w->block_items);
    snap_put32(h + 8, (uint32_t)payload);
    snap_put32(h + 12, crc32c(0, h + SNAP_BLOCK_HEADER_BYTES, payload));
    if (_write_all(w->fd, h, buf_len(&w->block)) != 0)
        return -1;
    w->items += w->block_items;
    w->blocks++;
    w->payload += payload;
    w->written += buf_len(&w->block);
    w->block.start = 0;
    w->block.end = SNAP_BLOCK_HEADER_BYTES; /* room for the next block's header */
    w->block_items = 0;
    return 0;
}

/* Every shard, SAVE_BUCKETS_PER_VISIT buckets per lock; a block is written between visits. */
static int _walk(engine_t *e, writer_t *w)
{
    for (unsigned shard = 0; shard < cache_shards(e->cache); shard++) {
        size_t slots = cache_slots(e->cache, shard);
        size_t n = slots > SAVE_BUCKETS_PER_VISIT ? slots / SAVE_BUCKETS_PER_VISIT : 1;
        for (size_t slot = 0; slot < n; slot++) {
            cache_visit(e->cache, shard, n, slot, _save_item, w);
            if (w->out_of_memory)
                return -1;
            if (buf_len(&w->block) >= SNAP_BLOCK_TARGET && _flush_block(w) != 0)
                return -1;
        }
    }
    return _flush_block(w);
}

static void _header(engine_t *e, const writer_t *w, unsigned char *h)
{
    memset(h, 0, SNAP_HEADER_BYTES);
    memcpy(h, SNAP_MAGIC, 8);
    snap_put32(h + 8, SNAPSHOT_VERSION);
    snap_put32(h + 12, SNAP_HEADER_BYTES);
    snap_put64(h + 16, (uint64_t)time(NULL));
    snap_put64(h + 24, w->max_cas);
    snap_put64(h + 32, cache_memory_limit(e->cache));
    snap_put64(h + 40, cache_max_item_size(e->cache));
    snap_put32(h + 60, crc32c(0, h, 60));
}

static void _trailer(const writer_t *w, unsigned char *t)
{
    memset(t, 0, SNAP_TRAILER_BYTES);
    memcpy(t, SNAP_TRAILER_MAGIC, 8);
    snap_put64(t + 8, w->items);
    snap_put64(t + 16, w->blocks);
    snap_put64(t + 24, w->payload);
    snap_put32(t + 36, crc32c(0, t, 36));
}

/* The rename is durable once the directory holding it is on disk. */
static int _sync_directory(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Header room, items, trailer, then the header for real (it holds the highest cas, known last). */
static int _write_file(engine_t *e, writer_t *w)
{
    unsigned char header[SNAP_HEADER_BYTES] = {0};
    unsigned char trailer[SNAP_TRAILER_BYTES];
    if (_write_all(w->fd, header, sizeof(header)) != 0 || _walk(e, w) != 0)
        return -1;
    _trailer(w, trailer);
    if (_write_all(w->fd, trailer, sizeof(trailer)) != 0)
        return -1;
    _header(e, w, header);
    if (pwrite(w->fd, header, sizeof(header), 0) != (ssize_t)sizeof(header))
        return -1;
    w->written += sizeof(header) + sizeof(trailer);
    return fsync(w->fd);
}

static void _record(engine_t *e, snapshot_status_t st, const snapshot_report_t *r)
{
    engine_snapshots_t *s = &e->snapshots;
    pthread_mutex_lock(&e->stats_lock);
    if (st != SNAPSHOT_OK) {
        s->failures++;
    } else {
        s->saves++;
        s->last_items = r->items;
        s->last_bytes = r->bytes;
        s->last_seconds = r->seconds;
        s->last_at = (int64_t)time(NULL);
    }
    pthread_mutex_unlock(&e->stats_lock);
}

snapshot_status_t snapshot_save(engine_t *e, const char *path, snapshot_report_t *r)
{
    memset(r, 0, sizeof(*r));
    double began = _now();
    /* A name of its own per save, so that saves racing on one path each write a whole file and
     * the last rename wins. */
    static _Atomic unsigned long saves;
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lu", path, (long)getpid(), ++saves) >= (int)sizeof(tmp)) {
        snprintf(r->error, sizeof(r->error), "%.200s: path too long", path);
        return SNAPSHOT_IO;
    }
    writer_t w = {.started = e->started};
    buf_init(&w.block);
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    snapshot_status_t st = SNAPSHOT_IO;
    if (w.fd < 0) {
        snprintf(r->error, sizeof(r->error), "%.200s: %s", tmp, strerror(errno));
        goto out;
    }
    if (buf_reserve(&w.block, SNAP_BLOCK_TARGET + SNAP_BLOCK_HEADER_BYTES) != 0) {
        snprintf(r->error, sizeof(r->error), "%.200s: out of memory", path);
        goto out;
    }
    w.block.end = SNAP_BLOCK_HEADER_BYTES;
    int rc = _write_file(e, &w);
    int saved_errno = errno;
    if (close(w.fd) != 0 && rc == 0) {
        rc = -1;
        saved_errno = errno;
    }
    w.fd = -1;
    if (rc != 0) {
        snprintf(r->error, sizeof(r->error), "%.200s: %s", tmp, w.out_of_memory ? "out of memory" : strerror(saved_errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0 || _sync_directory(path) != 0) {
        snprintf(r->error, sizeof(r->error), "%.200s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    r->items = w.items;
    r->bytes = w.written;
    st = SNAPSHOT_OK;
out:
    if (w.fd >= 0) {
        close(w.fd);
        unlink(tmp);
    }
    buf_free(&w.block);
    r->seconds = _now() - began;
    _record(e, st, r);
    return st;
}

typedef struct idle_save {
    engine_t *engine;
    const char *path;
    snapshot_report_t *report;
    snapshot_status_t status;
} idle_save_t;

static void *_idle_save_thread(void *arg)
{
    idle_save_t *job = arg;
#ifdef SCHED_IDLE
    /* Linux schedules a SCHED_IDLE thread only where no other thread wants the CPU, and lets any
     * other thread preempt it at once; failing to set it only costs latency. */
    struct sched_param idle = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
#endif
    {
#ifdef SYS_gettid
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
    }
    job->status = snapshot_save(job->engine, job->path, job->report);
    return NULL;
}

snapshot_status_t snapshot_save_idle(engine_t *e, const char *path, snapshot_report_t *r)
{
    idle_save_t job = {e, path, r, SNAPSHOT_IO};
    pthread_t thread;
    if (pthread_create(&thread, NULL, _idle_save_thread, &job) != 0)
        return snapshot_save(e, path, r);
    pthread_join(thread, NULL);
    return job.status;
}

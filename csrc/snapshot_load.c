/* snapshot_load: reads a snapshot file (snapshot.h) back into the cache. The file is mapped and
 * checked whole before the first item loads, so a damaged file is refused, never half-loaded.
 * Saves replace the file by rename, so a mapped file never changes under the load; only another
 * program truncating it meanwhile could (the process would then take SIGBUS). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "slab.h"
#include "snapshot_format.h"

/* One item as the file holds it; key and value point into the mapping. */
typedef struct saved_item {
    const char *key;
    const char *value;
    uint8_t nkey;
    uint8_t marks;
    uint32_t flags;
    uint32_t nvalue;
    int64_t exptime;   /* unix; 0 = never */
    int64_t atime;     /* unix */
    uint64_t cas;
} saved_item_t;

typedef struct reader {
    const unsigned char *base;
    size_t size;
    const char *path;
    snapshot_report_t *report;
} reader_t;

static snapshot_status_t _invalid(reader_t *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static snapshot_status_t _invalid(reader_t *rd, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(rd->report->error, sizeof(rd->report->error), "%.80s: %s", rd->path, why);
    return SNAPSHOT_INVALID;
}

/* Decodes the item at p, which has `left` bytes of its block; returns its length, or 0 if it does
 * not fit or is malformed. */
static size_t _decode(const unsigned char *p, size_t left, saved_item_t *it)
{
    if (left < SNAP_ITEM_HEADER_BYTES)
        return 0;
    it->nkey = p[0];
    it->marks = p[1];
    it->flags = snap_get32(p + 4);
    it->nvalue = snap_get32(p + 8);
    it->exptime = (int64_t)snap_get64(p + 16);
    it->atime = (int64_t)snap_get64(p + 24);
    it->cas = snap_get64(p + 32);
    size_t n = SNAP_ITEM_HEADER_BYTES + (size_t)it->nkey + it->nvalue;
    if (it->nkey == 0 || it->nkey > STORE_KEY_MAX || n > left || (it->marks & ~STORE_RESTORED_MARKS) ||
        p[2] != 0 || p[3] != 0 || snap_get32(p + 12) != 0)
        return 0;
    it->key = (const char *)p + SNAP_ITEM_HEADER_BYTES;
    it->value = it->key + it->nkey;
    return n;
}

/* Calls fn on every item of every block; stops at the first non-zero return. The blocks must have
 * been checked (_check). */
typedef int (*item_fn)(void *ctx, const saved_item_t *it);

static int _each_item(const reader_t *rd, item_fn fn, void *ctx)
{
    size_t off = SNAP_HEADER_BYTES, end = rd->size - SNAP_TRAILER_BYTES;
    while (off < end) {
        const unsigned char *b = rd->base + off;
        uint32_t payload = snap_get32(b + 8);
        const unsigned char *p = b + SNAP_BLOCK_HEADER_BYTES, *stop = p + payload;
        while (p < stop) {
            saved_item_t it;
            p += _decode(p, (size_t)(stop - p), &it);
            int rc = fn(ctx, &it);
            if (rc != 0)
                return rc;
        }
        off += SNAP_BLOCK_HEADER_BYTES + payload;
    }
    return 0;
}

static snapshot_status_t _check_ends(reader_t *rd, uint64_t *items, uint64_t *blocks, uint64_t *payload)
{
    const unsigned char *h = rd->base;
    if (rd->size < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES || memcmp(h, SNAP_MAGIC, 8) != 0)
        return _invalid(rd, rd->size < 8 || memcmp(h, SNAP_MAGIC, 8) != 0 ? "not a simplecached snapshot" : "truncated");
    if (snap_get32(h + 8) != SNAPSHOT_VERSION)
        return _invalid(rd, "format version %u, this server reads version %u", snap_get32(h + 8), SNAPSHOT_VERSION);
    if (snap_get32(h + 12) != SNAP_HEADER_BYTES || snap_get32(h + 60) != crc32c(0, h, 60))
        return _invalid(rd, "damaged header");
    const unsigned char *t = rd->base + rd->size - SNAP_TRAILER_BYTES;
    if (memcmp(t, SNAP_TRAILER_MAGIC, 8) != 0 || snap_get32(t + 36) != crc32c(0, t, 36))
        return _invalid(rd, "truncated or damaged at its end (no valid trailer)");
    *items = snap_get64(t + 8);
    *blocks = snap_get64(t + 16);
    *payload = snap_get64(t + 24);
    return SNAPSHOT_OK;
}

/* Every block's framing and CRC and every item's framing, then the totals against the trailer. */
static snapshot_status_t _check(reader_t *rd)
{
    uint64_t items = 0, blocks = 0, payload = 0;
    snapshot_status_t st = _check_ends(rd, &items, &blocks, &payload);
    if (st != SNAPSHOT_OK)
        return st;
    uint64_t seen_items = 0, seen_blocks = 0, seen_payload = 0;
    size_t off = SNAP_HEADER_BYTES, end = rd->size - SNAP_TRAILER_BYTES;
    while (off < end) {
        const unsigned char *b = rd->base + off;
        if (end - off < SNAP_BLOCK_HEADER_BYTES || snap_get32(b) != SNAP_BLOCK_MAGIC)
            return _invalid(rd, "damaged block at byte %zu", off);
        uint32_t count = snap_get32(b + 4), len = snap_get32(b + 8);
        if (len > end - off - SNAP_BLOCK_HEADER_BYTES || snap_get32(b + 12) != crc32c(0, b + SNAP_BLOCK_HEADER_BYTES, len))
            return _invalid(rd, "block at byte %zu fails its checksum", off);
        const unsigned char *p = b + SNAP_BLOCK_HEADER_BYTES, *stop = p + len;
        uint32_t decoded = 0;
        while (p < stop) {
            saved_item_t it;
            size_t n = _decode(p, (size_t)(stop - p), &it);
            if (n == 0)
                return _invalid(rd, "malformed item in the block at byte %zu", off);
            p += n;
            decoded++;
        }
        if (decoded != count || count == 0)
            return _invalid(rd, "block at byte %zu holds %u items, says %u", off, decoded, count);
        seen_items += count;
        seen_blocks++;
        seen_payload += len;
        off += SNAP_BLOCK_HEADER_BYTES + len;
    }
    if (seen_items != items || seen_blocks != blocks || seen_payload != payload)
        return _invalid(rd, "holds %llu items in %llu blocks, its trailer says %llu in %llu",
                        (unsigned long long)seen_items, (unsigned long long)seen_blocks,
                        (unsigned long long)items, (unsigned long long)blocks);
    return SNAPSHOT_OK;
}

/* An item's recency and size, for choosing which fit when not all do. */
typedef struct recency {
    int64_t atime;
    uint64_t bytes;
} recency_t;

typedef struct plan {
    engine_t *e;
    int64_t now;
    uint64_t budget;      /* bytes the loaded items may take: the limit less a part page per class */
    uint64_t need;        /* bytes the items to load would take */
    int64_t cutoff;       /* items last used before this are left out */
    uint64_t ties;        /* items last used exactly at cutoff that still fit */
    recency_t *recent;    /* while choosing: every candidate */
    size_t nrecent;
    snapshot_report_t *report;
} plan_t;

static bool _expired(const plan_t *pl, const saved_item_t *it)
{
    return it->exptime != 0 && (it->exptime <= pl->now || it->exptime <= pl->e->started);
}

static bool _candidate(const plan_t *pl, const saved_item_t *it)
{
    return !_expired(pl, it) && !cache_too_large(pl->e->cache, it->nkey, it->flags, it->nvalue);
}

static int _measure(void *ctx, const saved_item_t *it)
{
    plan_t *pl = ctx;
    if (_candidate(pl, it))
        pl->need += cache_footprint(pl->e->cache, it->nkey, it->flags, it->nvalue);
    return 0;
}

static int _collect(void *ctx, const saved_item_t *it)
{
    plan_t *pl = ctx;
    if (_candidate(pl, it))
        pl->recent[pl->nrecent++] = (recency_t){it->atime, cache_footprint(pl->e->cache, it->nkey, it->flags, it->nvalue)};
    return 0;
}

static int _newest_first(const void *a, const void *b)
{
    int64_t x = ((const recency_t *)a)->atime, y = ((const recency_t *)b)->atime;
    return (x < y) - (x > y);
}

/* When the candidates need more than the budget: the most recently used that fit. */
static int _choose(plan_t *pl, const reader_t *rd, uint64_t items)
{
    pl->cutoff = INT64_MIN;
    if (pl->need <= pl->budget)
        return 0;
    pl->recent = malloc((items ? items : 1) * sizeof(*pl->recent));
    if (pl->recent == NULL)
        return -1;
    _each_item(rd, _collect, pl);
    qsort(pl->recent, pl->nrecent, sizeof(*pl->recent), _newest_first);
    uint64_t used = 0;
    size_t i = 0;
    while (i < pl->nrecent && used + pl->recent[i].bytes <= pl->budget)
        used += pl->recent[i++].bytes;
    if (i < pl->nrecent) {
        pl->cutoff = pl->recent[i].atime;
        pl->ties = 0;
        for (size_t j = i; j > 0 && pl->recent[j - 1].atime == pl->cutoff; j--)
            pl->ties++;
    }
    free(pl->recent);
    pl->recent = NULL;
    return 0;
}

static int _load_one(void *ctx, const saved_item_t *it)
{
    plan_t *pl = ctx;
    snapshot_report_t *r = pl->report;
    if (_expired(pl, it)) {
        r->expired++;
        return 0;
    }
    bool fits = _candidate(pl, it) && (it->atime > pl->cutoff || (it->atime == pl->cutoff && pl->ties > 0));
    if (!fits) {
        r->dropped++;
        return 0;
    }
    if (it->atime == pl->cutoff)
        pl->ties--;
    int64_t exptime = it->exptime == 0 ? 0 : it->exptime - pl->e->started;
    /* A last access before the start (or a damaged one, however far back) is the clock's zero. */
    int64_t atime = it->atime <= pl->e->started ? 0 : it->atime - pl->e->started;
    store_write_t w = {STORE_MODE_SET, it->key, it->nkey, it->value, it->nvalue, it->flags,
                       exptime > UINT32_MAX ? UINT32_MAX : (uint32_t)exptime, 0, NULL};
    if (cache_restore(pl->e->cache, &w, it->cas, atime < 0 ? 0 : atime > UINT32_MAX ? UINT32_MAX : (uint32_t)atime,
                      it->marks) == STORE_OK)
        r->items++;
    else
        r->dropped++;
    return 0;
}

static uint64_t _evictions(cache_t *c)
{
    store_stats_t st;
    cache_get_stats(c, &st);
    return st.evictions;
}

static snapshot_status_t _load_checked(engine_t *e, reader_t *rd)
{
    uint64_t items = snap_get64(rd->base + rd->size - SNAP_TRAILER_BYTES + 8);
    size_t limit = cache_memory_limit(e->cache);
    size_t reserve = (size_t)cache_classes(e->cache) * cache_shards(e->cache) * SLAB_PAGE_MAX;
    plan_t pl = {.e = e, .now = (int64_t)time(NULL), .budget = limit > 2 * reserve ? limit - reserve : limit / 2,
                 .report = rd->report};
    _each_item(rd, _measure, &pl);
    if (_choose(&pl, rd, items) != 0) {
        snprintf(rd->report->error, sizeof(rd->report->error), "%.200s: out of memory", rd->path);
        return SNAPSHOT_IO;
    }
    engine_tick(e);
    uint64_t evicted = _evictions(e->cache);
    _each_item(rd, _load_one, &pl);
    /* Shards fill unevenly: what the store still had to evict counts as dropped, not loaded. */
    evicted = _evictions(e->cache) - evicted;
    evicted = evicted < rd->report->items ? evicted : rd->report->items;
    rd->report->items -= evicted;
    rd->report->dropped += evicted;
    return SNAPSHOT_OK;
}

snapshot_status_t snapshot_load_bytes(engine_t *e, const void *data, size_t size, const char *name, snapshot_report_t *r)
{
    reader_t rd = {.base = data, .size = size, .path = name, .report = r};
    snapshot_status_t st = _check(&rd);
    return st == SNAPSHOT_OK ? _load_checked(e, &rd) : st;
}

snapshot_status_t snapshot_load(engine_t *e, const char *path, snapshot_report_t *r)
{
    memset(r, 0, sizeof(*r));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    reader_t rd = {.path = path, .report = r};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(r->error, sizeof(r->error), "%.200s: %s", path, strerror(err));
        return err == ENOENT ? SNAPSHOT_MISSING : SNAPSHOT_IO;
    }
    struct stat sb;
    snapshot_status_t st = SNAPSHOT_IO;
    if (fstat(fd, &sb) != 0) {
        snprintf(r->error, sizeof(r->error), "%.200s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(r->error, sizeof(r->error), "%.200s: not a regular file", path);
        goto out;
    }
    rd.size = (size_t)sb.st_size;
    r->bytes = rd.size;
    if (rd.size == 0) {
        st = _invalid(&rd, "empty");
        goto out;
    }
    void *map = mmap(NULL, rd.size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(r->error, sizeof(r->error), "%.200s: %s", path, strerror(errno));
        goto out;
    }
    st = snapshot_load_bytes(e, map, rd.size, path, r);
    munmap(map, rd.size);
out:
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (st == SNAPSHOT_OK) {
        pthread_mutex_lock(&e->stats_lock);
        e->snapshots.loaded = r->items;
        e->snapshots.expired = r->expired;
        e->snapshots.dropped = r->dropped;
        e->snapshots.load_seconds = r->seconds;
        pthread_mutex_unlock(&e->stats_lock);
    }
    return st;
}

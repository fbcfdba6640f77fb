/* dump: a cursor (shard, slot of n) over the cache's hash tables. Slots are fixed when a shard's
 * walk begins, so an item present for the whole listing appears once even if a table doubles. */
#include "dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_SLOTS_PER_STEP 256            /* table slots visited per dump_step() at most */
#define CACHEDUMP_MAX_BYTES (2 * 1024 * 1024) /* memcached's cap on one cachedump reply */

struct dump {
    engine_t *engine;
    dump_format_t format;
    uint64_t classes;
    size_t limit;     /* items to list at most; 0: all */
    size_t listed;
    size_t bytes;     /* of lines listed */
    unsigned shard;   /* the walk's position: shard, then slot of n */
    size_t n;
    size_t slot;
    buf_t *out;       /* during a step: where lines go, and whether that failed */
    bool failed;
};

dump_t *dump_start(engine_t *e, dump_format_t format, uint64_t classes, size_t limit)
{
    dump_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->engine = e;
    d->format = format;
    d->classes = classes;
    d->limit = limit;
    d->n = cache_slots(e->cache, 0);
    return d;
}

void dump_free(dump_t *d)
{
    free(d);
}

static bool _full(const dump_t *d)
{
    return (d->limit != 0 && d->listed >= d->limit) ||
           (d->format == DUMP_CACHEDUMP && d->bytes >= CACHEDUMP_MAX_BYTES);
}

/* One item's line; times are unix times, as memcached prints them. */
static void _list(const item_t *it, unsigned cls, void *arg)
{
    dump_t *d = arg;
    if (d->failed || _full(d) || cls >= 64 || !(d->classes & ((uint64_t)1 << cls)))
        return;
    int64_t started = d->engine->started;
    char line[3 * STORE_KEY_MAX + 160];
    size_t n;
    if (d->format == DUMP_METADUMP) {
        memcpy(line, "key=", 4);
        n = 4 + logger_uriencode(item_key(it), it->nkey, line + 4); /* keys as log lines show them */
        long long exp = it->exptime == 0 ? -1 : (long long)it->exptime + started;
        int m = snprintf(line + n, sizeof(line) - n, " exp=%lld la=%lld cas=%llu fetch=%s cls=%u size=%zu\n", exp,
                         (long long)it->atime + started, (unsigned long long)it->cas,
                         (it->state & ITEM_FETCHED) ? "yes" : "no", cls + 1,
                         store_memcached_size(it->nkey, item_flags(it), it->nvalue));
        n += m > 0 ? (size_t)m : 0;
    } else {
        memcpy(line, "ITEM ", 5);
        memcpy(line + 5, item_key(it), it->nkey);
        n = 5 + it->nkey;
        long long exp = it->exptime == 0 ? 0 : (long long)it->exptime + started;
        int m = snprintf(line + n, sizeof(line) - n, " [%u b; %lld s]\r\n", (unsigned)it->nvalue, exp);
        n += m > 0 ? (size_t)m : 0;
    }
    if (buf_append(d->out, line, n < sizeof(line) ? n : sizeof(line)) != 0) {
        d->failed = true;
        return;
    }
    d->listed++;
    d->bytes += n;
}

int dump_step(dump_t *d, buf_t *out, size_t room)
{
    cache_t *cache = d->engine->cache;
    size_t goal = buf_len(out) + room;
    d->out = out;
    for (int visited = 0; visited < DUMP_SLOTS_PER_STEP && buf_len(out) < goal && !_full(d); visited++) {
        if (d->shard >= cache_shards(cache))
            break;
        cache_visit(cache, d->shard, d->n, d->slot, _list, d);
        if (d->failed)
            return -1;
        if (++d->slot == d->n && ++d->shard < cache_shards(cache)) {
            d->slot = 0;
            d->n = cache_slots(cache, d->shard);
        }
    }
    if (d->shard < cache_shards(cache) && !_full(d))
        return 0;
    return buf_append_lit(out, "END\r\n") == 0 ? 1 : -1;
}

/* stats: collects memcached's stats groups from the engine, the store and the process, as pairs
 * in memcached's order. Only figures this server really tracks are listed. */
#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Where a report goes, and the first failure of its emit (later pairs are then skipped). */
typedef struct stats_out {
    stats_emit_t emit;
    void *ctx;
    int rc;
} stats_out_t;

static void _stat(stats_out_t *out, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void _stat(stats_out_t *out, const char *name, const char *fmt, ...)
{
    if (out->rc != 0)
        return;
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0)
        value[0] = '\0';
    out->rc = out->emit(out->ctx, name, value);
}

static void _general(engine_t *e, stats_out_t *out)
{
    engine_stats_t sum;
    engine_stats_sum(e, &sum);
    const engine_stats_t *st = &sum;
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    _stat(out, "pid", "%ld", (long)getpid());
    _stat(out, "uptime", "%u", cache_clock(e->cache));
    _stat(out, "time", "%lld", (long long)time(NULL));
    _stat(out, "version", "%s", ENGINE_VERSION);
    _stat(out, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    _stat(out, "rusage_user", "%ld.%06ld", (long)usage.ru_utime.tv_sec, (long)usage.ru_utime.tv_usec);
    _stat(out, "rusage_system", "%ld.%06ld", (long)usage.ru_stime.tv_sec, (long)usage.ru_stime.tv_usec);
    _stat(out, "max_connections", "%u", e->served.max_connections);
#define X(name)                                                                                   \
    if (e->served.idle_timeout > 0 || strcmp(#name, "idle_kicks") != 0)                                    \
        _stat(out, #name, "%llu", (unsigned long long)st->name);
    ENGINE_STATS(X)
#undef X
    _stat(out, "limit_maxbytes", "%zu", cache_memory_limit(e->cache));
    _stat(out, "threads", "%u", e->served.threads ? e->served.threads : 1);
    _stat(out, "hash_bytes", "%llu", (unsigned long long)(ss.buckets * sizeof(void *)));
    _stat(out, "bytes", "%llu", (unsigned long long)ss.bytes);
    _stat(out, "curr_items", "%llu", (unsigned long long)ss.items);
    _stat(out, "total_items", "%llu", (unsigned long long)ss.total_items);
    _stat(out, "evictions", "%llu", (unsigned long long)ss.evictions);
    _stat(out, "reclaimed", "%llu", (unsigned long long)ss.reclaimed);
}

static void _settings(engine_t *e, stats_out_t *out)
{
    _stat(out, "maxbytes", "%zu", cache_memory_limit(e->cache));
    _stat(out, "maxconns", "%u", e->served.max_connections);
    _stat(out, "udpport", "%d", 0);
    _stat(out, "verbosity", "%u", __atomic_load_n(&e->verbosity, __ATOMIC_RELAXED));
    _stat(out, "evictions", "%s", "on");
    _stat(out, "cas_enabled", "%s", "yes");
    _stat(out, "item_size_max", "%zu", cache_max_item_size(e->cache));
    _stat(out, "flush_enabled", "%s", "yes");
    _stat(out, "num_threads", "%u", e->served.threads ? e->served.threads : 1);
    _stat(out, "idle_timeout", "%u", e->served.idle_timeout);
}

/* Items per slab class (numbered from 1, as in "stats slabs"), counting blocks in use. Items too
 * big for a class have none, so they appear only in curr_items; evictions are counted only overall. */
static void _items(engine_t *e, stats_out_t *out)
{
    for (unsigned cls = 0; cls < cache_slab_classes(e->cache); cls++) {
        slab_class_stats_t cs;
        cache_get_class_stats(e->cache, cls, &cs);
        if (cs.used == 0)
            continue;
        char name[48];
        snprintf(name, sizeof(name), "items:%u:number", cls + 1);
        _stat(out, name, "%llu", (unsigned long long)cs.used);
    }
}

/* memcached's layout: per class with pages (numbered from 1 as memcached does), then totals.
 * total_malloced is what the memory limit counts: pages in use plus items too big for a class. */
static void _slabs(engine_t *e, stats_out_t *out)
{
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    unsigned active = 0;
    for (unsigned cls = 0; cls < cache_slab_classes(e->cache); cls++) {
        slab_class_stats_t cs;
        cache_get_class_stats(e->cache, cls, &cs);
        if (cs.pages == 0)
            continue;
        active++;
        char name[48];
#define CLASS_STAT(what, value)                                                 \
        snprintf(name, sizeof(name), "%u:%s", cls + 1, what);                   \
        _stat(out, name, "%llu", (unsigned long long)(value));
        CLASS_STAT("chunk_size", cs.block_size)
        CLASS_STAT("chunks_per_page", cs.per_page)
        CLASS_STAT("total_pages", cs.pages)
        CLASS_STAT("total_chunks", cs.pages * cs.per_page)
        CLASS_STAT("used_chunks", cs.used)
        CLASS_STAT("free_chunks", cs.pages * cs.per_page - cs.used)
#undef CLASS_STAT
    }
    _stat(out, "active_slabs", "%u", active);
    _stat(out, "total_malloced", "%llu", (unsigned long long)ss.malloced);
}

int stats_report(engine_t *e, const char *group, size_t ngroup, stats_emit_t emit, void *ctx)
{
    static const struct {
        const char *name;
        void (*report)(engine_t *, stats_out_t *);
    } groups[] = {{"", _general}, {"settings", _settings}, {"items", _items}, {"slabs", _slabs}};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strlen(groups[i].name) == ngroup && memcmp(groups[i].name, group, ngroup) == 0) {
            stats_out_t out = {emit, ctx, 0};
            groups[i].report(e, &out);
            return out.rc;
        }
    }
    return 1;
}

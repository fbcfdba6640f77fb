/* proto_text_stats: the "stats" family of the memcached text protocol, in memcached's format
 * ("STAT <name> <value>" lines, then "END"). Only figures this server really tracks are listed. */
#include "proto_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int _stat(buf_t *out, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int _stat(buf_t *out, const char *name, const char *fmt, ...)
{
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    size_t nvalue = (size_t)n < sizeof(value) ? (size_t)n : sizeof(value) - 1;
    if (buf_reserve(out, 5 + strlen(name) + 1 + nvalue + 2) != 0)
        return -1;
    buf_append_lit(out, "STAT ");
    buf_append(out, name, strlen(name));
    buf_append_lit(out, " ");
    buf_append(out, value, nvalue);
    return buf_append_lit(out, "\r\n");
}

static int _general(engine_t *e, buf_t *out)
{
    engine_stats_t sum;
    engine_stats_sum(e, &sum);
    const engine_stats_t *st = &sum;
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    int rc = 0;
    rc |= _stat(out, "pid", "%ld", (long)getpid());
    rc |= _stat(out, "uptime", "%u", cache_clock(e->cache));
    rc |= _stat(out, "time", "%lld", (long long)time(NULL));
    rc |= _stat(out, "version", "%s", ENGINE_VERSION);
    rc |= _stat(out, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    rc |= _stat(out, "rusage_user", "%ld.%06ld", (long)usage.ru_utime.tv_sec, (long)usage.ru_utime.tv_usec);
    rc |= _stat(out, "rusage_system", "%ld.%06ld", (long)usage.ru_stime.tv_sec, (long)usage.ru_stime.tv_usec);
    rc |= _stat(out, "max_connections", "%u", e->max_connections);
#define X(name)                                                                                   \
    if (e->idle_timeout > 0 || strcmp(#name, "idle_kicks") != 0)                                    \
        rc |= _stat(out, #name, "%llu", (unsigned long long)st->name);
    ENGINE_STATS(X)
#undef X
    rc |= _stat(out, "limit_maxbytes", "%zu", cache_memory_limit(e->cache));
    rc |= _stat(out, "threads", "%u", e->threads ? e->threads : 1);
    rc |= _stat(out, "hash_bytes", "%llu", (unsigned long long)(ss.buckets * sizeof(void *)));
    rc |= _stat(out, "bytes", "%llu", (unsigned long long)ss.bytes);
    rc |= _stat(out, "curr_items", "%llu", (unsigned long long)ss.items);
    rc |= _stat(out, "total_items", "%llu", (unsigned long long)ss.total_items);
    rc |= _stat(out, "evictions", "%llu", (unsigned long long)ss.evictions);
    rc |= _stat(out, "reclaimed", "%llu", (unsigned long long)ss.reclaimed);
    return rc;
}

static int _settings(engine_t *e, buf_t *out)
{
    int rc = 0;
    rc |= _stat(out, "maxbytes", "%zu", cache_memory_limit(e->cache));
    rc |= _stat(out, "maxconns", "%u", e->max_connections);
    rc |= _stat(out, "udpport", "%d", 0);
    rc |= _stat(out, "verbosity", "%u", __atomic_load_n(&e->verbosity, __ATOMIC_RELAXED));
    rc |= _stat(out, "evictions", "%s", "on");
    rc |= _stat(out, "cas_enabled", "%s", "yes");
    rc |= _stat(out, "item_size_max", "%zu", cache_max_item_size(e->cache));
    rc |= _stat(out, "flush_enabled", "%s", "yes");
    rc |= _stat(out, "num_threads", "%u", e->threads ? e->threads : 1);
    rc |= _stat(out, "idle_timeout", "%u", e->idle_timeout);
    return rc;
}

/* Items per slab class (numbered from 1, as in "stats slabs"), counting blocks in use. Items too
 * big for a class have none, so they appear only in curr_items; evictions are counted only overall. */
static int _items(engine_t *e, buf_t *out)
{
    int rc = 0;
    for (unsigned cls = 0; cls < cache_slab_classes(e->cache); cls++) {
        slab_class_stats_t cs;
        cache_get_class_stats(e->cache, cls, &cs);
        if (cs.used == 0)
            continue;
        char name[48];
        snprintf(name, sizeof(name), "items:%u:number", cls + 1);
        rc |= _stat(out, name, "%llu", (unsigned long long)cs.used);
    }
    return rc;
}

/* memcached's layout: per class with pages (numbered from 1 as memcached does), then totals.
 * total_malloced is what the memory limit counts: pages in use plus items too big for a class. */
static int _slabs(engine_t *e, buf_t *out)
{
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    int rc = 0;
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
        rc |= _stat(out, name, "%llu", (unsigned long long)(value));
        CLASS_STAT("chunk_size", cs.block_size)
        CLASS_STAT("chunks_per_page", cs.per_page)
        CLASS_STAT("total_pages", cs.pages)
        CLASS_STAT("total_chunks", cs.pages * cs.per_page)
        CLASS_STAT("used_chunks", cs.used)
        CLASS_STAT("free_chunks", cs.pages * cs.per_page - cs.used)
#undef CLASS_STAT
    }
    rc |= _stat(out, "active_slabs", "%u", active);
    rc |= _stat(out, "total_malloced", "%llu", (unsigned long long)ss.malloced);
    return rc;
}

int proto_text_stats(session_t *s, const char *what, size_t nwhat, buf_t *out)
{
    static const struct {
        const char *name;
        int (*emit)(engine_t *, buf_t *);
    } groups[] = {{"", _general}, {"settings", _settings}, {"items", _items}, {"slabs", _slabs}};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strlen(groups[i].name) == nwhat && memcmp(groups[i].name, what, nwhat) == 0) {
            if (groups[i].emit(s->engine, out) != 0)
                return -1;
            return buf_append_lit(out, "END\r\n");
        }
    }
    return 1;
}

/* proto_text_admin: memcached's operator commands "lru_crawler", "lru", "slabs", "cache_memlimit" and
 * "shutdown", and the paced sending of key listings (metadump; "stats cachedump" too), as 1.6.18 answers them. */
#include "proto_text_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mcnum.h"
#include "replies.h"
#include "served.h"

#define TEXT_DUMP_PIECE (64 * 1024) /* listing bytes composed per step, between output checks */
#define CLASS_ID_MAX 63             /* memcached's largest slab class id */
#define CRAWLER_SLEEP_MAX 1000000   /* microseconds */

void text_dump_begin(cmd_t *c, dump_format_t format, uint64_t classes, size_t limit)
{
    text_session_t *t = &c->s->proto.text;
    t->dump = dump_start(c->s->engine, format, classes, limit);
    if (t->dump == NULL) {
        REPLY(c, TEXT_NO_MEMORY);
        return;
    }
    t->state = TEXT_DUMPING;
    t->swallow_left = (uint32_t)c->line_len;
    c->s->producing = true;
    c->need_more = true; /* the line stays until the listing ends */
}

size_t text_dump_continue(session_t *s, buf_t *out)
{
    text_session_t *t = &s->proto.text;
    int rc = dump_step(t->dump, out, TEXT_DUMP_PIECE);
    if (rc == 0)
        return 0;
    dump_free(t->dump);
    t->dump = NULL;
    t->state = TEXT_LINE;
    s->producing = false;
    if (rc < 0) {
        s->state = SESSION_BROKEN;
        return 0;
    }
    return t->swallow_left;
}

void proto_text_end(session_t *s)
{
    text_session_t *t = &s->proto.text;
    if (t->state == TEXT_DUMPING) {
        dump_free(t->dump);
        t->dump = NULL;
        t->state = TEXT_LINE;
        s->producing = false;
    }
    text_getline_end(s);
    text_watch_end(s);
}

/* "all", "hash", or class ids separated by commas (empty ones skipped), as memcached reads them:
 * the bits of the item classes they name; false on an id that is not 1..63. */
static bool _classes(const token_t *arg, uint64_t *classes)
{
    if (text_token_is(arg, "all") || text_token_is(arg, "hash")) {
        *classes = UINT64_MAX;
        return true;
    }
    *classes = 0;
    for (const char *p = arg->p, *end = arg->p + arg->n; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        uint32_t id;
        if (stop > p && (!mcnum_u32(p, (size_t)(stop - p), &id) || id == 0 || id > CLASS_ID_MAX))
            return false;
        if (stop > p)
            *classes |= (uint64_t)1 << (id - 1);
        p = stop + 1;
    }
    return true;
}

static void _set(cmd_t *c, unsigned *field, uint32_t max)
{
    uint32_t value;
    if (!mcnum_u32(c->t[2].p, c->t[2].n, &value)) {
        REPLY(c, TEXT_BAD_FORMAT);
    } else if (value > max) {
        REPLY(c, TEXT_CRAWLER_SLEEP_RANGE);
    } else {
        __atomic_store_n(field, value, __ATOMIC_RELAXED);
        REPLY(c, TEXT_OK);
    }
}

/* "slabs reassign <src> <dst>": here any class takes an emptied page, so the move is done by
 * emptying a page of src (the one with fewest items, which are evicted); class 0 is the spare
 * pages, free already. "slabs automove <0|1|2>" is kept for stats settings: pages move anyway. */
void text_slabs(cmd_t *c)
{
    const token_t *sub = &c->t[1];
    if (c->nt == 5 && text_token_is(sub, "reassign")) {
        int32_t src, dst;
        unsigned classes = cache_classes(c->s->engine->cache) - 1; /* the last holds big items */
        if (!mcnum_i32(c->t[2].p, c->t[2].n, &src) || !mcnum_i32(c->t[3].p, c->t[3].n, &dst))
            REPLY(c, TEXT_BAD_FORMAT);
        else if (src == dst)
            REPLY(c, TEXT_SLABS_SAME);
        else if (src < 0 || dst < 0 || (unsigned)src > classes || (unsigned)dst > classes)
            REPLY(c, TEXT_SLABS_BAD_CLASS);
        else if (src == 0 || cache_empty_page(c->s->engine->cache, (unsigned)src - 1) < 0)
            REPLY(c, TEXT_SLABS_NO_SPARE);
        else
            REPLY(c, TEXT_OK);
    } else if (c->nt >= 4 && text_token_is(sub, "automove")) {
        uint32_t level;
        if (!mcnum_u32(c->t[2].p, c->t[2].n, &level)) {
            REPLY(c, TEXT_BAD_FORMAT);
        } else if (level > 2) {
            REPLY(c, TEXT_ERROR);
        } else {
            __atomic_store_n(&c->s->engine->slab_automove, level, __ATOMIC_RELAXED);
            REPLY(c, TEXT_OK);
        }
    } else {
        REPLY(c, TEXT_ERROR);
    }
}

/* "cache_memlimit <MiB> [noreply]": the memory limit, changed live. Lowered, the sweep's ticks
 * evict down to it (4,096 items per shard per tick); raised, up to limit_growth times the starting
 * limit (engine_config_t: ENGINE_LIMIT_GROWTH, 4, in the addon). */
void text_cache_memlimit(cmd_t *c)
{
    if (text_token_is(&c->t[c->nt - 2], "noreply"))
        c->noreply = true;
    uint32_t megabytes;
    if (!mcnum_u32(c->t[1].p, c->t[1].n, &megabytes))
        REPLY(c, TEXT_ERROR);
    else if (megabytes < 8)
        REPLY(c, TEXT_MEMLIMIT_TOO_SMALL);
    else if (megabytes > 1000000000)
        REPLY(c, TEXT_MEMLIMIT_NOT_BYTES);
    else if (cache_set_memory_limit(c->s->engine->cache, (size_t)megabytes * 1024 * 1024) != 0)
        REPLY(c, TEXT_MEMLIMIT_FAILED);
    else {
        if (__atomic_load_n(&c->s->engine->verbosity, __ATOMIC_RELAXED) > 0)
            logger_stderr(&c->s->engine->logger, "maxbytes adjusted to %llum", (unsigned long long)megabytes);
        REPLY(c, TEXT_OK);
    }
}

/* Our crawler is the sweep every loop runs; "crawl" asks for what it does anyway. */
void text_lru_crawler(cmd_t *c)
{
    engine_t *e = c->s->engine;
    const token_t *sub = &c->t[1];
    bool off = __atomic_load_n(&e->crawler.off, __ATOMIC_RELAXED);
    if (c->nt == 3 && (text_token_is(sub, "enable") || text_token_is(sub, "disable"))) {
        bool enable = sub->p[0] == 'e';
        if (enable && !off) {
            REPLY(c, TEXT_CRAWLER_RUNNING);
            return;
        }
        __atomic_store_n(&e->crawler.off, !enable, __ATOMIC_RELAXED);
        REPLY(c, TEXT_OK);
        return;
    }
    if (c->nt != 4) {
        REPLY(c, TEXT_ERROR);
        return;
    }
    uint64_t classes;
    if (text_token_is(sub, "crawl") || text_token_is(sub, "metadump")) {
        if (off)
            REPLY(c, TEXT_CRAWLER_DISABLED);
        else if (!_classes(&c->t[2], &classes))
            REPLY(c, TEXT_BAD_CLASS);
        else if (sub->p[0] == 'c')
            REPLY(c, TEXT_OK);
        else
            text_dump_begin(c, DUMP_METADUMP, classes, 0);
    } else if (text_token_is(sub, "sleep")) {
        _set(c, &e->crawler.sleep, CRAWLER_SLEEP_MAX);
    } else if (text_token_is(sub, "tocrawl")) {
        _set(c, &e->crawler.tocrawl, UINT32_MAX);
    } else {
        REPLY(c, TEXT_ERROR);
    }
}

/* memcached's safe_strtod: strtod over the whole token (a token here is not NUL-terminated, so it
 * is copied; one too long to copy is no number memcached would take from a command line either). */
static bool _double(const token_t *t, double *out)
{
    char text[128];
    if (t->n == 0 || t->n >= sizeof(text))
        return false;
    memcpy(text, t->p, t->n);
    text[t->n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (errno == ERANGE || end != text + t->n)
        return false;
    *out = d;
    return true;
}

/* "lru tune <hot%> <warm%> <hot factor> <warm factor>", "lru mode flat|segmented", "lru temp_ttl
 * <secs>": memcached's checks and replies. Our store keeps one CLOCK per class (no hot, warm, cold
 * or temporary segments), so the values are only kept for "stats settings" (docs/stats.md). */
void text_lru(cmd_t *c)
{
    engine_t *e = c->s->engine;
    const token_t *sub = &c->t[1];
    if (text_token_is(&c->t[c->nt - 2], "noreply"))
        c->noreply = true;
    if (c->nt >= 7 && text_token_is(sub, "tune")) {
        uint32_t hot, warm;
        double hot_factor, warm_factor;
        if (!mcnum_u32(c->t[2].p, c->t[2].n, &hot) || !mcnum_u32(c->t[3].p, c->t[3].n, &warm) ||
            !_double(&c->t[4], &hot_factor) || !_double(&c->t[5], &warm_factor)) {
            REPLY(c, TEXT_ERROR);
        } else if ((uint32_t)(hot + warm) > 80) { /* a 32-bit sum, wrapping as memcached's does */
            REPLY(c, TEXT_LRU_PCTS);
        } else if (warm_factor <= 0 || hot_factor <= 0) {
            REPLY(c, TEXT_LRU_FACTORS);
        } else {
            __atomic_store_n(&e->lru.hot_pct, hot, __ATOMIC_RELAXED);
            __atomic_store_n(&e->lru.warm_pct, warm, __ATOMIC_RELAXED);
            __atomic_store(&e->lru.hot_max_factor, &hot_factor, __ATOMIC_RELAXED);
            __atomic_store(&e->lru.warm_max_factor, &warm_factor, __ATOMIC_RELAXED);
            REPLY(c, TEXT_OK);
        }
    } else if (c->nt >= 4 && text_token_is(sub, "mode")) {
        if (text_token_is(&c->t[2], "flat") || text_token_is(&c->t[2], "segmented")) {
            __atomic_store_n(&e->lru.segmented, c->t[2].p[0] == 's', __ATOMIC_RELAXED);
            REPLY(c, TEXT_OK);
        } else {
            REPLY(c, TEXT_ERROR);
        }
    } else if (c->nt >= 4 && text_token_is(sub, "temp_ttl")) {
        int32_t ttl;
        if (!mcnum_i32(c->t[2].p, c->t[2].n, &ttl)) {
            REPLY(c, TEXT_ERROR);
            return;
        }
        /* A negative ttl turns the temporary LRU off and keeps the last ttl, as memcached does. */
        __atomic_store_n(&e->lru.temp_lru, ttl >= 0, __ATOMIC_RELAXED);
        if (ttl >= 0)
            __atomic_store_n(&e->lru.temporary_ttl, ttl, __ATOMIC_RELAXED);
        REPLY(c, TEXT_OK);
    } else {
        REPLY(c, TEXT_ERROR);
    }
}

/* "shutdown [graceful]" (memcached's -A): the asking connection closes without a reply, as
 * memcached's does, and every server on the engine is told to stop (net.c signals Node's loop,
 * where the Server closes). Both modes close alike here: graceful only says so (docs/protocols.md). */
void text_shutdown(cmd_t *c)
{
    if (!c->s->engine->shutdown_enabled) {
        REPLY(c, TEXT_SHUTDOWN_DISABLED);
    } else if (c->nt == 2 || (c->nt == 3 && text_token_is(&c->t[1], "graceful"))) {
        c->s->state = SESSION_QUIT;
        served_shutdown(c->s->engine, c->nt == 3);
    } else {
        REPLY(c, TEXT_SHUTDOWN_BAD_MODE);
    }
}

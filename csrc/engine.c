/* engine: owns the store, its clock and the counters every session shares. Sessions and their
 * protocols sit above it (session.c); the engine knows none of them. */
#include "engine.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* memcached starts its clock this far in the past, so that relative times are never 0. */
#define ENGINE_CLOCK_OFFSET 62

/* memcached's eviction line (ttl -1 for none, la: seconds since last access); the flag test keeps an
 * eviction with nobody watching at one indirect call and one load. Under the shard's lock. */
static void _evicted(const item_t *it, unsigned clsid, uint32_t now, void *arg)
{
    engine_t *e = arg;
    if (logger_wants(&e->logger, LOG_EVICTIONS))
        logger_eviction(&e->logger, item_key(it), it->nkey, (it->state & ITEM_FETCHED) != 0,
                        it->exptime ? (long long)it->exptime - now : -1, now - it->atime, clsid, it->nvalue);
}

int engine_init(engine_t *e, const engine_config_t *config)
{
    memset(e, 0, sizeof(*e));
    if (pthread_mutex_init(&e->stats_lock, NULL) != 0)
        return -1;
    if (logger_init(&e->logger) != 0) {
        pthread_mutex_destroy(&e->stats_lock);
        return -1;
    }
    e->max_item_size = config->max_item_size;
    e->started = (int64_t)time(NULL) - ENGINE_CLOCK_OFFSET;
    e->cache = cache_create(config->memory_limit, config->max_item_size, config->shards ? config->shards : 1,
                            config->limit_growth);
    e->prefixes = prefix_create();
    if (e->cache == NULL || e->prefixes == NULL) {
        engine_destroy(e);
        return -1;
    }
    cache_on_evict(e->cache, _evicted, e);
    engine_tick(e);
    return 0;
}

void engine_destroy(engine_t *e)
{
    cache_destroy(e->cache);
    e->cache = NULL;
    auth_destroy(e->auth);
    e->auth = NULL;
    prefix_destroy(e->prefixes);
    e->prefixes = NULL;
    logger_destroy(&e->logger);
    pthread_mutex_destroy(&e->stats_lock);
}

void engine_tick(engine_t *e)
{
    int64_t now = (int64_t)time(NULL) - e->started;
    if (now > 0)
        cache_set_clock(e->cache, (uint32_t)now);
}

uint32_t engine_uptime(const engine_t *e)
{
    /* memcached reports its clock less 60 s, and its clock starts at 62: uptime starts at 2. */
    uint32_t clock = cache_clock(e->cache);
    return clock > ENGINE_CLOCK_OFFSET - 2 ? clock - (ENGINE_CLOCK_OFFSET - 2) : 0;
}

uint32_t engine_exptime(const engine_t *e, int64_t exptime)
{
    if (exptime < 0)
        return 1;
    if (exptime == 0)
        return 0;
    if (exptime > ENGINE_THIRTY_DAYS)
        return exptime <= e->started ? 1 : (uint32_t)(exptime - e->started);
    return (uint32_t)exptime + cache_clock(e->cache);
}

static void _stats_add(engine_stats_t *to, const engine_stats_t *from)
{
#define X(name) to->name += __atomic_load_n(&from->name, __ATOMIC_RELAXED);
    ENGINE_STATS(X)
#undef X
    latency_sum(&to->latency, &from->latency);
}

/* Raw totals; the caller holds stats_lock. */
static void _stats_total(engine_t *e, engine_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    _stats_add(out, &e->stats);
    _stats_add(out, &e->retired);
    for (unsigned i = 0; i < e->nblocks; i++)
        _stats_add(out, e->blocks[i]);
}

void engine_stats_sum(engine_t *e, engine_stats_t *out)
{
    pthread_mutex_lock(&e->stats_lock);
    _stats_total(e, out);
#define X(name) out->name -= e->base.name;
    ENGINE_STATS(X)
#undef X
    latency_subtract(&out->latency, &e->base.latency);
    pthread_mutex_unlock(&e->stats_lock);
}

void engine_stats_reset(engine_t *e)
{
    pthread_mutex_lock(&e->stats_lock);
    _stats_total(e, &e->base);
    e->base.curr_connections = 0;
    pthread_mutex_unlock(&e->stats_lock);
    cache_stats_reset(e->cache);
    logger_stats_reset(&e->logger);
}

int engine_stats_attach(engine_t *e, engine_stats_t *block)
{
    int rc = -1;
    pthread_mutex_lock(&e->stats_lock);
    if (e->nblocks < ENGINE_MAX_STATS_BLOCKS) {
        e->blocks[e->nblocks++] = block;
        rc = 0;
    }
    pthread_mutex_unlock(&e->stats_lock);
    return rc;
}

void engine_stats_detach(engine_t *e, engine_stats_t *block)
{
    pthread_mutex_lock(&e->stats_lock);
    for (unsigned i = 0; i < e->nblocks; i++) {
        if (e->blocks[i] == block) {
            _stats_add(&e->retired, block);
            e->blocks[i] = e->blocks[--e->nblocks];
            break;
        }
    }
    pthread_mutex_unlock(&e->stats_lock);
}

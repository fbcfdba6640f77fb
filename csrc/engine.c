/* engine: owns the store and routes a session's bytes to its protocol.
 * Adding a protocol means one enum value and one case here. */
#include "engine.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "proto_simple.h"
#include "proto_text.h"

/* memcached starts its clock this far in the past, so that relative times are never 0. */
#define ENGINE_CLOCK_OFFSET 62

int engine_init(engine_t *e, const engine_config_t *config)
{
    memset(e, 0, sizeof(*e));
    e->max_item_size = config->max_item_size;
    e->started = (int64_t)time(NULL) - ENGINE_CLOCK_OFFSET;
    e->cache = cache_create(config->memory_limit, config->max_item_size, config->shards ? config->shards : 1);
    if (e->cache == NULL)
        return -1;
    engine_tick(e);
    return 0;
}

void engine_destroy(engine_t *e)
{
    cache_destroy(e->cache);
    e->cache = NULL;
}

void session_init(session_t *s, engine_t *e, session_proto_t proto)
{
    memset(s, 0, sizeof(*s));
    s->engine = e;
    s->stats = &e->stats;
    s->proto = proto;
    s->out_high_water = SIZE_MAX;
}

size_t engine_feed(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->state != SESSION_OPEN)
        return 0;
    engine_tick(s->engine);
    switch (s->proto) {
    case SESSION_PROTO_SIMPLE:
        return proto_simple_feed(s, in, len, out);
    case SESSION_PROTO_TEXT:
        return proto_text_feed(s, in, len, out);
    }
    return 0;
}

void engine_tick(engine_t *e)
{
    int64_t now = (int64_t)time(NULL) - e->started;
    if (now > 0)
        cache_set_clock(e->cache, (uint32_t)now);
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

void engine_stats_reset(engine_t *e)
{
    uint64_t open = e->stats.curr_connections;
    memset(&e->stats, 0, sizeof(e->stats));
    e->stats.curr_connections = open;
}

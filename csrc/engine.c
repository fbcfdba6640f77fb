/* engine: owns the store and routes a session's bytes to its protocol.
 * Adding a protocol means one enum value and one case here. */
#include "engine.h"

#include <stdint.h>
#include <string.h>

#include "proto_simple.h"

int engine_init(engine_t *e, const engine_config_t *config)
{
    memset(e, 0, sizeof(*e));
    e->max_item_size = config->max_item_size;
    e->store = store_create(config->memory_limit, config->max_item_size);
    return e->store ? 0 : -1;
}

void engine_destroy(engine_t *e)
{
    store_destroy(e->store);
    e->store = NULL;
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
    switch (s->proto) {
    case SESSION_PROTO_SIMPLE:
        return proto_simple_feed(s, in, len, out);
    }
    return 0;
}

/* session: one client's protocol session over the engine. The only module that knows the list of
 * protocols: adding one means an enum value and a case here (on memcached's port, its first byte). */
#include "session.h"

#include <stdint.h>
#include <string.h>

#include "proto_binary.h"
#include "proto_simple.h"
#include "proto_text.h"

void session_init(session_t *s, engine_t *e, session_proto_t proto)
{
    memset(s, 0, sizeof(*s));
    s->engine = e;
    s->stats = &e->stats;
    s->proto = proto;
    s->authenticated = e->auth == NULL;
    s->out_high_water = UINT32_MAX;
}

size_t session_feed(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->state != SESSION_OPEN)
        return 0;
    engine_tick(s->engine);
    if (!s->negotiated && len > 0) {
        s->negotiated = true;
        if (s->proto == SESSION_PROTO_TEXT && s->engine->auth == NULL && (unsigned char)in[0] == BINARY_MAGIC_REQUEST)
            s->proto = SESSION_PROTO_BINARY;
    }
    switch (s->proto) {
    case SESSION_PROTO_SIMPLE:
        return proto_simple_feed(s, in, len, out);
    case SESSION_PROTO_TEXT:
        return proto_text_feed(s, in, len, out);
    case SESSION_PROTO_BINARY:
        return proto_binary_feed(s, in, len, out);
    }
    return 0;
}

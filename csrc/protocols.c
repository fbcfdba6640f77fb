/* protocols: starts a session on its protocol's first step; on memcached's port that step looks at
 * the first byte and hands the session to the text or the binary protocol for good. */
#include "protocols.h"

#include <string.h>

#include "proto_binary.h"
#include "proto_simple.h"
#include "proto_text.h"

static size_t _negotiate(session_t *s, const char *in, size_t len, buf_t *out)
{
    /* memcached -S serves binary only: text gets no answer, and is cut off once a header's worth
     * has arrived without the magic. */
    if (s->engine->sasl || (s->engine->auth == NULL && (unsigned char)in[0] == BINARY_MAGIC_REQUEST)) {
        memset(&s->proto, 0, sizeof(s->proto));
        s->step = proto_binary_step;
    } else {
        s->step = proto_text_step;
    }
    return s->step(s, in, len, out);
}

void protocol_end(session_t *s)
{
    session_value_drop(s);
    if (s->step == proto_text_step)
        proto_text_end(s);
}

void protocol_start(session_t *s, engine_t *e, protocol_t p)
{
    static const session_step_t first_step[] = {
        [PROTOCOL_SIMPLE] = proto_simple_step,
        [PROTOCOL_MEMCACHED] = _negotiate,
        [PROTOCOL_BINARY] = proto_binary_step,
    };
    session_init(s, e, first_step[p]);
    if (p == PROTOCOL_MEMCACHED)
        s->proto.text.authenticated = e->auth == NULL;
}

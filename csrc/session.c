/* session: starts a session on its protocol's step and feeds it: one loop for every protocol, so
 * output bounds and session ends are honoured in one place. */
#include "session.h"

#include <string.h>

void session_init(session_t *s, engine_t *e, session_step_t step)
{
    memset(s, 0, sizeof(*s));
    s->engine = e;
    s->stats = &e->stats;
    s->step = step;
    s->out_high_water = UINT32_MAX;
    s->fd = -1;
}

/* One indirect call per command: a few cycles against the hundreds a command costs, and it keeps
 * the protocols out of this file. */
size_t session_feed(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->state != SESSION_OPEN)
        return 0;
    engine_tick(s->engine);
    size_t done = 0;
    while (s->state == SESSION_OPEN && done < len && buf_len(out) < s->out_high_water) {
        size_t used = s->step(s, in + done, len - done, out);
        if (used == 0 && !s->producing)
            break;
        done += used;
    }
    return done;
}

/* session: starts a session on its protocol's step and feeds it: one loop for every protocol, so
 * output bounds and session ends are honoured in one place. */
#include "session.h"

#include <string.h>

#include "bufref.h"

void session_init(session_t *s, engine_t *e, session_step_t step)
{
    memset(s, 0, sizeof(*s));
    s->engine = e;
    s->stats = &e->stats;
    s->step = step;
    s->out_high_water = UINT32_MAX;
    s->fd = -1;
}

/* Commands timed together at most: the clock is read once per this many (and once per feed). */
#define SESSION_TIMED_BATCH 32

/* The commands ran[0..n) took from start to now together: each is given their mean. Returns now.
 * Reading the clock once per batch instead of once per command keeps its ~30 ns off each pipelined
 * command; a command that arrives alone, the usual case, is timed exactly. */
static uint64_t _time_batch(session_t *s, const uint8_t *ran, unsigned n, uint64_t start)
{
    uint64_t end = latency_now();
    uint64_t each = (end - start) / n;
    unsigned bucket = latency_bucket(each);
    latency_hist_t *h = &s->stats->latency;
    for (unsigned i = 0; i < n; i++) {
        latency_add(&h->count[ran[i]][bucket], 1);
        latency_add(&h->sum_ns[ran[i]], each);
    }
    return end;
}

/* One indirect call per command: a few cycles against the hundreds a command costs, and it keeps
 * the protocols out of this file. The commands one call runs are timed as a batch (_time_batch);
 * a command run in several steps (a get paused at the output mark, a refused value discarded as it
 * arrives) counts once per step. */
size_t session_feed(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->state != SESSION_OPEN)
        return 0;
    size_t done = 0;
    uint8_t ran[SESSION_TIMED_BATCH];
    unsigned nran = 0;
    uint64_t start = latency_now();
    while (s->state == SESSION_OPEN && done < len && buf_pending(out) < s->out_high_water) {
        size_t used = s->step(s, in + done, len - done, out);
        if (used == 0 && !s->producing)
            break;
        done += used;
        ran[nran++] = s->command;
        if (nran == SESSION_TIMED_BATCH) {
            start = _time_batch(s, ran, nran, start);
            nran = 0;
        }
    }
    if (nran > 0)
        _time_batch(s, ran, nran, start);
    return done;
}

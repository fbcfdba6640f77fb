/* session: starts a session on its protocol's step and feeds it: one loop for every protocol, so
 * output bounds and session ends are honoured in one place. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "bufref.h"
#include "cache.h"

void session_init(session_t *s, engine_t *e, session_step_t step)
{
    memset(s, 0, sizeof(*s));
    s->engine = e;
    s->stats = &e->stats;
    s->step = step;
    s->out_high_water = UINT32_MAX;
    s->fd = -1;
}

_Static_assert(sizeof(session_t) == 56, "session_t stays 56 bytes: a value in progress lives in proto");

void *session_value_begin(session_t *s, item_t *it, size_t trailer_len, session_commit_t commit, size_t cmd_size)
{
    session_value_t *v = malloc(sizeof(*v) + cmd_size);
    if (v == NULL) {
        cache_release(s->engine->cache, it);
        return NULL;
    }
    memset(v, 0, sizeof(*v) + cmd_size);
    v->item = it;
    v->trailer_len = (uint8_t)trailer_len;
    v->commit = commit;
    s->proto.value = v;
    s->receiving = true;
    return v->cmd;
}

/* The value and its trailer are in: the protocol commits it and the session is itself again. */
static void _value_end(session_t *s, buf_t *out)
{
    session_value_t *v = s->proto.value;
    s->receiving = false;
    s->proto.value = NULL;
    v->commit(s, v, out);
    free(v);
}

static bool _value_complete(const session_value_t *v)
{
    return v->got == v->item->nvalue && v->trailer_got == v->trailer_len;
}

char *session_value_room(session_t *s, size_t *n)
{
    if (!s->receiving)
        return NULL;
    session_value_t *v = s->proto.value;
    *n = v->item->nvalue - v->got;
    return *n > 0 ? (char *)item_value(v->item) + v->got : NULL;
}

void session_value_landed(session_t *s, size_t n, buf_t *out)
{
    session_value_t *v = s->proto.value;
    v->got += (uint32_t)n;
    if (_value_complete(v))
        _value_end(s, out);
}

/* Copies what is due of in[0..len) into the item, then the trailer; commits once both are in. */
static size_t _value_take(session_t *s, const char *in, size_t len, buf_t *out)
{
    session_value_t *v = s->proto.value;
    size_t room;
    char *to = session_value_room(s, &room);
    size_t n = room < len ? room : len;
    if (n > 0)
        memcpy(to, in, n);
    v->got += (uint32_t)n;
    while (n < len && v->trailer_got < v->trailer_len)
        v->trailer[v->trailer_got++] = in[n++];
    if (_value_complete(v))
        _value_end(s, out);
    return n;
}

void session_value_drop(session_t *s)
{
    if (!s->receiving)
        return;
    session_value_t *v = s->proto.value;
    s->receiving = false;
    s->proto.value = NULL;
    cache_release(s->engine->cache, v->item);
    free(v);
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
        size_t used = s->receiving ? _value_take(s, in + done, len - done, out)
                                   : s->step(s, in + done, len - done, out);
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

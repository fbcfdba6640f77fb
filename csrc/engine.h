/* engine: one store plus the protocols that serve it, behind a transport-agnostic feed() call.
 * A session is one client's protocol state; sockets, TLS streams, tests and fuzzers all feed sessions. */
#ifndef SC_ENGINE_H
#define SC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

/* Protocol counters, defined once and expanded wherever they are listed. */
#define ENGINE_STATS(X)      \
    X(cmd_get)               \
    X(get_hits)              \
    X(get_misses)            \
    X(cmd_set)               \
    X(delete_hits)           \
    X(delete_misses)         \
    X(curr_connections)      \
    X(total_connections)     \
    X(rejected_connections)

typedef struct engine_stats {
#define X(name) uint64_t name;
    ENGINE_STATS(X)
#undef X
} engine_stats_t;

typedef struct engine_config {
    size_t memory_limit;   /* bytes */
    size_t max_item_size;  /* bytes of value */
} engine_config_t;

typedef struct engine {
    store_t *store;
    engine_stats_t stats;
    size_t max_item_size;
} engine_t;

typedef enum session_proto { SESSION_PROTO_SIMPLE } session_proto_t;

typedef enum session_state {
    SESSION_OPEN = 0,
    SESSION_QUIT,    /* the client asked to close: send what is queued, then close */
    SESSION_BROKEN,  /* the stream cannot be resynchronised: send what is queued, then close */
} session_state_t;

typedef struct session {
    engine_t *engine;
    engine_stats_t *stats;  /* where this session's counters go */
    session_proto_t proto;
    session_state_t state;
    size_t scanned;         /* leading bytes of the pending input already known to hold no line end */
    size_t out_high_water;  /* feed stops executing commands once out holds this many bytes */
} session_t;

int engine_init(engine_t *e, const engine_config_t *config);
void engine_destroy(engine_t *e);

void session_init(session_t *s, engine_t *e, session_proto_t proto);

/* Executes every complete command in in[0..len), appending the replies to out, and returns how many
 * bytes it consumed. The caller keeps the rest and passes it again, with more bytes appended, on
 * the next call. It stops early once out holds s->out_high_water bytes, so that one read of
 * pipelined gets cannot queue unbounded output. Once s->state is not SESSION_OPEN the session
 * consumes nothing more. */
size_t engine_feed(session_t *s, const char *in, size_t len, buf_t *out);

#endif

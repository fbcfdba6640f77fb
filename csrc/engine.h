/* engine: one store with its clock and counters, and session_t, the protocol state every protocol
 * reads. session.h starts and feeds sessions; sockets, TLS streams, tests and fuzzers all feed them. */
#ifndef SC_ENGINE_H
#define SC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "store.h"

/* Protocol counters, defined once and expanded wherever they are listed. */
#define ENGINE_STATS(X)      \
    X(curr_connections)      \
    X(total_connections)     \
    X(rejected_connections)  \
    X(cmd_get)               \
    X(cmd_set)               \
    X(cmd_flush)             \
    X(cmd_touch)             \
    X(get_hits)              \
    X(get_misses)            \
    X(delete_misses)         \
    X(delete_hits)           \
    X(incr_misses)           \
    X(incr_hits)             \
    X(decr_misses)           \
    X(decr_hits)             \
    X(cas_misses)            \
    X(cas_hits)              \
    X(cas_badval)            \
    X(touch_hits)            \
    X(touch_misses)          \
    X(store_too_large)       \
    X(store_no_memory)       \
    X(auth_cmds)             \
    X(auth_errors)           \
    X(idle_kicks)            /* listed by "stats" only with an idle timeout, as memcached does */ \
    X(bytes_read)            \
    X(bytes_written)

/* Each block of counters has one writer (its thread); any thread may read. Relaxed atomic loads
 * and stores make that well defined without the cost of a locked add on the hot path. */
typedef struct engine_stats {
#define X(name) uint64_t name;
    ENGINE_STATS(X)
#undef X
} engine_stats_t;

static inline void stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void stat_sub(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) - n, __ATOMIC_RELAXED);
}

#define ENGINE_MAX_STATS_BLOCKS 130

typedef struct engine_config {
    size_t memory_limit;   /* bytes */
    size_t max_item_size;  /* bytes of value */
    unsigned shards;       /* 1 keeps one eviction clock over everything; more let threads work side by side */
} engine_config_t;

typedef struct engine {
    cache_t *cache;
    engine_stats_t stats;      /* written by Node's thread: in-process calls, its connections */
    pthread_mutex_t stats_lock;
    engine_stats_t *blocks[ENGINE_MAX_STATS_BLOCKS]; /* I/O threads' counters, under stats_lock */
    unsigned nblocks;
    engine_stats_t retired;    /* counters of blocks detached, so totals never go back */
    engine_stats_t base;       /* totals at "stats reset", subtracted when read */
    size_t max_item_size;
    int64_t started;        /* unix time of store clock 0, as memcached's process_started */
    unsigned verbosity;
    unsigned max_connections;  /* for stats: the largest limit of the listeners serving it */
    unsigned idle_timeout;     /* for stats: seconds, 0 = none */
    unsigned threads;          /* for stats: I/O threads serving it (0 or 1: Node's loop) */
    auth_t *auth;              /* NULL: no authentication; else who may open a text session (set
                                * before any session exists; engine_destroy frees it) */
} engine_t;

/* A session created as SESSION_PROTO_TEXT (memcached's port) becomes SESSION_PROTO_BINARY when its
 * first byte is the binary protocol's magic 0x80, as memcached negotiates, unless authentication is
 * on: memcached with -Y serves ascii only. */
typedef enum session_proto { SESSION_PROTO_SIMPLE, SESSION_PROTO_TEXT, SESSION_PROTO_BINARY } session_proto_t;

/* Where a memcached text session is between commands. */
typedef enum text_state {
    TEXT_LINE = 0,  /* expecting a command line (a storage command's data comes with it) */
    TEXT_SWALLOW,   /* discarding the data block of a refused storage command */
    TEXT_GET_MORE,  /* the input continues with more keys of a get paused at the output mark */
} text_state_t;

typedef enum session_state {
    SESSION_OPEN = 0,
    SESSION_QUIT,    /* the client asked to close: send what is queued, then close */
    SESSION_BROKEN,  /* the stream cannot be resynchronised: send what is queued, then close */
} session_state_t;

/* One client's protocol state. Every open connection holds one, so it is packed: 40 bytes. The
 * 32-bit sizes are enough because every length they hold is bounded far below 4 GiB (a line by the
 * protocol's line limit, a data block by the 32-bit length memcached parses). */
typedef struct session {
    engine_t *engine;
    engine_stats_t *stats;     /* where this session's counters go */
    uint32_t scanned;          /* leading bytes of the pending input already known to hold no line end */
    uint32_t out_high_water;   /* feed stops executing commands once out holds this many bytes */
    uint32_t swallow_left;     /* bytes still to discard: TEXT_SWALLOW, or any binary session */
    uint32_t get_exptime;      /* TEXT_GET_MORE: the paused get's new exptime (gat) */
    uint8_t proto;             /* session_proto_t */
    uint8_t state;             /* session_state_t */
    uint8_t text_state;        /* text_state_t */
    bool get_with_cas : 1;     /* TEXT_GET_MORE: the paused get is a gets/gats */
    bool get_touch : 1;        /* TEXT_GET_MORE: the paused get is a gat/gats */
    bool authenticated : 1;    /* text protocol: false until the auth "set" succeeds (engine->auth) */
    bool negotiated : 1;       /* the first byte has been seen: a text session stays text or is binary */
} session_t;

#define ENGINE_VERSION "1.6.18"  /* the memcached version whose behaviour we match */
#define ENGINE_THIRTY_DAYS (60 * 60 * 24 * 30)

int engine_init(engine_t *e, const engine_config_t *config);
void engine_destroy(engine_t *e);

/* A cas store's outcome, in the counters every protocol keeps alike. */
static inline void session_count_cas(session_t *s, store_status_t st)
{
    if (st == STORE_OK)
        stat_add(&s->stats->cas_hits, 1);
    else if (st == STORE_EXISTS)
        stat_add(&s->stats->cas_badval, 1);
    else if (st == STORE_NOT_FOUND)
        stat_add(&s->stats->cas_misses, 1);
}

/* A lookup's outcome: a get counts in cmd_get and get_hits/misses, a touch or gat in cmd_touch and
 * touch_hits/misses, alike in every protocol. */
static inline void session_count_get(session_t *s, bool touch, bool hit)
{
    if (touch) {
        stat_add(&s->stats->cmd_touch, 1);
        stat_add(hit ? &s->stats->touch_hits : &s->stats->touch_misses, 1);
    } else {
        stat_add(&s->stats->cmd_get, 1);
        stat_add(hit ? &s->stats->get_hits : &s->stats->get_misses, 1);
    }
}

/* One command's worth of a protocol's work: executes the command at in[0..len) and returns the
 * bytes it took, or 0 when it needs more input. */
typedef size_t (*session_step_t)(session_t *s, const char *in, size_t len, buf_t *out);

/* A protocol's feed: steps while the session is open, input remains and the output is below the
 * mark. Inline so that each protocol's static step is called directly. */
static inline size_t session_steps(session_t *s, const char *in, size_t len, buf_t *out, session_step_t step)
{
    size_t done = 0;
    while (s->state == SESSION_OPEN && done < len && buf_len(out) < s->out_high_water) {
        size_t used = step(s, in + done, len - done, out);
        if (used == 0)
            break;
        done += used;
    }
    return done;
}

/* "stats reset": later reads count from now, except what counts open connections. */
void engine_stats_reset(engine_t *e);

/* An I/O thread's block of counters joins or leaves the totals. Returns 0, or -1 when full. */
int engine_stats_attach(engine_t *e, engine_stats_t *block);
void engine_stats_detach(engine_t *e, engine_stats_t *block);

/* The totals of every block, as of now; any thread. */
void engine_stats_sum(engine_t *e, engine_stats_t *out);

/* Advances the store clock to the wall clock. Cheap (a vDSO call); done once per feed. */
void engine_tick(engine_t *e);

/* Converts a client's exptime to store clock time as memcached does: 0 never expires, up to 30
 * days is relative, more is a unix time, and negative (or past) means already expired. */
uint32_t engine_exptime(const engine_t *e, int64_t exptime);

#endif

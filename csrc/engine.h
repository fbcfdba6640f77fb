/* engine: one store with its clock and the counters every session adds to. Sessions (session.h)
 * and their protocols sit above it; sockets, TLS streams, tests and fuzzers feed those. */
#ifndef SC_ENGINE_H
#define SC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "auth.h"
#include "cache.h"
#include "latency.h"
#include "logger.h"
#include "prefix.h"
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
    X(cmd_meta)              \
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
    X(conn_yields)           /* feeds cut short by the output mark with commands still pending */ \
    X(bytes_read)            \
    X(bytes_written)

/* Each block of counters has one writer (its thread); any thread may read. Relaxed atomic loads
 * and stores make that well defined without the cost of a locked add on the hot path. */
typedef struct engine_stats {
#define X(name) uint64_t name;
    ENGINE_STATS(X)
#undef X
    latency_hist_t latency;    /* each command's execution time, by the session that ran it */
} engine_stats_t;

static inline void stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void stat_sub(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) - n, __ATOMIC_RELAXED);
}

/* A cas store's outcome, counted alike by every protocol and the in-process API. */
static inline void engine_count_cas(engine_stats_t *st, store_status_t status)
{
    if (status == STORE_OK)
        stat_add(&st->cas_hits, 1);
    else if (status == STORE_EXISTS)
        stat_add(&st->cas_badval, 1);
    else if (status == STORE_NOT_FOUND)
        stat_add(&st->cas_misses, 1);
}

/* A lookup's outcome: a get counts in cmd_get and get_hits/misses, a touch or gat in cmd_touch and
 * touch_hits/misses, alike in every protocol and the in-process API. */
static inline void engine_count_get(engine_stats_t *st, bool touch, bool hit)
{
    if (touch) {
        stat_add(&st->cmd_touch, 1);
        stat_add(hit ? &st->touch_hits : &st->touch_misses, 1);
    } else {
        stat_add(&st->cmd_get, 1);
        stat_add(hit ? &st->get_hits : &st->get_misses, 1);
    }
}

#define ENGINE_MAX_STATS_BLOCKS 130

typedef struct engine_config {
    size_t memory_limit;   /* bytes */
    size_t max_item_size;  /* bytes of value */
    unsigned shards;       /* 1 keeps one eviction clock over everything; more let threads work side by side */
    unsigned limit_growth; /* cache_memlimit may raise the limit up to this many times (0, 1: not at
                            * all); each time costs that much reserved address space (slab.h) */
} engine_config_t;

/* How the servers on this engine run, kept only for "stats" to print (written by the binding
 * before it serves; the transport has its own copy of what it uses). */
typedef struct engine_served {
    unsigned max_connections;  /* the largest limit of the listeners serving it */
    unsigned idle_timeout;     /* seconds, 0 = none */
    unsigned threads;          /* I/O threads serving it (0 or 1: Node's loop) */
    unsigned tcp_port;         /* memcached's port as bound, 0 = none */
    unsigned tcp_backlog;
    char interface[64];        /* its address, "" = none given */
    char domain_socket[108];   /* memcached's -s: its Unix socket's path, "" = none */
    unsigned unix_mask;        /* and -a, the socket file's mode (meaningful with a path) */
    char event_library[32];    /* "libuv-<version>", "" = not served */
} engine_served_t;

/* What the restart file has done (snapshot.h), for "stats" and /metrics; under stats_lock. */
typedef struct engine_snapshots {
    bool shown;              /* list them in "stats" (a server with a restart file) */
    uint64_t loaded, expired, dropped;  /* the last load's items */
    double load_seconds;
    uint64_t saves, failures;           /* saves that succeeded, and failed */
    uint64_t last_items, last_bytes;    /* of the last save that succeeded */
    double last_seconds;
    int64_t last_at;                    /* its unix time; 0: none yet */
} engine_snapshots_t;

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
    engine_served_t served;
    /* memcached's LRU crawler switches ("lru_crawler ..."): the crawler here is the sweep, which
     * "off" stops; sleep and tocrawl are kept for "stats settings". Relaxed atomics, any thread. */
    struct {
        bool off;
        unsigned sleep;
        unsigned tocrawl;
    } crawler;
    unsigned slab_automove;    /* "slabs automove <0|1|2>", shown by stats settings: pages here
                                * move between classes by themselves whatever it says */
    engine_snapshots_t snapshots;
    prefix_stats_t *prefixes;  /* "stats detail": per-prefix counters, off until turned on */
    logger_t logger;           /* "watch" streams and -v/-vv lines (logger.h) */
    auth_t *auth;              /* NULL: no authentication; else who may open a text session (set
                                * before any session exists; engine_destroy frees it) */
    struct served_server *servers; /* the servers serving it, under stats_lock (served.h) */
    bool sasl;                 /* memcached's -S: the memcached port speaks binary only, and SASL
                                * PLAIN against auth's users opens it (set before serving) */
    bool shutdown_enabled;     /* memcached's -A: "shutdown" stops the servers (set before serving) */
    bool flush_disabled;       /* memcached's -F: flush_all is refused (set before serving) */
    /* "lru tune|mode|temp_ttl": kept for "stats settings"; one CLOCK per class here has no
     * segments to tune. Relaxed atomics, any thread. */
    struct {
        unsigned hot_pct, warm_pct;
        double hot_max_factor, warm_max_factor;
        bool segmented, temp_lru;
        int32_t temporary_ttl;
    } lru;
} engine_t;

#define ENGINE_LIMIT_GROWTH 4    /* what the addon's engines let cache_memlimit raise the limit to */
#define ENGINE_VERSION "1.6.18"  /* the memcached version whose behaviour we match */
#ifndef SIMPLECACHED_VERSION
#define SIMPLECACHED_VERSION "unknown" /* package.json's, defined by binding.gyp */
#endif
#define ENGINE_THIRTY_DAYS (60 * 60 * 24 * 30)

int engine_init(engine_t *e, const engine_config_t *config);
void engine_destroy(engine_t *e);

/* "stats reset": later reads count from now, except what counts open connections. */
void engine_stats_reset(engine_t *e);

/* An I/O thread's block of counters joins or leaves the totals. Returns 0, or -1 when full. */
int engine_stats_attach(engine_t *e, engine_stats_t *block);
void engine_stats_detach(engine_t *e, engine_stats_t *block);

/* The totals of every block, as of now; any thread. */
void engine_stats_sum(engine_t *e, engine_stats_t *out);

/* Advances the store clock to the wall clock: a vDSO call and a read, and a write of the shared
 * clock once a second. Whoever runs sessions calls it, off the per-request path: each group's
 * timer (memcached ticks once a second; we tick every GROUP_TICK_MS, so that an exptime ends
 * within that of its second), and the in-process calls of the binding. */
void engine_tick(engine_t *e);

/* Seconds since the engine started, as memcached's "uptime" counts them. */
uint32_t engine_uptime(const engine_t *e);

/* Converts a client's exptime to store clock time as memcached does: 0 never expires, up to 30
 * days is relative, more is a unix time, and negative (or past) means already expired. */
uint32_t engine_exptime(const engine_t *e, int64_t exptime);

#endif

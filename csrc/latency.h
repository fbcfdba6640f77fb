/* latency: per-command histograms of the time a server spends executing each command, kept in every
 * thread's counter block (engine.h) and summed for /metrics. Header-only: the hot path inlines it. */
#ifndef SC_LATENCY_H
#define SC_LATENCY_H

#include <stdint.h>
#include <time.h>

/* The commands timed apart, with their Prometheus label. A protocol names the command it is running
 * in session_t.command; every protocol's spelling of one command (get, gets, bget, binary GETK...)
 * shares a label. */
#define LATENCY_COMMANDS(X)   \
    X(OTHER, "other")         \
    X(GET, "get")             \
    X(GAT, "gat")             \
    X(SET, "set")             \
    X(ADD, "add")             \
    X(REPLACE, "replace")     \
    X(APPEND, "append")       \
    X(PREPEND, "prepend")     \
    X(CAS, "cas")             \
    X(INCR, "incr")           \
    X(DECR, "decr")           \
    X(DELETE, "delete")       \
    X(TOUCH, "touch")         \
    X(FLUSH, "flush")         \
    X(MG, "mg")               \
    X(MS, "ms")               \
    X(MD, "md")               \
    X(MA, "ma")

typedef enum latency_command {
#define X(id, label) LATENCY_##id,
    LATENCY_COMMANDS(X)
#undef X
    LATENCY_NCOMMANDS
} latency_command_t;

/* Upper bounds of the finite buckets in nanoseconds: 1-2.5-5 steps from 1 µs to 100 ms, so a
 * dashboard reads the usual quantiles without interpolating across a decade. The last bucket is
 * +Inf. */
#define LATENCY_BOUNDS(X) \
    X(1000) X(2500) X(5000) X(10000) X(25000) X(50000) X(100000) X(250000) X(500000) \
    X(1000000) X(2500000) X(5000000) X(10000000) X(25000000) X(50000000) X(100000000)

enum {
#define X(ns) +1
    LATENCY_NBOUNDS = 0 LATENCY_BOUNDS(X),
#undef X
    LATENCY_NBUCKETS = LATENCY_NBOUNDS + 1
};

/* Counts per bucket (not cumulative) and the nanoseconds spent, per command. One writer per block;
 * readers sum with relaxed loads, as for every counter in engine_stats_t. */
typedef struct latency_hist {
    uint64_t count[LATENCY_NCOMMANDS][LATENCY_NBUCKETS];
    uint64_t sum_ns[LATENCY_NCOMMANDS];
} latency_hist_t;

extern const uint64_t latency_bounds_ns[LATENCY_NBOUNDS];
extern const char *const latency_labels[LATENCY_NCOMMANDS];

/* The monotonic clock in nanoseconds: a vDSO read, about 30 ns here. */
static inline uint64_t latency_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Linear from the smallest bound: a cache command usually stops at the first or second compare. */
static inline unsigned latency_bucket(uint64_t ns)
{
    unsigned b = 0;
    while (b < LATENCY_NBOUNDS && ns > latency_bounds_ns[b])
        b++;
    return b;
}

static inline void latency_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* to += from, reading from with relaxed loads (another thread may be writing it). */
void latency_sum(latency_hist_t *to, const latency_hist_t *from);

/* to -= base: what was counted since base was taken ("stats reset"). */
void latency_subtract(latency_hist_t *to, const latency_hist_t *base);

#endif

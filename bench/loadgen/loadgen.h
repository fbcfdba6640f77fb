/* loadgen.h - the load generator's state: its options, its connections with their requests in flight, and the counts;
 * shared by every file of bench/loadgen/, with the functions each offers the others declared where noted. */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buffer.h"
#include "cpu.h"
#include "histogram.h"

#define PRELOAD_DEPTH 64          /* sets in flight per connection while preloading */

enum protocol { PROTO_SIMPLE, PROTO_TEXT, PROTO_BINARY };

struct options {
    const char *host;
    const char *port;
    const char *socket;     /* a Unix domain socket instead of host and port */
    int conns;
    int pipeline;
    double duration_s;
    double warmup_s;
    double set_ratio;
    int value_size;
    int keys;
    int multiget;           /* keys per get request; the seed protocol has no multi-key gets */
    long server_pid;        /* whose CPU time to sample at the window's edges; 0: none */
    enum protocol protocol;
    bool json;
};

struct request {
    uint64_t sent_ns;
    uint32_t *keys;         /* this slot's share of conn.key_store: multiget ids, fixed per slot */
    unsigned nkeys;         /* 1 for sets, --multiget for gets */
    bool is_set;
};

struct conn {
    int fd;
    struct buffer in, out;
    struct request *queue;  /* ring of requests awaiting a reply, oldest at queue_head */
    uint32_t *key_store;    /* queue_cap * multiget key ids backing queue[i].keys */
    unsigned queue_cap, queue_head, inflight;
    uint32_t preload_next;  /* next key this connection preloads; keys are striped across conns */
    bool preload_done;
    bool want_write;        /* EPOLLOUT registered because the socket buffer was full */
    uint64_t rng;
};

enum phase { PHASE_PRELOAD, PHASE_TRAFFIC };

/* A multi-key get is one op (ops, gets, latency) but N keys (get_keys, hits). */
struct stats {
    uint64_t ops, gets, get_keys, sets, hits, errors;
    struct histogram latency;
};

struct bench {
    struct options opt;
    struct conn *conns;
    int epfd;
    enum phase phase;
    int preload_pending;    /* connections still preloading */
    uint64_t preload_deadline, measure_start, measure_end;
    char *value;
    char text_set_suffix[48]; /* " 0 0 <n>\r\n" for text-protocol sets */
    size_t text_set_suffix_len;
    bool failed;
    struct stats stats;
    struct cpu_window server_cpu;
};

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap enough that choosing keys never shows up next to syscalls. */
static inline uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline double random_unit(uint64_t *state)
{
    return (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* The request `offset` places after the oldest one awaiting a reply. */
static inline struct request *queue_slot(struct conn *c, unsigned offset)
{
    return &c->queue[(c->queue_head + offset) % c->queue_cap];
}

/* requests.c: queues a request on a connection, encoded in the run's protocol. */
void request_enqueue_set(struct bench *b, struct conn *c, uint32_t key, uint64_t now);
void request_enqueue_get(struct bench *b, struct conn *c, uint64_t now);

/* conn.c: the connections' sockets. */
bool conn_open_all(struct bench *b);
void conn_flush(struct bench *b, struct conn *c);
void conn_read(struct bench *b, struct conn *c);

/* run.c: the run's phases and event loop; what is done with replies as they arrive; a failure that ends it. */
void run(struct bench *b);
void run_on_input(struct bench *b, struct conn *c, uint64_t now);
void fail(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report.c: the results, as text or one JSON line. */
void report_print(const struct bench *b);

#endif

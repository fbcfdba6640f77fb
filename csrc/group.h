/* group: the connections served by one libuv loop — Node's own, or the loop of a native I/O
 * thread that this module starts and joins. It adopts sockets, keeps house, and closes them all. */
#ifndef SC_GROUP_H
#define SC_GROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"
#include "conn_ring.h"
#include "engine.h"
#include "protocols.h"

/* Housekeeping period: a bounded sweep of the store for expired and flushed items, and closing
 * connections that lingered too long. */
#define GROUP_TICK_MS 100
/* Hash buckets the sweep visits per tick: ~40k/s, a whole 1M-bucket table in under 30 s. */
#define GROUP_SWEEP_BUCKETS 4096
/* How long a closing group waits for replies to drain before dropping its connections. */
#define GROUP_CLOSE_GRACE_MS 2000
/* One read buffer per loop, lent to whichever connection reads with nothing pending. */
#define GROUP_SCRATCH_SIZE (64 * 1024)
/* How often idle and stalled connections are looked for, when a timeout is set. */
#define GROUP_IDLE_CHECK_MS 1000

/* What a group tells whoever started it (net.c's server, or a test), given to group_start(). */
typedef struct group_owner {
    /* Any thread: a connection of the group, or a socket handed to it, is gone. */
    void (*conn_gone)(void *data);
    /* Node's loop: an unthreaded group has closed every handle (after group_close()). */
    void (*closed)(void *data);
    /* The I/O thread, as its last act: its loop has ended; the owner calls group_join() from Node's
     * loop, after which a threaded group counts as closed. */
    void (*thread_ended)(void *data);
} group_owner_t;

/* A socket accepted on Node's loop, on its way to an I/O thread. */
typedef struct group_handoff {
    uv_os_sock_t fd;
    protocol_t proto;
    bool local;                 /* a Unix domain socket, served by a uv_pipe_t */
} group_handoff_t;

typedef struct group {
    const group_owner_t *owner;
    void *owner_data;
    engine_t *engine;
    uv_loop_t *loop;
    bool threaded;
    uv_loop_t own_loop;
    uv_thread_t thread;
    uv_async_t wakeup;          /* threaded: sockets were handed over, or stop was asked */
    uv_mutex_t lock;            /* guards the list of connections; threaded: handoffs and stop_asked */
    group_handoff_t *handoffs;
    unsigned nhandoffs, handoff_cap;
    bool stop_asked;
    uv_timer_t tick_timer;      /* does not keep the loop alive */
    uv_timer_t grace_timer;
    conn_t *conns;
    unsigned nconns;
    unsigned nlingering;
    unsigned open_handles;      /* timers, wakeup and connections not yet closed */
    bool closing;
    engine_stats_t own_stats;   /* threaded: this thread's counters */
    engine_stats_t *stats;      /* where this group's sessions count */
    int finished;               /* threaded: set (atomically) when the thread's loop has ended */
    bool joined;
    uint32_t idle_timeout_ms;   /* 0: connections may stay idle forever */
    uint32_t write_timeout_ms;  /* 0: a reader may leave its replies unread forever */
    uint64_t idle_checked;      /* loop time of the last look for idle connections */
    buf_t out_scratch;          /* replies of the connection being served, until sent */
    buf_refs_t out_scratch_refs; /* the values those replies send from their items */
    conn_owner_t conn_owner;    /* this group, as its connections see it */
    conn_ring_t ring;           /* the loop's sends, when io_uring is there (conn_owner.ring) */
    conn_io_cache_t io_cache;   /* its connections' spare buffers */
    char scratch[GROUP_SCRATCH_SIZE];
} group_t;

/* Prepares a group on Node's loop (threaded false) or starts an I/O thread for it. Connections
 * that execute no command for idle_timeout seconds are closed, and those whose replies wait unread
 * for write_timeout seconds are dropped (0: never). Returns 0 or a UV error, with nothing left open
 * on error. */
int group_start(group_t *g, const group_owner_t *owner, void *owner_data, engine_t *engine, uv_loop_t *node_loop,
                bool threaded, unsigned idle_timeout, unsigned write_timeout);

/* On the group's loop: serves an accepted tcp or pipe handle embedded in a calloc'ed conn. */
void group_adopt(group_t *g, conn_t *c, protocol_t proto);

/* From Node's loop: hands an accepted socket (a Unix domain one if local) to a threaded group,
 * which then owns it. */
int group_hand_over(group_t *g, uv_os_sock_t fd, protocol_t proto, bool local);

/* Starts closing: connections send what they owe (within GROUP_CLOSE_GRACE_MS), every handle
 * closes; then the owner hears closed() on Node's loop, or thread_ended() from a threaded group. */
void group_close(group_t *g);

struct served_pick;

/* Any thread, for "stats conns": offers each connection's socket to pick (served.h), holding the
 * group's lock, which its loop takes only to link or unlink a connection. */
void group_list(group_t *g, struct served_pick *pick);

/* On Node's loop, once g->finished: joins the thread and releases what the group holds. */
void group_join(group_t *g);

#endif

/* net: a TCP listener on a libuv loop that accepts connections into conns serving one protocol,
 * enforces max_connections, and closes everything it opened, gracefully, on request. */
#ifndef SC_NET_H
#define SC_NET_H

#include <uv.h>

#include "conn.h"
#include "engine.h"

/* How long a closing server waits for replies to drain before dropping its connections. */
#define NET_CLOSE_GRACE_MS 2000
/* Housekeeping period: a bounded sweep of the store for expired and flushed items, and closing
 * connections that lingered too long. */
#define NET_TICK_MS 100
/* Hash buckets the sweep visits per tick: ~40k/s, a whole 1M-bucket table in under 30 s. */
#define NET_SWEEP_BUCKETS 4096

typedef void (*net_closed_cb)(void *ctx);

typedef struct net_config {
    const char *host;           /* numeric IPv4 or IPv6 address */
    int port;                   /* 0 picks a free port */
    unsigned max_connections;
    session_proto_t proto;
} net_config_t;

typedef struct net_server {
    uv_loop_t *loop;
    engine_t *engine;
    session_proto_t proto;
    uv_tcp_t listener;
    uv_timer_t grace_timer;
    uv_timer_t tick_timer;      /* housekeeping, every NET_TICK_MS; does not keep the loop alive */
    conn_t *conns;
    unsigned nconns;
    unsigned nlingering;
    unsigned max_connections;
    unsigned open_handles;      /* listener, timer, conns and rejected sockets not yet closed */
    bool closing;
    net_closed_cb on_closed;
    void *closed_ctx;
} net_server_t;

/* Binds and listens. On success *out is a running server that must be closed with
 * net_server_close(); on failure returns a UV error and nothing is left open. */
int net_server_start(uv_loop_t *loop, engine_t *engine, const net_config_t *config, net_server_t **out);

/* The bound address, e.g. to learn the port picked for port 0. Returns 0 or a UV error. */
int net_server_address(net_server_t *s, struct sockaddr_storage *addr);

/* Stops accepting, lets every connection send its queued replies (for at most
 * NET_CLOSE_GRACE_MS), closes every handle, frees the server, then calls cb(ctx). */
void net_server_close(net_server_t *s, net_closed_cb cb, void *ctx);

/* For conn.c: a connection's handle has closed and its memory can go. */
void net_server_conn_closed(net_server_t *s, conn_t *c);

/* For conn.c: a connection has begun lingering (c->lingering, c->linger_since are set). */
void net_server_conn_lingering(net_server_t *s);

#endif

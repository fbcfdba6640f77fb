/* net: TCP and Unix-socket listeners on Node's loop feeding groups of connections — on Node's loop itself, or on
 * native I/O threads that get accepted sockets round-robin. Closing closes everything it opened. */
#ifndef SC_NET_H
#define SC_NET_H

#include <uv.h>

#include "engine.h"
#include "group.h"
#include "served.h"

#define NET_MAX_LISTENERS 4
#define NET_MAX_THREADS 64
#define NET_LISTEN_BACKLOG 1024 /* connections the kernel queues before they are accepted */

typedef void (*net_closed_cb)(void *ctx);

typedef struct net_listen {
    const char *host;           /* numeric IPv4 or IPv6 address */
    int port;                   /* 0 picks a free port */
    const char *path;           /* non-NULL: a Unix domain socket here instead of host and port */
    unsigned mode;              /* the socket file's permission bits (memcached's -a), e.g. 0700 */
    protocol_t proto;
} net_listen_t;

typedef struct net_config {
    net_listen_t listen[NET_MAX_LISTENERS];
    unsigned nlisten;
    unsigned max_connections;
    unsigned threads;           /* 0 serves on Node's loop; N starts N I/O threads */
    unsigned idle_timeout;      /* seconds without a command before a connection is closed; 0 = never */
    unsigned write_timeout;     /* seconds replies may wait unread before a connection is dropped; 0 = never */
    /* A client's "shutdown" (when the engine allows it): called on Node's loop; NULL ignores it. */
    void (*on_shutdown)(void *ctx, bool graceful);
    void *shutdown_ctx;
} net_config_t;

typedef struct net_listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;         /* when path is set */
    };
    struct net_server *server;
    protocol_t proto;
    char *path;                 /* the socket file this listener bound, removed when it closes */
} net_listener_t;

typedef struct net_server {
    uv_loop_t *loop;
    engine_t *engine;
    net_listener_t listeners[NET_MAX_LISTENERS];
    unsigned nlisteners;
    group_t *groups;
    unsigned ngroups;
    unsigned next_group;        /* round-robin cursor for handing sockets to threads */
    bool threaded;
    unsigned nconns;            /* open connections of every group; atomic */
    unsigned max_connections;
    uv_async_t joined;          /* threaded: an I/O thread has finished and can be joined */
    bool joined_open;
    unsigned open_handles;      /* listeners, sockets being rejected, groups not done, joined */
    bool closing;
    net_closed_cb on_closed;
    void *closed_ctx;
    served_server_t served;     /* the server as its engine's sessions see it, while registered */
    bool registered;
    int listener_fds[NET_MAX_LISTENERS];
    uint32_t started;           /* store clock when it started listening */
    uv_async_t shutdown_async;  /* a session asked for "shutdown"; unref'ed */
    bool shutdown_open;
    int shutdown_mode;          /* atomic: 0 none, 1 asked, 2 asked gracefully */
    void (*on_shutdown)(void *ctx, bool graceful);
    void *shutdown_ctx;
} net_server_t;

/* Binds every listener, starts the groups, and listens. On success *out is a running server that
 * must be closed with net_server_close(); on failure returns a UV error, sets *failed to the
 * listener at fault, and leaves nothing open (closing completes on a later loop turn). */
int net_server_start(uv_loop_t *loop, engine_t *engine, const net_config_t *config, net_server_t **out,
                     unsigned *failed);

/* The bound address of listener i, e.g. to learn the port picked for port 0 (AF_UNIX for a Unix
 * domain socket, its path in sun_path). */
int net_server_address(net_server_t *s, unsigned i, struct sockaddr_storage *addr);

/* Stops accepting, lets every connection send its queued replies, closes every handle, joins every
 * thread, frees the server, then calls cb(ctx) on Node's loop. */
void net_server_close(net_server_t *s, net_closed_cb cb, void *ctx);

#endif

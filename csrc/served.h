/* served: the servers that serve an engine, as its sessions reach them: "stats conns" lists their
 * sockets and "shutdown" asks them to stop. Servers (net.c) register; sessions on any thread ask. */
#ifndef SC_SERVED_H
#define SC_SERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* memcached's connection states, in its order, as "stats conns" names them. */
typedef enum served_state {
    SERVED_LISTENING,
    SERVED_NEW_CMD,
    SERVED_WAITING,
    SERVED_READ,
    SERVED_PARSE_CMD,
    SERVED_WRITE,
    SERVED_NREAD,
    SERVED_SWALLOW,
    SERVED_CLOSING,
    SERVED_MWRITE,
    SERVED_CLOSED,
    SERVED_WATCH,
    SERVED_IO_QUEUE,
} served_state_t;

const char *served_state_name(unsigned state);

/* The address of socket fd, its peer's or its own: the IP as text and the port, and the family
 * (AF_INET, AF_INET6, else ip is "" and port 0). False when the socket has none (closed). */
bool served_address(int fd, bool peer, char *ip, size_t n, unsigned *port, int *family);

/* One socket as "stats conns" shows it. */
typedef struct served_socket {
    int fd;
    uint8_t state;      /* served_state_t */
    bool listening;     /* a listener: no peer */
    uint32_t last_cmd;  /* store clock of its last command (or of its start) */
} served_socket_t;

/* The sockets with the smallest fds above `after`, at most max of them: a max-heap that servers
 * offer their sockets to. Bounded, so a listing of many connections is taken in slices. */
typedef struct served_pick {
    int after;
    served_socket_t *heap;
    unsigned n, max;
} served_pick_t;

void served_offer(served_pick_t *pick, const served_socket_t *socket);

typedef struct served_server {
    struct served_server *next;
    /* Offers every socket of the server to pick; called with the engine's stats_lock held. */
    void (*list)(struct served_server *self, served_pick_t *pick);
    /* Asks the server to stop; any thread, with stats_lock held: it must only signal its loop. */
    void (*shutdown)(struct served_server *self, bool graceful);
} served_server_t;

/* A server joins or leaves; once served_remove() returns, no session is using it. */
void served_add(engine_t *e, served_server_t *server);
void served_remove(engine_t *e, served_server_t *server);

/* Fills out[] with up to max sockets of every server whose fd is above after, by fd ascending
 * (memcached lists by fd). Returns how many; fewer than max means there are no more. */
unsigned served_list(engine_t *e, int after, served_socket_t *out, unsigned max);

/* "shutdown": tells every server on e to stop. Returns how many were told. */
unsigned served_shutdown(engine_t *e, bool graceful);

#endif

/* conn_ring: a loop's io_uring for its connections' sends. The replies a turn of the loop produces
 * go to the kernel in one call at the end of the turn, instead of one write() per connection. */
#ifndef SC_CONN_RING_H
#define SC_CONN_RING_H

#include <stdbool.h>
#include <uv.h>

#include "ring.h"

struct msghdr;

typedef struct conn_ring {
    ring_t *ring;
    uv_check_t check;           /* submits what the turn's callbacks queued */
    uv_poll_t wakeup;           /* completions that came after their submission */
    unsigned in_flight;         /* sends queued or in the kernel */
    unsigned open_handles;
    void (*sent)(void *conn, int result); /* a send ended: bytes sent, or a negative errno */
    void (*closed)(struct conn_ring *cr, void *data);
    void *data;
} conn_ring_t;

/* Sets up the ring on loop, from the thread that runs loop (the ring accepts submissions from that
 * thread alone). 0, or a negative errno: io_uring is missing or forbidden here, or
 * SIMPLECACHED_IO_URING=0 asked for plain writes; the loop's connections then write with libuv. */
int conn_ring_start(conn_ring_t *cr, uv_loop_t *loop, void (*sent)(void *conn, int result));

/* Queues sendmsg(fd, msg) for conn, submitted at the end of the turn; cr->sent(conn, result)
 * follows. msg and its buffers stay put until then. False when the kernel would not take it. */
bool conn_ring_queue(conn_ring_t *cr, int fd, const struct msghdr *msg, void *conn);

/* Asks the kernel to give up conn's send now (its socket is about to close); cr->sent()
 * still follows, with -ECANCELED if it was given up. */
void conn_ring_cancel(conn_ring_t *cr, void *conn);

/* Closes the ring's handles; `closed` is called once they are, and the ring is gone. Call it when
 * no connection has a send in flight (every connection of the loop has closed). */
void conn_ring_close(conn_ring_t *cr, void (*closed)(conn_ring_t *cr, void *data), void *data);

#endif

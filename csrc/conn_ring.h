/* conn_ring: a loop's io_uring for its connections' sends and receives. The replies a turn of the
 * loop produces go to the kernel in one call at the end of the turn, instead of one write() per
 * connection, and the requests that came are read by the kernel, not by one read() per connection. */
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
    unsigned in_flight;         /* sends and receives queued or in the kernel */
    unsigned open_handles;
    bool receives;              /* connections receive on the ring (it has buffers to lend) */
    void (*sent)(void *conn, int result); /* a send ended: bytes sent, or a negative errno */
    /* A receive ended: bytes received (0 at the peer's EOF), or a negative errno. data is the
     * ring's buffer they landed in, lent until the call returns, or NULL for the connection's own
     * (conn_ring_receive_into). */
    void (*received)(void *conn, int result, const char *data);
    void (*closed)(struct conn_ring *cr, void *data);
    void *data;
} conn_ring_t;

/* The ring's buffers lent to receives: a connection waiting for a request holds no memory of its
 * own. A buffer is held from its receive's completion until the connection has executed it. */
#define CONN_RING_BUFFERS 64
#define CONN_RING_BUFFER_SIZE (16 * 1024)

/* Sets up the ring on loop, from the thread that runs loop (the ring accepts submissions from that
 * thread alone). 0, or a negative errno: io_uring is missing or forbidden here, or
 * SIMPLECACHED_IO_URING=0 asked for plain writes; the loop's connections then write with libuv.
 * cr->receives tells whether they receive on it too (with SIMPLECACHED_IO_URING=receives, on a
 * kernel from 5.19). */
int conn_ring_start(conn_ring_t *cr, uv_loop_t *loop, void (*sent)(void *conn, int result),
                    void (*received)(void *conn, int result, const char *data));

/* Queues sendmsg(fd, msg) for conn, submitted at the end of the turn; cr->sent(conn, result)
 * follows. msg and its buffers stay put until then. False when the kernel would not take it. */
bool conn_ring_queue(conn_ring_t *cr, int fd, const struct msghdr *msg, void *conn);

/* Queues a receive for conn into one of the ring's buffers; cr->received(conn, ...) follows once
 * bytes come (-ENOBUFS if every buffer was lent: receive into your own then). */
bool conn_ring_receive(conn_ring_t *cr, int fd, void *conn);

/* Queues a receive for conn into buf[0..len), which stays put until cr->received(). */
bool conn_ring_receive_into(conn_ring_t *cr, int fd, char *buf, size_t len, void *conn);

/* Asks the kernel to give up conn's send and/or receive now (its socket is about to close);
 * cr->sent() and cr->received() still follow, with -ECANCELED if they were given up. */
void conn_ring_cancel(conn_ring_t *cr, void *conn, bool send, bool receive);

/* Closes the ring's handles; `closed` is called once they are, and the ring is gone. Call it when
 * no connection has a request in flight (every connection of the loop has closed). */
void conn_ring_close(conn_ring_t *cr, void (*closed)(conn_ring_t *cr, void *data), void *data);

#endif

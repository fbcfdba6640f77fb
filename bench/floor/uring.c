/* uring.c - the floor on io_uring alone (csrc/ring.c): every receive and send is a ring request, and
 * a turn is one io_uring_enter that hands over the new requests and sleeps for the next completion. */
#include "floor.h"
#include "ring.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RING_ENTRIES 4096
#define TAG_LISTENER 1      /* connections are tagged by their address, which is never 1 */

/* A connection has one request in the kernel at a time: the receive of requests, or the send of
 * their replies (with one request in flight per connection, the next cannot come before it). */
static bool queue_next(ring_t *r, struct conn *c)
{
    int n = conn_pending(c, c->iov);
    c->receiving = n == 0;
    if (c->receiving)
        n = conn_read_iov(c, c->iov, c->rbuf, RECV_SIZE);
    c->msg = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = (size_t)n};
    uint64_t tag = (uint64_t)(uintptr_t)c;
    return c->receiving ? ring_recvmsg(r, c->fd, &c->msg, tag) : ring_sendmsg(r, c->fd, &c->msg, tag);
}

static void accept_all(ring_t *r, int listener)
{
    struct conn *c;
    while ((c = conn_accept(listener)) != NULL) {
        if ((c->rbuf = malloc(RECV_SIZE)) == NULL || !queue_next(r, c))
            conn_free(c);
    }
    if (!ring_poll(r, listener, POLLIN, TAG_LISTENER)) {
        fprintf(stderr, "floor: the ring would not take the listener's poll\n");
        exit(1);
    }
}

/* A request of c's completed with `result` (bytes, or -errno). */
static void completed(ring_t *r, struct conn *c, int32_t result)
{
    bool ok = result > 0;
    if (ok && c->receiving)
        ok = conn_got(c, (int)c->msg.msg_iovlen, c->rbuf, (size_t)result);
    else if (ok)
        conn_sent(c, (size_t)result);
    if (!ok || !queue_next(r, c))
        conn_free(c);
}

void serve_uring(int listener)
{
    ring_t *r = ring_create(RING_ENTRIES, true);
    if (r == NULL)
        return;
    accept_all(r, listener);
    for (;;) {
        if (ring_wait(r, 1) != 0) {
            perror("floor: io_uring_enter");
            exit(1);
        }
        ring_done_t done;
        while (ring_next(r, &done)) {
            if (done.tag == TAG_LISTENER)
                accept_all(r, listener);
            else
                completed(r, (struct conn *)(uintptr_t)done.tag, done.result);
        }
    }
}

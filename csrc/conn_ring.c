/* conn_ring: submits the requests a turn of the loop queued, once, after the turn's callbacks (a
 * check handle), and gives each completion to its connection; the ring's eventfd wakes the loop for
 * those that finish later (bytes arriving, a peer that reads slowly). Each system call saved costs
 * ~1 µs on a VM. */
#include "conn_ring.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Entries in the submission queue: a turn rarely serves more connections than this; when it
 * does, the queue is submitted when full and filled again. */
#define CONN_RING_ENTRIES 256
/* Submit-and-reap rounds in one drive: a completion can queue a send (the rest of a partial one,
 * or replies that waited); more rounds would starve the loop's other work. */
#define CONN_RING_ROUNDS 4

/* A request's tag is its connection's address, with the low bit set for a receive (a conn_t is
 * aligned, so the bit is free). */
#define TAG_RECEIVE 1u

/* Requests in flight keep the loop running, as libuv's write requests and reading streams do;
 * none, and the ring's handles alone do not. */
static void _hold_loop(conn_ring_t *cr, bool hold)
{
    void (*set)(uv_handle_t *) = hold ? uv_ref : uv_unref;
    set((uv_handle_t *)&cr->check);
    set((uv_handle_t *)&cr->wakeup);
}

static void _reap(conn_ring_t *cr)
{
    ring_done_t done;
    while (ring_next(cr->ring, &done)) {
        if (done.tag == RING_TAG_NONE) {
            /* A cancel's own completion: no buffer is ever lent to it. */
            continue;
        }
        if (--cr->in_flight == 0)
            _hold_loop(cr, false);
        void *conn = (void *)(uintptr_t)(done.tag & ~(uint64_t)TAG_RECEIVE);
        if ((done.tag & TAG_RECEIVE) == 0) {
            cr->sent(conn, done.result);
            continue;
        }
        const char *data = done.buffer >= 0 ? ring_buffer(cr->ring, done.buffer) : NULL;
        cr->received(conn, done.result, data);
        if (done.buffer >= 0)
            ring_give_back(cr->ring, done.buffer);
    }
}

/* Hands the kernel what is queued and takes what it finished, a few rounds at most. Completions
 * posted by a submission made elsewhere (a cancel) are taken too: the eventfd is quiet for them. */
static void _drive(conn_ring_t *cr, bool woken)
{
    for (int round = 0; round < CONN_RING_ROUNDS; round++) {
        if (ring_queued(cr->ring) > 0 || woken || ring_backlog(cr->ring)) {
            int rc = ring_submit(cr->ring);
            /* EAGAIN/EBUSY: the kernel is short of memory or completions are backed up; what was
             * not taken stays queued for the next turn. */
            if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
                break;
        }
        woken = false;
        _reap(cr);
        if (ring_queued(cr->ring) == 0 && !ring_backlog(cr->ring))
            return;
    }
    /* Requests the last completions queued, or completions still in the kernel: the loop must come
     * back for them before it sleeps. */
    ring_wake(cr->ring);
}

static void _check_cb(uv_check_t *check)
{
    _drive(check->data, false);
}

static void _wakeup_cb(uv_poll_t *poll, int status, int events)
{
    (void)status;
    (void)events;
    conn_ring_t *cr = poll->data;
    ring_clear_wakeup(cr->ring);
    _drive(cr, true);
}

/* Counts a request that was queued (ok); passes ok on. */
static bool _queued(conn_ring_t *cr, bool ok)
{
    if (ok && cr->in_flight++ == 0)
        _hold_loop(cr, true);
    return ok;
}

bool conn_ring_queue(conn_ring_t *cr, int fd, const struct msghdr *msg, void *conn)
{
    /* A full queue is handed over on the way; its completions are reaped at the end of the turn. */
    return _queued(cr, ring_sendmsg(cr->ring, fd, msg, (uint64_t)(uintptr_t)conn));
}

bool conn_ring_receive(conn_ring_t *cr, int fd, void *conn)
{
    return _queued(cr, ring_recv_provided(cr->ring, fd, (uint64_t)(uintptr_t)conn | TAG_RECEIVE));
}

bool conn_ring_receive_into(conn_ring_t *cr, int fd, char *buf, size_t len, void *conn)
{
    return _queued(cr, ring_recv(cr->ring, fd, buf, len, (uint64_t)(uintptr_t)conn | TAG_RECEIVE));
}

void conn_ring_cancel(conn_ring_t *cr, void *conn, bool send, bool receive)
{
    /* Submitted at once: the send's socket may be closed right after, and the kernel takes its
     * own reference to the socket only when it is handed the request. Its completion comes while
     * the eventfd is quiet (ring_submit), so the eventfd is rung by hand: the loop comes back for
     * it whatever phase this is. */
    uint64_t tag = (uint64_t)(uintptr_t)conn;
    bool queued = send && ring_cancel(cr->ring, tag);
    queued |= receive && ring_cancel(cr->ring, tag | TAG_RECEIVE);
    if (queued)
        (void)ring_submit(cr->ring);
    ring_wake(cr->ring);
}

/* SIMPLECACHED_IO_URING: unset (or "sends"), the ring sends and libuv reads; "receives", the ring
 * does both; "0", libuv does both. Receives stay opt-in until they cost less than libuv's reads in
 * every cell of bench/values.js (issue 16). */
typedef enum ring_use { RING_UNUSED, RING_SENDS, RING_SENDS_AND_RECEIVES } ring_use_t;

static ring_use_t _ring_use(void)
{
    const char *env = getenv("SIMPLECACHED_IO_URING");
    if (env != NULL && strcmp(env, "0") == 0)
        return RING_UNUSED;
    return env != NULL && strcmp(env, "receives") == 0 ? RING_SENDS_AND_RECEIVES : RING_SENDS;
}

int conn_ring_start(conn_ring_t *cr, uv_loop_t *loop, void (*sent)(void *conn, int result),
                    void (*received)(void *conn, int result, const char *data))
{
    memset(cr, 0, sizeof(*cr));
    cr->sent = sent;
    cr->received = received;
    ring_use_t use = _ring_use();
    if (use == RING_UNUSED)
        return -ENOTSUP;
    bool receives = use == RING_SENDS_AND_RECEIVES;
    if ((cr->ring = ring_create(CONN_RING_ENTRIES, !receives)) == NULL)
        return -errno;
    cr->receives = receives && ring_provide(cr->ring, CONN_RING_BUFFERS, CONN_RING_BUFFER_SIZE) == 0;
    int rc = uv_check_init(loop, &cr->check);
    if (rc == 0 && (rc = uv_poll_init(loop, &cr->wakeup, ring_wakeup_fd(cr->ring))) != 0)
        uv_close((uv_handle_t *)&cr->check, NULL);
    if (rc != 0) {
        ring_destroy(cr->ring);
        cr->ring = NULL;
        return rc;
    }
    cr->check.data = cr->wakeup.data = cr;
    cr->open_handles = 2;
    /* Neither keeps the loop alive but while a send is in flight (_hold_loop). */
    uv_check_start(&cr->check, _check_cb);
    uv_poll_start(&cr->wakeup, UV_READABLE, _wakeup_cb);
    uv_unref((uv_handle_t *)&cr->check);
    uv_unref((uv_handle_t *)&cr->wakeup);
    return 0;
}

static void _handle_closed(uv_handle_t *h)
{
    conn_ring_t *cr = h->data;
    if (--cr->open_handles > 0)
        return;
    ring_destroy(cr->ring);
    cr->ring = NULL;
    cr->closed(cr, cr->data);
}

void conn_ring_close(conn_ring_t *cr, void (*closed)(conn_ring_t *cr, void *data), void *data)
{
    cr->closed = closed;
    cr->data = data;
    uv_close((uv_handle_t *)&cr->check, _handle_closed);
    uv_close((uv_handle_t *)&cr->wakeup, _handle_closed);
}

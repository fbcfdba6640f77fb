/* conn_write: how a connection's replies go out — one try-write and one queued uv_write for what the
 * socket did not take at once, or one sendmsg on the loop's io_uring — and the items they send from. */
#include "conn_parts.h"
#include "conn.h"

#include <stddef.h>
#include <stdlib.h>

#include "conn_ring.h"

/* A ring's sendmsg reads the uv_buf_t list _iov() makes as its struct iovec array. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) && offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t is laid out as struct iovec");

/* b's whole stream as libuv buffers: in local, or in an array the caller frees when it is not
 * local. NULL when out of memory. */
static uv_buf_t *_iov(const buf_t *b, uv_buf_t *local, unsigned *count)
{
    size_t n = bufref_nchunks(b);
    uv_buf_t *iov = n <= CONN_IOV_LOCAL ? local : malloc(n * sizeof(uv_buf_t));
    buf_chunk_t *chunks = n <= CONN_IOV_LOCAL ? NULL : malloc(n * sizeof(buf_chunk_t));
    buf_chunk_t local_chunks[CONN_IOV_LOCAL];
    if (n > CONN_IOV_LOCAL && (iov == NULL || chunks == NULL)) {
        free(iov);
        free(chunks);
        return NULL;
    }
    if (chunks == NULL)
        chunks = local_chunks;
    bufref_chunks(b, chunks, n);
    for (size_t i = 0; i < n; i++)
        iov[i] = uv_buf_init((char *)chunks[i].p, (unsigned int)chunks[i].n);
    if (chunks != local_chunks)
        free(chunks);
    *count = (unsigned)n;
    return iov;
}

/* Hands the socket as much of b as it takes now. Returns 0, or -1 when that failed and the
 * connection is closing. */
static int _write_now(conn_t *c, buf_t *b)
{
    uv_buf_t local[CONN_IOV_LOCAL];
    unsigned count;
    uv_buf_t *iov = _iov(b, local, &count);
    int n = iov ? uv_try_write((uv_stream_t *)&c->tcp, iov, count) : UV_ENOMEM;
    if (iov != local)
        free(iov);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        conn_log_failure(c, true, n);
        conn_abort(c);
        return -1;
    }
    bufref_consume(b, (size_t)n);
    stat_add(&c->session.stats->bytes_written, (uint64_t)n);
    if (n > 0)
        c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    return 0;
}

/* Sends replies composed in the owner's scratch; only what the socket does not take now is copied
 * into the connection's own output. The scratch is left empty for the next connection. */
void conn_send_scratch(conn_t *c, buf_t *scratch)
{
    if (buf_pending(scratch) > 0 && _write_now(c, scratch) == 0 && buf_pending(scratch) > 0) {
        conn_io_t *io = conn_io_get(c);
        if (io == NULL || bufref_move(&io->out, scratch) != 0)
            conn_abort(c);
    }
    bufref_drop(scratch);
    /* A huge reply once should not pin its buffer for the life of the loop. */
    if (scratch->cap > CONN_OUT_SCRATCH_KEEP)
        buf_free(scratch);
}

/* Where replies are composed: after earlier ones still waiting, to keep order; with batched sends,
 * in the connection's own output, which the ring sends from; else in the owner's scratch, sent at
 * once. NULL when out of memory. */
buf_t *conn_reply_buffer(conn_t *c)
{
    if (conn_pending_output(c) > 0)
        return &c->io->out;
    if (conn_owner(c)->ring == NULL)
        return conn_owner(c)->out_scratch;
    conn_io_t *io = conn_io_get(c);
    return io ? &io->out : NULL;
}

/* Gives back a write's bytes and the items it sent from, once the kernel is done with them. */
static void _writing_done(conn_io_t *io)
{
    bufref_drop(&io->writing);
    /* Its buffer serves the next replies when they have none yet: no malloc per request. */
    if (io->out.data == NULL && io->writing.cap <= CONN_IO_KEEP) {
        io->out.data = io->writing.data;
        io->out.cap = io->writing.cap;
        io->writing.data = NULL;
    }
    buf_free(&io->writing);
    if (io->bufs != io->bufs_local)
        free(io->bufs);
    io->bufs = NULL;
}

static void _write_cb(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    conn_io_t *io = c->io;  /* kept while its write is in flight */
    if (status == 0) {
        stat_add(&c->session.stats->bytes_written, buf_pending(&io->writing));
        c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    }
    /* The items it referred to are given back now that the kernel has their bytes. */
    _writing_done(io);
    if (status < 0) {
        conn_log_failure(c, true, status);
        conn_abort(c);
        return;
    }
    conn_process(c);
}

/* Puts what io->writing still holds on the owner's ring, as one sendmsg. */
static void _ring_send(conn_t *c)
{
    conn_io_t *io = c->io;
    if (io->bufs != io->bufs_local)
        free(io->bufs);
    unsigned count;
    io->bufs = _iov(&io->writing, io->bufs_local, &count);
    io->msg = (struct msghdr){.msg_iov = (struct iovec *)io->bufs, .msg_iovlen = count};
    if (io->bufs == NULL || !conn_ring_queue(conn_owner(c)->ring, c->fd, &io->msg, c)) {
        _writing_done(io);
        conn_abort(c);
        return;
    }
    c->ring_sending = true;
}

void conn_ring_sent(void *conn, int result)
{
    conn_t *c = conn;
    conn_io_t *io = c->io;
    c->ring_sending = false;
    if (c->ring_closed) {
        _writing_done(io);
        conn_close_cb((uv_handle_t *)&c->tcp);
        return;
    }
    if (result < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        /* Closing already (the close callback is still to come): its socket is closed, and its
         * number may be another's by now, so nothing more is sent. */
        _writing_done(io);
        if (result < 0 && !uv_is_closing((uv_handle_t *)&c->tcp)) {
            conn_log_failure(c, true, result);
            conn_abort(c);
        }
        return;
    }
    stat_add(&c->session.stats->bytes_written, (uint64_t)result);
    c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    bufref_consume(&io->writing, (size_t)result);
    if (buf_pending(&io->writing) > 0) {
        /* A part went: the rest goes on waiting for room, and commands held back at the output
         * mark may run while what is owed is under it. */
        _ring_send(c);
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            conn_process(c);
        return;
    }
    _writing_done(io);
    conn_process(c);
}

/* Sends the connection's queued output: as much as the socket takes now, the rest as one queued
 * write. At most one write is in flight; replies produced meanwhile wait in io->out. */
void conn_flush(conn_t *c)
{
    if (conn_write_in_flight(c) || c->stage >= CONN_FINISHING || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    conn_io_t *io = c->io;
    if (io && buf_pending(&io->out) > 0 && conn_owner(c)->ring == NULL && _write_now(c, &io->out) != 0)
        return;
    if (io == NULL || buf_pending(&io->out) == 0) {
        conn_drained(c);
        return;
    }
    /* The rest becomes the write in flight; io->out starts afresh for later replies, with the
     * references list the last write left empty. */
    buf_refs_t *spare = io->writing.refs;
    io->writing = io->out;
    buf_init(&io->out);
    io->out.refs = spare;
    if (conn_owner(c)->ring) {
        _ring_send(c);
        return;
    }
    io->req.data = c;
    /* libuv keeps its own copy of the buffers' list; the bytes stay put until _write_cb. */
    uv_buf_t local[CONN_IOV_LOCAL];
    unsigned count;
    uv_buf_t *iov = _iov(&io->writing, local, &count);
    int rc = iov ? uv_write(&io->req, (uv_stream_t *)&c->tcp, iov, count, _write_cb) : UV_ENOMEM;
    if (iov != local)
        free(iov);
    if (rc != 0) {
        _writing_done(io);
        conn_abort(c);
    }
}

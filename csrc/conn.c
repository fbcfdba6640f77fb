/* conn: reads bytes, feeds the session, and sends each batch of replies with one try-write (and
 * one queued uv_write for what the socket did not take at once). Reads with nothing pending and
 * replies with nothing queued use the owner's scratch buffers, so an idle connection holds none. */
#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include "conn_ring.h"
#include "served.h"
#include "value_out.h"

/* A ring's sendmsg reads the uv_buf_t list _iov() makes as its struct iovec array. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) && offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t is laid out as struct iovec");

/* A watching connection's wakeup: any thread that logs a line for it sends the async, and its loop
 * moves the lines into its output. Allocated only for watchers. */
typedef struct conn_watch {
    uv_async_t async;
} conn_watch_t;

static void _flush(conn_t *c);
static void _read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *unused);

/* Gives back the items an unsent output refers to, then its memory. */
static void _out_free(buf_t *b)
{
    bufref_drop(b);
    bufref_free(b->refs);
    buf_free(b);
}

static void _io_free(conn_io_t *io)
{
    buf_free(&io->in);
    _out_free(&io->out);
    _out_free(&io->writing);
    free(io);
}

static void _watch_closed_cb(uv_handle_t *h);

static void _close_cb(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    /* The kernel may still read the output of a send on the ring, or write a receive into the
     * connection's buffers (its item's): wait for their completions. */
    if (c->ring_sending || c->ring_receiving) {
        c->ring_closed = true;
        return;
    }
    /* The watcher's async goes first, so that the owner hears of c only once nothing refers to it. */
    if (c->watch) {
        if (!uv_is_closing((uv_handle_t *)&c->watch->async))
            uv_close((uv_handle_t *)&c->watch->async, _watch_closed_cb);
        return;
    }
    if (c->io)
        _io_free(c->io);
    c->io = NULL;
    const conn_owner_t *owner = conn_owner(c);
    owner->closed(c, owner->data);
}

/* The one place a connection's stage changes: forward only, each step from the stage before it (a
 * request for a stage already passed is a no-op: shutdown after quit, say). */
static void _conn_advance(conn_t *c, conn_stage_t to)
{
    if (to <= c->stage)
        return;
    assert(to == CONN_INPUT_ENDED || to == CONN_CLOSING || c->stage == to - 1);
    c->stage = (uint8_t)to;
    if (to >= CONN_CLOSING)
        __atomic_store_n(&c->shown, SERVED_CLOSING, __ATOMIC_RELAXED);
}

/* -v: memcached's messages for a socket that failed (perror's form for writes). */
static void _log_failure(conn_t *c, bool writing, int err)
{
    engine_t *e = c->session.engine;
    if (e == NULL || __atomic_load_n(&e->verbosity, __ATOMIC_RELAXED) < 1)
        return;
    if (writing)
        logger_stderr(&e->logger, "Failed to write, and not due to blocking: %s", uv_strerror(err));
    else
        logger_stderr(&e->logger, "Failed to read, and not due to blocking");
}

static void _watch_closed_cb(uv_handle_t *h)
{
    conn_t *c = h->data;
    free(c->watch);
    c->watch = NULL;
    _close_cb((uv_handle_t *)&c->tcp);
}

/* The peer's address as memcached's conn events print it. */
static void _peer(conn_t *c, char *ip, size_t n, unsigned *port)
{
    int family;
    if (!served_address(c->fd, true, ip, n, port, &family) || (family != AF_INET && family != AF_INET6)) {
        snprintf(ip, n, "unknown");
        *port = 0;
    }
}

static void _log_conn(conn_t *c, bool is_new);

/* The server is done with c (a FIN is on its way, or it closes at once): told once, when memcached
 * tells it, whatever the peer does after. */
static void _log_closed(conn_t *c)
{
    engine_t *e = c->session.engine;
    if (e == NULL)
        return;
    if (__atomic_load_n(&e->verbosity, __ATOMIC_RELAXED) > 1)
        logger_stderr(&e->logger, "<%d connection closed.", (int)c->session.fd);
    if (logger_wants(&e->logger, LOG_CONNEVENTS))
        _log_conn(c, false);
}

static void _log_conn(conn_t *c, bool is_new)
{
    char ip[64];
    unsigned port;
    _peer(c, ip, sizeof(ip), &port);
    const char *reason = c->peer_eof || c->stage >= CONN_FINISHING || c->session.state == SESSION_QUIT ? "normal" : "error";
    logger_conn_event(&c->session.engine->logger, is_new, ip, port, reason, (int)c->session.fd);
}

void conn_abort(conn_t *c)
{
    __atomic_store_n(&c->shown, SERVED_CLOSING, __ATOMIC_RELAXED);
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    /* No line may wake this connection once it closes. */
    if (c->watch)
        logger_watcher_detach(c->session.proto.text.watcher);
    if (c->stage < CONN_FINISHING)
        _log_closed(c);
    if (c->ring_sending || c->ring_receiving)
        conn_ring_cancel(conn_owner(c)->ring, c, c->ring_sending, c->ring_receiving);
    uv_close((uv_handle_t *)&c->tcp, _close_cb);
}

static void _watch_wake(void *arg)
{
    uv_async_send(&((conn_watch_t *)arg)->async);
}

static void _process(conn_t *c);
static conn_io_t *_io(conn_t *c);

static void _watch_wake_cb(uv_async_t *async)
{
    conn_t *c = async->data;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        _process(c);
}

/* A session that has become a watcher: on first call its connection starts listening for lines
 * (what the client sent after "watch" is dropped: a watcher executes nothing more); then the
 * lines waiting are moved into its output, up to the output mark. Returns -1 when closing, 1 when
 * lines were left waiting at the mark, else 0. */
static int _watch_pull(conn_t *c)
{
    logger_watcher_t *w = c->session.proto.text.watcher;
    if (c->watch == NULL) {
        conn_watch_t *cw = malloc(sizeof(*cw));
        if (cw == NULL || uv_async_init(c->tcp.loop, &cw->async, _watch_wake_cb) != 0) {
            free(cw);
            conn_abort(c);
            return -1;
        }
        cw->async.data = c;
        c->watch = cw;
        if (c->io)
            buf_consume(&c->io->in, buf_len(&c->io->in));
        logger_watcher_attach(w, _watch_wake, cw);
    }
    for (;;) {
        if (conn_pending_output(c) > CONN_OUTPUT_HIGH_WATER)
            return 1;
        conn_io_t *io = _io(c);
        if (io == NULL || buf_reserve(&io->out, CONN_READ_SIZE) != 0) {
            conn_abort(c);
            return -1;
        }
        size_t n = logger_watcher_take(w, buf_tail(&io->out), buf_space(&io->out));
        io->out.end += n;
        if (n == 0)
            return 0;
    }
}

/* The connection's own buffers, on first need: a spare of the owner's, or new. NULL when out of
 * memory. A spare is as new but for its reply buffer's capacity (empty, refs lists empty). */
static conn_io_t *_io(conn_t *c)
{
    if (c->io != NULL)
        return c->io;
    conn_io_cache_t *cache = conn_owner(c)->io_cache;
    if (cache && cache->n > 0) {
        c->io = cache->spares[--cache->n];
        return c->io;
    }
    if ((c->io = calloc(1, sizeof(conn_io_t))) != NULL) {
        bufref_attach(&c->io->out, &c->io->refs[0], value_out_release);
        bufref_attach(&c->io->writing, &c->io->refs[1], value_out_release);
    }
    return c->io;
}

/* An empty io back to the owner's spares, or freed. */
static void _io_release(conn_t *c, conn_io_t *io)
{
    conn_io_cache_t *cache = conn_owner(c)->io_cache;
    if (cache == NULL || cache->n == CONN_IO_SPARES) {
        _io_free(io);
        return;
    }
    buf_free(&io->writing);
    if (io->out.cap > CONN_IO_KEEP)
        buf_free(&io->out);
    cache->spares[cache->n++] = io;
}

void conn_io_cache_free(conn_io_cache_t *cache)
{
    while (cache->n > 0)
        _io_free(cache->spares[--cache->n]);
}

/* A receive on the ring lands in the connection's own input buffer, which must stay put. */
static bool _receiving_into_input(const conn_t *c)
{
    return c->ring_receiving && !c->in_item && !c->in_scratch;
}

/* Gives back what an idle connection does not need: the input buffer once empty, and everything
 * once no output is waiting either. */
static void _io_trim(conn_t *c)
{
    conn_io_t *io = c->io;
    if (io == NULL || buf_len(&io->in) > 0 || _receiving_into_input(c))
        return;
    buf_free(&io->in);
    if (buf_pending(&io->out) == 0 && buf_pending(&io->writing) == 0) {
        _io_release(c, io);
        c->io = NULL;
    }
}

static bool _write_in_flight(const conn_t *c)
{
    return c->io && buf_pending(&c->io->writing) > 0;
}

/* Where the connection is, in memcached's words, for "stats conns" on any thread: waiting for the
 * rest of a command whose line (or binary header) has come is conn_nread, for more of a line
 * conn_read (as memcached's idle connections are), and before any command conn_new_cmd. The line
 * is looked for in the first bytes only: a command line is short, a data block may not be. */
static void _show(conn_t *c)
{
    uint8_t shown = SERVED_NEW_CMD;
    size_t pending = c->io ? buf_len(&c->io->in) : 0;
    if (c->stage >= CONN_CLOSING)
        shown = SERVED_CLOSING;
    else if (conn_pending_output(c) > 0)
        shown = SERVED_MWRITE;
    else if (c->session.receiving)
        shown = SERVED_NREAD;
    else if (pending > 0 && (uint8_t)buf_head(&c->io->in)[0] == 0x80)
        shown = pending >= 24 ? SERVED_NREAD : SERVED_READ;
    else if (pending > 0)
        shown = memchr(buf_head(&c->io->in), '\n', pending < 8192 ? pending : 8192) ? SERVED_NREAD : SERVED_READ;
    else if (c->ran_cmd)
        shown = SERVED_READ;
    __atomic_store_n(&c->shown, shown, __ATOMIC_RELAXED);
}

/* Room for a read that continues an incomplete command: CONN_READ_SIZE, or for a long one (a
 * seed set's value, which has no length to read it into its item by) what the socket holds, up
 * to CONN_READ_MAX: one read and one buffer growth instead of a doubling, and its copy, per
 * CONN_READ_SIZE. Asking costs a system call, paid only past CONN_BIG_VALUE. */
static size_t _continuation_room(conn_t *c)
{
    size_t room = CONN_READ_SIZE;
#if defined(FIONREAD)
    int unread = 0;
    if (buf_len(&c->io->in) >= CONN_BIG_VALUE && ioctl(c->fd, FIONREAD, &unread) == 0 && (size_t)unread > room)
        room = (size_t)unread < CONN_READ_MAX ? (size_t)unread : CONN_READ_MAX;
#endif
    return room;
}

static bool _input_idle(const conn_t *c)
{
    return c->io == NULL || buf_len(&c->io->in) == 0;
}

/* Where the next read lands when a value is arriving: straight into its item (set in *out, and
 * c->in_item). The value's last bytes are left to an ordinary read, which brings the trailer and
 * the next command with them; so is a rest no larger than an ordinary read, which copying costs
 * less than a read more. */
static bool _item_room(conn_t *c, uv_buf_t *out)
{
    size_t due = 0;
    char *room = _input_idle(c) && c->stage == CONN_OPEN ? session_value_room(&c->session, &due) : NULL;
    c->in_item = room != NULL && due > CONN_READ_SIZE;
    if (!c->in_item)
        return false;
    c->big_values |= c->session.proto.value->item->nvalue > CONN_BIG_VALUE;
    due -= CONN_VALUE_TAIL;
    *out = uv_buf_init(room, (unsigned int)(due < UINT_MAX ? due : UINT_MAX));
    return true;
}

/* Room at the end of the connection's own input, where a command begun continues. */
static bool _input_room(conn_t *c, uv_buf_t *out)
{
    conn_io_t *io = _io(c);
    if (io == NULL || buf_reserve(&io->in, _continuation_room(c)) != 0)
        return false;
    *out = uv_buf_init(buf_tail(&io->in), (unsigned int)buf_space(&io->in));
    return true;
}

static void _alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    conn_t *c = (conn_t *)h;
    c->in_scratch = false;
    if (_item_room(c, out))
        return;
    if (_input_idle(c)) {
        /* Once values past CONN_BIG_VALUE have come, a read with nothing pending takes
         * CONN_READ_SIZE, as memcached's does, so that at most that much of the next is copied. */
        size_t size = conn_owner(c)->read_scratch_size;
        if (c->big_values && size > CONN_READ_SIZE)
            size = CONN_READ_SIZE;
        c->in_scratch = true;
        *out = uv_buf_init(conn_owner(c)->read_scratch, (unsigned int)size);
        return;
    }
    /* Else libuv turns an empty buffer into UV_ENOBUFS for the read callback, which closes. */
    if (!_input_room(c, out))
        *out = uv_buf_init(NULL, 0);
}

static bool _ring_reads(const conn_t *c)
{
    return conn_owner(c)->ring && conn_owner(c)->ring->receives;
}

/* Queues the connection's next receive on the ring: into a value's item, into its own input
 * after a command begun, else (when `lend`) into a buffer the ring lends once bytes come, so that
 * a connection waiting for its next request holds none. */
static bool _ring_receive(conn_t *c, bool lend)
{
    conn_ring_t *cr = conn_owner(c)->ring;
    uv_buf_t room;
    c->in_scratch = false;
    if (_item_room(c, &room) || !lend || !_input_idle(c)) {
        c->ring_receiving = (c->in_item || _input_room(c, &room)) && conn_ring_receive_into(cr, c->fd, room.base, room.len, c);
    } else {
        c->in_scratch = true;
        c->ring_receiving = conn_ring_receive(cr, c->fd, c);
    }
    return c->ring_receiving;
}

/* Starts reading: libuv's reads, or receives on the ring, one at a time (the next is queued as
 * each completes). 0 or a UV error. */
static int _read_start(conn_t *c)
{
    if (c->reading)
        return 0;
    if (!_ring_reads(c)) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, _alloc_cb, _read_cb);
        c->reading = rc == 0;
        return rc;
    }
    if (!c->ring_receiving && !_ring_receive(c, true))
        return UV_ENOMEM;
    c->reading = true;
    return 0;
}

/* Stops reading. A receive already on the ring stays there: what it brings is kept (or dropped,
 * once input has ended), and no other follows it until reading starts again. */
static void _read_stop(conn_t *c)
{
    if (!c->reading)
        return;
    c->reading = false;
    if (!_ring_reads(c))
        uv_read_stop((uv_stream_t *)&c->tcp);
}

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
        _log_failure(c, true, n);
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
static void _send_scratch(conn_t *c, buf_t *scratch)
{
    if (buf_pending(scratch) > 0 && _write_now(c, scratch) == 0 && buf_pending(scratch) > 0) {
        conn_io_t *io = _io(c);
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
static buf_t *_reply_buffer(conn_t *c)
{
    if (conn_pending_output(c) > 0)
        return &c->io->out;
    if (conn_owner(c)->ring == NULL)
        return conn_owner(c)->out_scratch;
    conn_io_t *io = _io(c);
    return io ? &io->out : NULL;
}

/* Executes the complete commands in data[0..len) and sends their replies; returns the bytes
 * consumed. Replies go straight to the scratch unless earlier ones still wait, to keep order. */
static size_t _execute(conn_t *c, const char *data, size_t len)
{
    buf_t *scratch = conn_owner(c)->out_scratch;
    buf_t *out = _reply_buffer(c);
    if (out == NULL) {
        conn_abort(c);
        return 0;
    }
    __atomic_store_n(&c->shown, SERVED_PARSE_CMD, __ATOMIC_RELAXED);
    size_t used = session_feed(&c->session, data, len, out);
    if (used > 0) {
        c->active_ms = (uint32_t)uv_now(c->tcp.loop);
        c->ran_cmd = true;
        __atomic_store_n(&c->last_cmd, cache_clock(c->session.engine->cache), __ATOMIC_RELAXED);
    }
    /* Stopped by the output mark with commands pending: memcached counts such a pause as a yield. */
    if (used < len && c->session.state == SESSION_OPEN && buf_pending(out) >= c->session.out_high_water)
        stat_add(&c->session.stats->conn_yields, 1);
    if (out == scratch)
        _send_scratch(c, out);
    return used;
}

static void _shutdown_cb(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    if (status < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        conn_abort(c);
        return;
    }
    _conn_advance(c, CONN_LINGERING);
    c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    /* Told before anything can fail: the owner counts lingering connections, and uncounts one at
     * its close if it was lingering. */
    conn_owner(c)->lingering(c, conn_owner(c)->data);
    if (_read_start(c) != 0)
        conn_abort(c);
}

/* Every reply has been handed to the kernel: close, gracefully. After the peer's EOF a plain close
 * is graceful; otherwise send FIN and read until the peer closes (see CONN_LINGER_MS). */
static void _finish(conn_t *c)
{
    uv_shutdown_t *req = c->peer_eof ? NULL : malloc(sizeof(*req));
    if (req == NULL) {
        conn_abort(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, _shutdown_cb) != 0) {
        free(req);
        conn_abort(c);
    }
}

/* The output that holds back reading and executing, against CONN_OUTPUT_HIGH_WATER: all that is
 * owed; with batched sends, only the replies queued behind the send in flight. That send is the
 * kernel's, as most of a reply is once libuv's try-write returns, and counting it would stop and
 * restart reading (two epoll_ctl calls, ~1 µs each here) around every reply past the mark. Memory
 * stays bounded: the send in flight took at most the mark and one reply, and the session stops
 * composing at the mark. */
static size_t _held_output(const conn_t *c)
{
    if (c->io == NULL)
        return 0;
    return conn_owner(c)->ring ? buf_pending(&c->io->out) : conn_pending_output(c);
}

/* Alternates sending replies and executing buffered commands until input runs out, output passes
 * the high-water mark, or the connection is closing. A write left in flight resumes this from its
 * callback. Reading goes on only while unsent output is under the mark, which also bounds the
 * input buffer: under the mark every complete command has been executed.
 * After end of input, commands already received are still answered, then the connection closes. */
static void _process(conn_t *c)
{
    if (c->stage >= CONN_FINISHING)
        return;
    int lines_left = 0;
    for (;;) {
        if (c->session.state == SESSION_WATCH && (lines_left = _watch_pull(c)) < 0)
            return;
        _flush(c);
        if (uv_is_closing((uv_handle_t *)&c->tcp))
            return;
        if (c->stage >= CONN_CLOSING || _held_output(c) > CONN_OUTPUT_HIGH_WATER)
            break;
        size_t used = 0;
        if (c->io && buf_len(&c->io->in) > 0) {
            used = _execute(c, buf_head(&c->io->in), buf_len(&c->io->in));
            if (uv_is_closing((uv_handle_t *)&c->tcp))
                return;
            buf_consume(&c->io->in, used);
        }
        bool live = c->session.state == SESSION_OPEN || c->session.state == SESSION_WATCH;
        if (!live || (used == 0 && c->stage == CONN_INPUT_ENDED && !c->session.producing))
            _conn_advance(c, CONN_CLOSING);
        else if (used == 0 && !c->session.producing)
            break;
    }
    /* Lines left at the mark, and the socket took what was pulled at once: no write callback will
     * come to pull the rest, and a full buffer wakes nobody (a line that does not fit is only
     * counted), so come back on the next turn of the loop. */
    if (lines_left > 0 && !_write_in_flight(c))
        uv_async_send(&c->watch->async);
    _io_trim(c);
    _show(c);
    bool want_input = c->stage == CONN_OPEN && _held_output(c) <= CONN_OUTPUT_HIGH_WATER;
    if (!want_input)
        _read_stop(c);
    else if (_read_start(c) != 0)
        conn_abort(c);
}

void conn_shutdown(conn_t *c)
{
    if (c->stage >= CONN_FINISHING || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    _conn_advance(c, CONN_INPUT_ENDED);
    _read_stop(c);
    if (!_write_in_flight(c))
        _process(c);
}

/* Whether the kernel holds nothing for this socket either way: no input unread and every reply
 * byte acknowledged by the peer. A close with input unread sends a reset, and a reset throws away
 * the replies the kernel has not sent yet, so only such a socket may be closed without lingering.
 * Where the queues cannot be asked (not Linux), it is never taken as quiet. */
static bool _kernel_quiet(conn_t *c)
{
#if defined(SIOCOUTQ) && defined(FIONREAD)
    uv_os_fd_t fd;
    int unread = 0, unacked = 0;
    return uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, FIONREAD, &unread) == 0 && unread == 0 &&
           ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked == 0;
#else
    (void)c;
    return false;
#endif
}

void conn_stop(conn_t *c)
{
    bool idle = c->stage == CONN_OPEN && !_write_in_flight(c) && conn_pending_output(c) == 0 &&
                (c->io == NULL || buf_len(&c->io->in) == 0) && !c->session.producing &&
                (c->session.state == SESSION_OPEN || c->session.state == SESSION_WATCH) && _kernel_quiet(c);
    if (!idle) {
        conn_shutdown(c);
        return;
    }
    /* Nothing is owed, not even in the kernel, so lingering for the peer's close (up to
     * CONN_LINGER_MS) protects nothing: close now. A command arriving in the meantime was never
     * taken and gets a reset, as a connection refused would. */
    _conn_advance(c, CONN_CLOSING);
    conn_abort(c);
}

/* Bytes read into a lent buffer (the owner's scratch, the ring's) are executed from there; only an
 * incomplete command (or what the output mark left unexecuted) is copied into the connection's own
 * buffer. */
static int _take_lent(conn_t *c, const char *data, size_t n)
{
    size_t used = 0;
    if (c->session.state == SESSION_OPEN && _held_output(c) <= CONN_OUTPUT_HIGH_WATER)
        used = _execute(c, data, n);
    if (used == n || uv_is_closing((uv_handle_t *)&c->tcp))
        return 0;
    conn_io_t *io = _io(c);
    return io ? buf_append(&io->in, data + used, n - used) : -1;
}

/* n bytes of a value were read straight into its item: the session counts them, and commits the
 * value if that completed it (a binary value; a text one waits for its "\r\n"). */
static void _take_value(conn_t *c, size_t n)
{
    buf_t *scratch = conn_owner(c)->out_scratch;
    buf_t *out = _reply_buffer(c);
    if (out == NULL) {
        conn_abort(c);
        return;
    }
    session_value_landed(&c->session, n, out);
    c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    if (out == scratch)
        _send_scratch(c, out);
}

/* A read ended: nread bytes landed in `lent` (a lent buffer), in the value's item, or else at the
 * end of the connection's own input; or nread is UV_EOF or an error. */
static void _received(conn_t *c, ssize_t nread, const char *lent, bool in_item)
{
    if (c->stage == CONN_LINGERING) {
        /* Only the peer's close matters now; what it still sends is dropped. */
        if (nread < 0)
            conn_abort(c);
        return;
    }
    if (nread == UV_EOF) {
        c->peer_eof = true;
        conn_shutdown(c);
        return;
    }
    if (nread < 0) {
        _log_failure(c, false, (int)nread);
        conn_abort(c);
        return;
    }
    stat_add(&c->session.stats->bytes_read, (uint64_t)nread);
    /* A receive that was on the ring when input ended (only there can bytes come after): dropped. */
    if (c->stage != CONN_OPEN)
        return;
    if (c->watch) {
        /* A watcher is read only to see its peer close. */
        if (lent == NULL && !in_item)
            buf_consume(&c->io->in, buf_len(&c->io->in));
        return;
    }
    if (in_item)
        _take_value(c, (size_t)nread);
    else if (lent == NULL)
        c->io->in.end += (size_t)nread;
    else if (_take_lent(c, lent, (size_t)nread) != 0) {
        conn_abort(c);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        _process(c);
}

static void _read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *unused)
{
    (void)unused;
    conn_t *c = (conn_t *)stream;
    const char *lent = c->in_scratch ? conn_owner(c)->read_scratch : NULL;
    bool in_item = c->in_item;
    c->in_scratch = false;
    c->in_item = false;
    _received(c, nread, lent, in_item);
}

void conn_ring_received(void *conn, int result, const char *data)
{
    conn_t *c = conn;
    bool lent = c->in_scratch, in_item = c->in_item;
    c->ring_receiving = false;
    c->in_scratch = false;
    c->in_item = false;
    if (c->ring_closed) {
        _close_cb((uv_handle_t *)&c->tcp);
        return;
    }
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (result == -ENOBUFS && lent) {
        /* Every buffer of the ring is lent: this connection receives into its own. */
        if (!_ring_receive(c, false))
            conn_abort(c);
        return;
    }
    _received(c, result == 0 ? UV_EOF : result < 0 ? uv_translate_sys_error(-result) : result, lent ? data : NULL, in_item);
    if (c->reading && !c->ring_receiving && !uv_is_closing((uv_handle_t *)&c->tcp) && !_ring_receive(c, true))
        conn_abort(c);
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
        _log_failure(c, true, status);
        conn_abort(c);
        return;
    }
    _process(c);
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
        _close_cb((uv_handle_t *)&c->tcp);
        return;
    }
    if (result < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        /* Closing already (the close callback is still to come): its socket is closed, and its
         * number may be another's by now, so nothing more is sent. */
        _writing_done(io);
        if (result < 0 && !uv_is_closing((uv_handle_t *)&c->tcp)) {
            _log_failure(c, true, result);
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
            _process(c);
        return;
    }
    _writing_done(io);
    _process(c);
}

/* Sends the connection's queued output: as much as the socket takes now, the rest as one queued
 * write. At most one write is in flight; replies produced meanwhile wait in io->out. */
static void _flush(conn_t *c)
{
    if (_write_in_flight(c) || c->stage >= CONN_FINISHING || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    conn_io_t *io = c->io;
    if (io && buf_pending(&io->out) > 0 && conn_owner(c)->ring == NULL && _write_now(c, &io->out) != 0)
        return;
    if (io == NULL || buf_pending(&io->out) == 0) {
        if (c->stage == CONN_CLOSING) {
            _conn_advance(c, CONN_FINISHING);
            _log_closed(c);
            _finish(c);
        }
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

int conn_start(conn_t *c, const conn_owner_t *owner)
{
    c->tcp.data = (void *)owner;
    c->session.out_high_water = CONN_OUTPUT_HIGH_WATER;
    /* The ring's sends name the socket itself. */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        c->fd = fd;
    engine_t *e = c->session.engine;
    if (e && __atomic_load_n(&e->verbosity, __ATOMIC_RELAXED) > 1)
        logger_stderr(&e->logger, "<%d new auto-negotiating client connection", (int)c->session.fd);
    if (e && logger_wants(&e->logger, LOG_CONNEVENTS))
        _log_conn(c, true);
    c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    if (c->tcp.type == UV_TCP)
        uv_tcp_nodelay(&c->tcp, 1);
    return _read_start(c);
}

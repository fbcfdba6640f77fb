/* conn: a connection's life — its stages, its buffers, "watch", and the loop that alternates
 * executing what was received with sending the replies (reads: conn_read.c; sends: conn_write.c). */
#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include "conn_parts.h"
#include "conn_ring.h"
#include "served.h"
#include "value_out.h"

/* A watching connection's wakeup: any thread that logs a line for it sends the async, and its loop
 * moves the lines into its output. Allocated only for watchers. */
typedef struct conn_watch {
    uv_async_t async;
} conn_watch_t;

static void _watch_closed_cb(uv_handle_t *h);
static void _log_conn(conn_t *c, bool is_new);

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

void conn_close_cb(uv_handle_t *h)
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
void conn_log_failure(conn_t *c, bool writing, int err)
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
    conn_close_cb((uv_handle_t *)&c->tcp);
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
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void _watch_wake(void *arg)
{
    uv_async_send(&((conn_watch_t *)arg)->async);
}

static void _watch_wake_cb(uv_async_t *async)
{
    conn_t *c = async->data;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        conn_process(c);
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
        conn_io_t *io = conn_io_get(c);
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
conn_io_t *conn_io_get(conn_t *c)
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
    while (cache->n_long > 0)
        buf_free(&cache->long_in[--cache->n_long]);
}

/* Room for n more bytes of input, in place or grown. A line that outgrows CONN_BIG_VALUE moves
 * into one of the loop's kept long buffers if one is large enough (conn.h's CONN_LONG_SPARES). */
int conn_input_reserve(conn_t *c, size_t n)
{
    buf_t *in = &c->io->in;
    conn_io_cache_t *cache = conn_owner(c)->io_cache;
    size_t live = buf_len(in);
    if (buf_space(in) >= n || live < CONN_BIG_VALUE || cache == NULL)
        return buf_reserve(in, n);
    for (unsigned i = 0; i < cache->n_long; i++) {
        if (cache->long_in[i].cap < live + n)
            continue;
        buf_t spare = cache->long_in[i];
        cache->long_in[i] = cache->long_in[--cache->n_long];
        memcpy(spare.data, buf_head(in), live);
        spare.end = live;
        buf_free(in);
        *in = spare;
        return 0;
    }
    return buf_reserve(in, n);
}

/* An emptied input buffer past CONN_BIG_VALUE (only an incomplete command grows one: in practice a
 * long seed line) and within CONN_LONG_KEEP is kept by the loop, in place of a smaller one when all
 * CONN_LONG_SPARES are taken; any other is freed. */
static void _input_free(conn_t *c, buf_t *in)
{
    conn_io_cache_t *cache = conn_owner(c)->io_cache;
    if (cache == NULL || in->cap <= CONN_BIG_VALUE || in->cap > CONN_LONG_KEEP) {
        buf_free(in);
        return;
    }
    unsigned slot = cache->n_long;
    if (slot == CONN_LONG_SPARES) {
        slot = 0;
        for (unsigned i = 1; i < CONN_LONG_SPARES; i++)
            if (cache->long_in[i].cap < cache->long_in[slot].cap)
                slot = i;
        if (cache->long_in[slot].cap >= in->cap) {
            buf_free(in);
            return;
        }
        buf_free(&cache->long_in[slot]);
    } else {
        cache->n_long++;
    }
    buf_t *spare = &cache->long_in[slot];
    buf_init(spare);
    spare->data = in->data;
    spare->cap = in->cap;
    buf_init(in);
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
    _input_free(c, &io->in);
    if (buf_pending(&io->out) == 0 && buf_pending(&io->writing) == 0) {
        _io_release(c, io);
        c->io = NULL;
    }
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

/* Executes the complete commands in data[0..len) and sends their replies; returns the bytes
 * consumed. Replies go straight to the scratch unless earlier ones still wait, to keep order. */
size_t conn_execute(conn_t *c, const char *data, size_t len)
{
    buf_t *scratch = conn_owner(c)->out_scratch;
    buf_t *out = conn_reply_buffer(c);
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
        conn_send_scratch(c, out);
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
    if (conn_read_start(c) != 0)
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

/* Every reply is out: a closing connection moves on to its FIN. */
void conn_drained(conn_t *c)
{
    if (c->stage != CONN_CLOSING)
        return;
    _conn_advance(c, CONN_FINISHING);
    _log_closed(c);
    _finish(c);
}

/* The output that holds back reading and executing, against CONN_OUTPUT_HIGH_WATER: all that is
 * owed; with batched sends, only the replies queued behind the send in flight. That send is the
 * kernel's, as most of a reply is once libuv's try-write returns, and counting it would stop and
 * restart reading (two epoll_ctl calls, ~1 µs each here) around every reply past the mark. Memory
 * stays bounded: the send in flight took at most the mark and one reply, and the session stops
 * composing at the mark. */
size_t conn_held_output(const conn_t *c)
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
void conn_process(conn_t *c)
{
    if (c->stage >= CONN_FINISHING)
        return;
    int lines_left = 0;
    for (;;) {
        if (c->session.state == SESSION_WATCH && (lines_left = _watch_pull(c)) < 0)
            return;
        conn_flush(c);
        if (uv_is_closing((uv_handle_t *)&c->tcp))
            return;
        if (c->stage >= CONN_CLOSING || conn_held_output(c) > CONN_OUTPUT_HIGH_WATER)
            break;
        size_t used = 0;
        if (c->io && buf_len(&c->io->in) > 0) {
            used = conn_execute(c, buf_head(&c->io->in), buf_len(&c->io->in));
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
    if (lines_left > 0 && !conn_write_in_flight(c))
        uv_async_send(&c->watch->async);
    _io_trim(c);
    _show(c);
    bool want_input = c->stage == CONN_OPEN && conn_held_output(c) <= CONN_OUTPUT_HIGH_WATER;
    if (!want_input)
        conn_read_stop(c);
    else if (conn_read_start(c) != 0)
        conn_abort(c);
}

void conn_shutdown(conn_t *c)
{
    if (c->stage >= CONN_FINISHING || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    _conn_advance(c, CONN_INPUT_ENDED);
    conn_read_stop(c);
    if (!conn_write_in_flight(c))
        conn_process(c);
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
    bool idle = c->stage == CONN_OPEN && !conn_write_in_flight(c) && conn_pending_output(c) == 0 &&
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
    return conn_read_start(c);
}

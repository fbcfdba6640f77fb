/* conn_read: where a connection's bytes come in — libuv's reads, or receives on the loop's io_uring
 * — and where they land: a lent buffer when idle, a value's item, or the connection's own input. */
#include "conn_parts.h"
#include "conn.h"

#include <errno.h>
#include <limits.h>
#include <sys/ioctl.h>

#include "conn_ring.h"

static void _read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *unused);

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
    conn_io_t *io = conn_io_get(c);
    if (io == NULL || conn_input_reserve(c, _continuation_room(c)) != 0)
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
int conn_read_start(conn_t *c)
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
void conn_read_stop(conn_t *c)
{
    if (!c->reading)
        return;
    c->reading = false;
    if (!_ring_reads(c))
        uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Bytes read into a lent buffer (the owner's scratch, the ring's) are executed from there; only an
 * incomplete command (or what the output mark left unexecuted) is copied into the connection's own
 * buffer. */
static int _take_lent(conn_t *c, const char *data, size_t n)
{
    size_t used = 0;
    if (c->session.state == SESSION_OPEN && conn_held_output(c) <= CONN_OUTPUT_HIGH_WATER)
        used = conn_execute(c, data, n);
    if (used == n || uv_is_closing((uv_handle_t *)&c->tcp))
        return 0;
    conn_io_t *io = conn_io_get(c);
    return io ? buf_append(&io->in, data + used, n - used) : -1;
}

/* n bytes of a value were read straight into its item: the session counts them, and commits the
 * value if that completed it (a binary value; a text one waits for its "\r\n"). */
static void _take_value(conn_t *c, size_t n)
{
    buf_t *scratch = conn_owner(c)->out_scratch;
    buf_t *out = conn_reply_buffer(c);
    if (out == NULL) {
        conn_abort(c);
        return;
    }
    session_value_landed(&c->session, n, out);
    c->active_ms = (uint32_t)uv_now(c->tcp.loop);
    if (out == scratch)
        conn_send_scratch(c, out);
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
        conn_log_failure(c, false, (int)nread);
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
        conn_process(c);
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
        conn_close_cb((uv_handle_t *)&c->tcp);
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

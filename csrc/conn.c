/* conn: reads bytes, feeds the session, and writes each batch of replies with one try-write (and
 * one queued uv_write for what the socket did not take at once). An idle connection holds no
 * buffer: reads with nothing pending land in the group's scratch buffer. */
#include "conn.h"

#include <stdlib.h>

#include "group.h"

static void _flush(conn_t *c);
static void _read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *unused);

static void _close_cb(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    buf_free(&c->in);
    buf_free(&c->out);
    group_conn_closed(c->group, c);
}

void conn_abort(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, _close_cb);
}

static size_t _pending_output(const conn_t *c)
{
    return buf_len(&c->out) + (c->write ? buf_len(&c->write->bytes) : 0);
}

static void _alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    conn_t *c = (conn_t *)h;
    if (buf_len(&c->in) == 0) {
        c->in_scratch = true;
        *out = uv_buf_init(c->group->scratch, GROUP_SCRATCH_SIZE);
        return;
    }
    c->in_scratch = false;
    if (buf_reserve(&c->in, CONN_READ_SIZE) != 0) {
        /* libuv turns an empty buffer into UV_ENOBUFS for the read callback, which closes. */
        *out = uv_buf_init(NULL, 0);
        return;
    }
    *out = uv_buf_init(buf_tail(&c->in), (unsigned int)buf_space(&c->in));
}

static void _shutdown_cb(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    if (status < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        conn_abort(c);
        return;
    }
    c->lingering = true;
    c->linger_since = uv_now(c->tcp.loop);
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, _alloc_cb, _read_cb) != 0) {
        conn_abort(c);
        return;
    }
    c->reading = true;
    group_conn_lingering(c->group);
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

/* Alternates sending replies and executing buffered commands until input runs out, output passes
 * the high-water mark, or the connection is closing. A write left in flight resumes this from its
 * callback. Reading goes on only while unsent output is under the mark, which also bounds the
 * input buffer: under the mark every complete command has been executed.
 * After end of input, commands already received are still answered, then the connection closes. */
static void _process(conn_t *c)
{
    if (c->finishing)
        return;
    for (;;) {
        _flush(c);
        if (uv_is_closing((uv_handle_t *)&c->tcp))
            return;
        if (c->closing || _pending_output(c) > CONN_OUTPUT_HIGH_WATER)
            break;
        size_t used = 0;
        if (buf_len(&c->in) > 0) {
            used = engine_feed(&c->session, buf_head(&c->in), buf_len(&c->in), &c->out);
            buf_consume(&c->in, used);
        }
        if (c->session.state != SESSION_OPEN || (used == 0 && c->input_ended))
            c->closing = true;
        else if (used == 0)
            break;
    }
    if (buf_len(&c->in) == 0)
        buf_free(&c->in);
    bool want_input = !c->input_ended && !c->closing && _pending_output(c) <= CONN_OUTPUT_HIGH_WATER;
    if (!want_input && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    } else if (want_input && !c->reading && uv_read_start((uv_stream_t *)&c->tcp, _alloc_cb, _read_cb) == 0) {
        c->reading = true;
    }
}

void conn_shutdown(conn_t *c)
{
    if (c->finishing || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->input_ended = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (!c->write)
        _process(c);
}

/* Bytes read into the shared scratch are executed from there; only an incomplete command (or
 * what the output mark left unexecuted) is copied into the connection's own buffer. */
static int _take_scratch(conn_t *c, size_t n)
{
    const char *data = c->group->scratch;
    size_t used = 0;
    if (c->session.state == SESSION_OPEN && _pending_output(c) <= CONN_OUTPUT_HIGH_WATER)
        used = engine_feed(&c->session, data, n, &c->out);
    return buf_append(&c->in, data + used, n - used);
}

static void _read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *unused)
{
    (void)unused;
    conn_t *c = (conn_t *)stream;
    bool scratch = c->in_scratch;
    c->in_scratch = false;
    if (c->lingering) {
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
        conn_abort(c);
        return;
    }
    stat_add(&c->session.stats->bytes_read, (uint64_t)nread);
    if (!scratch)
        c->in.end += (size_t)nread;
    else if (_take_scratch(c, (size_t)nread) != 0) {
        conn_abort(c);
        return;
    }
    _process(c);
}

static void _write_cb(uv_write_t *req, int status)
{
    conn_write_t *w = req->data;
    conn_t *c = w->conn;
    c->write = NULL;
    if (status == 0)
        stat_add(&c->session.stats->bytes_written, buf_len(&w->bytes));
    buf_free(&w->bytes);
    free(w);
    if (status < 0) {
        conn_abort(c);
        return;
    }
    _process(c);
}

/* Sends c->out: as much as the socket takes now, the rest as one queued write. At most one write
 * is in flight; replies produced meanwhile wait in c->out and go out when it completes. */
static void _flush(conn_t *c)
{
    if (c->write || c->finishing || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (buf_len(&c->out) > 0) {
        uv_buf_t chunk = uv_buf_init(buf_head(&c->out), (unsigned int)buf_len(&c->out));
        int n = uv_try_write((uv_stream_t *)&c->tcp, &chunk, 1);
        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            conn_abort(c);
            return;
        }
        buf_consume(&c->out, (size_t)n);
        stat_add(&c->session.stats->bytes_written, (uint64_t)n);
    }
    if (buf_len(&c->out) == 0) {
        buf_free(&c->out);
        if (c->closing) {
            c->finishing = true;
            _finish(c);
        }
        return;
    }
    conn_write_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        conn_abort(c);
        return;
    }
    w->bytes = c->out;
    w->conn = c;
    w->req.data = w;
    buf_init(&c->out);
    uv_buf_t chunk = uv_buf_init(buf_head(&w->bytes), (unsigned int)buf_len(&w->bytes));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &chunk, 1, _write_cb) != 0) {
        buf_free(&w->bytes);
        free(w);
        conn_abort(c);
        return;
    }
    c->write = w;
}

int conn_start(conn_t *c)
{
    buf_init(&c->in);
    buf_init(&c->out);
    c->session.out_high_water = CONN_OUTPUT_HIGH_WATER;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, _alloc_cb, _read_cb);
    c->reading = rc == 0;
    return rc;
}

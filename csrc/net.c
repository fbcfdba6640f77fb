/* net: accepts TCP connections on a libuv loop and hands them to conn; tracks them so that closing
 * the server closes every handle it ever opened, and only then reports that it is closed. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

static const char REPLY_TOO_MANY[] = "SERVER_ERROR too many open connections\r\n";

static void _handle_closed(net_server_t *s)
{
    if (--s->open_handles > 0)
        return;
    net_closed_cb cb = s->on_closed;
    void *ctx = s->closed_ctx;
    free(s);
    if (cb)
        cb(ctx);
}

static void _server_handle_close_cb(uv_handle_t *h)
{
    _handle_closed(h->data);
}

static void _rejected_close_cb(uv_handle_t *h)
{
    net_server_t *s = h->data;
    free(h);
    _handle_closed(s);
}

void net_server_conn_closed(net_server_t *s, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->lingering)
        s->nlingering--;
    s->engine->stats.curr_connections--;
    free(c);
    if (s->closing && s->nconns == 0 && !uv_is_closing((uv_handle_t *)&s->grace_timer))
        uv_close((uv_handle_t *)&s->grace_timer, _server_handle_close_cb);
    _handle_closed(s);
}

static void _tick_cb(uv_timer_t *timer)
{
    net_server_t *s = timer->data;
    cache_sweep(s->engine->cache, NET_SWEEP_BUCKETS);
    if (s->nlingering == 0)
        return;
    uint64_t now = uv_now(s->loop);
    for (conn_t *c = s->conns; c != NULL; c = c->next) {
        if (c->lingering && now - c->linger_since >= CONN_LINGER_MS)
            conn_abort(c);
    }
}

void net_server_conn_lingering(net_server_t *s)
{
    s->nlingering++;
}

/* Past max_connections the client is told why, best effort, and closed without being read. */
static void _reject(net_server_t *s, uv_tcp_t *tcp)
{
    uv_buf_t msg = uv_buf_init((char *)REPLY_TOO_MANY, sizeof(REPLY_TOO_MANY) - 1);
    uv_try_write((uv_stream_t *)tcp, &msg, 1);
    s->engine->stats.rejected_connections++;
    uv_close((uv_handle_t *)tcp, _rejected_close_cb);
}

static void _accept_one(net_server_t *s)
{
    bool full = s->nconns >= s->max_connections;
    uv_tcp_t *tcp = full ? malloc(sizeof(uv_tcp_t)) : calloc(1, sizeof(conn_t));
    if (tcp == NULL)
        return;
    if (uv_tcp_init(s->loop, tcp) != 0) {
        free(tcp);
        return;
    }
    s->open_handles++;
    tcp->data = s;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)tcp) != 0) {
        uv_close((uv_handle_t *)tcp, _rejected_close_cb);
        return;
    }
    if (full) {
        _reject(s, tcp);
        return;
    }
    conn_t *c = (conn_t *)tcp;
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->engine->stats.curr_connections++;
    s->engine->stats.total_connections++;
    session_init(&c->session, s->engine, s->proto);
    if (conn_start(c) != 0)
        conn_abort(c);
}

static void _connection_cb(uv_stream_t *listener, int status)
{
    net_server_t *s = listener->data;
    if (status < 0 || s->closing)
        return;
    _accept_one(s);
}

static int _parse_address(const char *host, int port, struct sockaddr_storage *addr)
{
    if (strchr(host, ':') != NULL)
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)addr);
}

int net_server_start(uv_loop_t *loop, engine_t *engine, const net_config_t *config, net_server_t **out)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    int rc = _parse_address(config->host, config->port, &addr);
    if (rc != 0)
        return rc;
    net_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return UV_ENOMEM;
    s->loop = loop;
    s->engine = engine;
    s->proto = config->proto;
    s->max_connections = config->max_connections;
    rc = uv_tcp_init(loop, &s->listener);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->listener.data = s;
    uv_timer_init(loop, &s->tick_timer);
    s->tick_timer.data = s;
    uv_unref((uv_handle_t *)&s->tick_timer);
    s->open_handles = 2;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, _connection_cb);
    if (rc != 0) {
        /* Closing completes on a later loop turn; the server frees itself then, reporting nothing. */
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, _server_handle_close_cb);
        uv_close((uv_handle_t *)&s->tick_timer, _server_handle_close_cb);
        return rc;
    }
    uv_timer_start(&s->tick_timer, _tick_cb, NET_TICK_MS, NET_TICK_MS);
    *out = s;
    return 0;
}

int net_server_address(net_server_t *s, struct sockaddr_storage *addr)
{
    int len = sizeof(*addr);
    return uv_tcp_getsockname(&s->listener, (struct sockaddr *)addr, &len);
}

static void _grace_expired_cb(uv_timer_t *timer)
{
    net_server_t *s = timer->data;
    for (conn_t *c = s->conns; c != NULL; c = c->next)
        conn_abort(c);
    uv_close((uv_handle_t *)timer, _server_handle_close_cb);
}

void net_server_close(net_server_t *s, net_closed_cb cb, void *ctx)
{
    if (s->closing)
        return;
    s->closing = true;
    s->on_closed = cb;
    s->closed_ctx = ctx;
    /* The timer is counted before anything can close, so the count cannot reach zero early. */
    s->open_handles++;
    uv_timer_init(s->loop, &s->grace_timer);
    s->grace_timer.data = s;
    uv_unref((uv_handle_t *)&s->grace_timer);
    uv_close((uv_handle_t *)&s->listener, _server_handle_close_cb);
    uv_close((uv_handle_t *)&s->tick_timer, _server_handle_close_cb);
    conn_t *c = s->conns;
    while (c != NULL) {
        conn_t *next = c->next;
        conn_shutdown(c);
        c = next;
    }
    if (s->nconns == 0)
        uv_close((uv_handle_t *)&s->grace_timer, _server_handle_close_cb);
    else
        uv_timer_start(&s->grace_timer, _grace_expired_cb, NET_CLOSE_GRACE_MS, 0);
}

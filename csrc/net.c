/* net: listeners on Node's loop. Without threads a listener accepts straight into the Node-loop
 * group; with threads it accepts, detaches the socket and hands it to the next I/O thread. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "replies.h"

/* The last part of a closing server is gone: free it and report, on Node's loop. */
static void _finish(net_server_t *s)
{
    net_closed_cb cb = s->on_closed;
    void *ctx = s->closed_ctx;
    free(s->groups);
    free(s);
    if (cb)
        cb(ctx);
}

static void _joined_close_cb(uv_handle_t *h)
{
    _finish(h->data);
}

static void _part_done(net_server_t *s)
{
    if (--s->open_handles > 0)
        return;
    if (s->joined_open)
        uv_close((uv_handle_t *)&s->joined, _joined_close_cb);
    else
        _finish(s);
}

static void _listener_close_cb(uv_handle_t *h)
{
    net_listener_t *l = (net_listener_t *)h;
    free(l->path);
    l->path = NULL;
    _part_done(l->server);
}

static void _shutdown_close_cb(uv_handle_t *h)
{
    _part_done(h->data);
}

static void _rejected_close_cb(uv_handle_t *h)
{
    net_server_t *s = h->data;
    free(h);
    _part_done(s);
}

/* The server as its groups' owner. */
static void _group_closed(void *server)
{
    _part_done(server);
}

static void _conn_gone(void *server)
{
    net_server_t *s = server;
    __atomic_sub_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
}

static void _group_thread_ended(void *server)
{
    net_server_t *s = server;
    uv_async_send(&s->joined);
}

static const group_owner_t NET_GROUP_OWNER = {
    .conn_gone = _conn_gone, .closed = _group_closed, .thread_ended = _group_thread_ended};

/* Joins the I/O threads whose loops have ended; each counts as one part of the server. */
static void _joined_cb(uv_async_t *async)
{
    net_server_t *s = async->data;
    unsigned done = 0;
    for (unsigned i = 0; i < s->ngroups; i++) {
        group_t *g = &s->groups[i];
        if (g->joined)
            continue;
        group_join(g);
        done += g->joined;
    }
    /* A threaded server always ends by closing this async handle, never from inside its callback. */
    s->open_handles -= done;
    if (done && s->open_handles == 0)
        uv_close((uv_handle_t *)&s->joined, _joined_close_cb);
}

/* Past max_connections the client is told why, best effort (the TLS listener sends the same line),
 * and closed without being read. */
static void _reject(net_server_t *s, uv_stream_t *tcp)
{
    static const char too_many[] = TEXT_TOO_MANY_CONNECTIONS "\r\n";
    uv_buf_t msg = uv_buf_init((char *)too_many, sizeof(too_many) - 1);
    uv_try_write(tcp, &msg, 1);
    stat_add(&s->engine->stats.rejected_connections, 1);
    uv_close((uv_handle_t *)tcp, _rejected_close_cb);
}

/* Accepts one connection into c's handle, a pipe for a Unix-socket listener (c is owned by the
 * caller until then); false if it was closed. */
static bool _accept(net_server_t *s, net_listener_t *l, conn_t *c)
{
    int rc = l->path ? uv_pipe_init(s->loop, &c->pipe, 0) : uv_tcp_init(s->loop, &c->tcp);
    if (rc != 0) {
        free(c);
        return false;
    }
    uv_stream_t *tcp = (uv_stream_t *)&c->tcp;
    s->open_handles++;
    tcp->data = s;
    if (uv_accept((uv_stream_t *)&l->tcp, tcp) != 0) {
        uv_close((uv_handle_t *)tcp, _rejected_close_cb);
        return false;
    }
    if (__atomic_load_n(&s->nconns, __ATOMIC_RELAXED) >= s->max_connections) {
        _reject(s, tcp);
        return false;
    }
    s->open_handles--;  /* from here the connection is the group's */
    __atomic_add_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
    return true;
}

/* Threaded: the socket leaves Node's loop as a duplicate descriptor (the temporary handle closes
 * the original) and goes to the next thread, which wraps it in a handle on its own loop. */
static void _hand_over(net_server_t *s, net_listener_t *l, uv_stream_t *tcp)
{
    uv_os_fd_t fd;
    int copy = uv_fileno((uv_handle_t *)tcp, &fd) == 0 ? dup(fd) : -1;
    s->open_handles++;
    uv_close((uv_handle_t *)tcp, _rejected_close_cb);
    group_t *g = &s->groups[s->next_group++ % s->ngroups];
    if (copy < 0 || group_hand_over(g, copy, l->proto, l->path != NULL) != 0) {
        if (copy >= 0)
            close(copy);
        _conn_gone(s);
    }
}

static void _connection_cb(uv_stream_t *stream, int status)
{
    net_listener_t *l = (net_listener_t *)stream;
    net_server_t *s = l->server;
    if (status < 0 || s->closing)
        return;
    /* A conn embeds its handle first, so one allocation serves either path. */
    conn_t *c = calloc(1, sizeof(conn_t));
    if (c == NULL || !_accept(s, l, c))
        return;
    if (s->threaded)
        _hand_over(s, l, (uv_stream_t *)&c->tcp);
    else
        group_adopt(&s->groups[0], c, l->proto);
}

/* "stats conns": the listeners, then each group's connections. Under the engine's stats_lock. */
static void _list(served_server_t *self, served_pick_t *pick)
{
    net_server_t *s = (net_server_t *)((char *)self - offsetof(net_server_t, served));
    for (unsigned i = 0; i < s->nlisteners; i++) {
        served_socket_t socket = {.fd = s->listener_fds[i], .state = SERVED_LISTENING, .listening = true,
                                  .last_cmd = s->started};
        served_offer(pick, &socket);
    }
    for (unsigned i = 0; i < s->ngroups; i++)
        group_list(&s->groups[i], pick);
}

/* Any thread: only a signal to Node's loop, where the owner is told. */
static void _ask_shutdown(served_server_t *self, bool graceful)
{
    net_server_t *s = (net_server_t *)((char *)self - offsetof(net_server_t, served));
    __atomic_store_n(&s->shutdown_mode, graceful ? 2 : 1, __ATOMIC_RELAXED);
    uv_async_send(&s->shutdown_async);
}

static void _shutdown_cb(uv_async_t *async)
{
    net_server_t *s = async->data;
    int mode = __atomic_exchange_n(&s->shutdown_mode, 0, __ATOMIC_RELAXED);
    if (mode != 0 && !s->closing && s->on_shutdown)
        s->on_shutdown(s->shutdown_ctx, mode == 2);
}

static int _parse_address(const char *host, int port, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    if (strchr(host, ':') != NULL)
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)addr);
}

/* memcached's -s: a socket file left by an earlier run is replaced, anything else at the path is
 * an error; the mode (memcached's -a) is set before listen, so no client connects before it. */
static int _listen_local(net_server_t *s, net_listener_t *l, const net_listen_t *config)
{
    /* libuv would bind a path too long for sun_path cut short, somewhere else. */
    if (strlen(config->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return UV_ENAMETOOLONG;
    struct stat st;
    if (lstat(config->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(config->path);
    int rc = uv_pipe_init(s->loop, &l->pipe, 0);
    if (rc != 0)
        return rc;
    l->server = s;
    l->proto = config->proto;
    s->nlisteners++;
    s->open_handles++;
    if ((rc = uv_pipe_bind(&l->pipe, config->path)) != 0)
        return rc;
    /* Bound: from here the file is this listener's, removed when it closes. */
    if ((l->path = strdup(config->path)) == NULL)
        return UV_ENOMEM;
    if (chmod(config->path, config->mode & 0777) != 0)
        return uv_translate_sys_error(errno);
    return uv_listen((uv_stream_t *)&l->pipe, NET_LISTEN_BACKLOG, _connection_cb);
}

static int _listen(net_server_t *s, const net_listen_t *config)
{
    if (config->path)
        return _listen_local(s, &s->listeners[s->nlisteners], config);
    struct sockaddr_storage addr;
    int rc = _parse_address(config->host, config->port, &addr);
    if (rc != 0)
        return rc;
    net_listener_t *l = &s->listeners[s->nlisteners];
    if ((rc = uv_tcp_init(s->loop, &l->tcp)) != 0)
        return rc;
    l->server = s;
    l->proto = config->proto;
    s->nlisteners++;
    s->open_handles++;
    rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, NET_LISTEN_BACKLOG, _connection_cb);
    return rc;
}

static int _start(net_server_t *s, const net_config_t *config)
{
    int rc = 0;
    for (unsigned i = 0; i < config->nlisten && rc == 0; i++)
        rc = _listen(s, &config->listen[i]);
    if (rc != 0)
        return rc;
    s->groups = calloc(s->threaded ? config->threads : 1, sizeof(group_t));
    if (s->groups == NULL)
        return UV_ENOMEM;
    if (s->threaded) {
        if ((rc = uv_async_init(s->loop, &s->joined, _joined_cb)) != 0)
            return rc;
        s->joined.data = s;
        s->joined_open = true;
    }
    if ((rc = uv_async_init(s->loop, &s->shutdown_async, _shutdown_cb)) != 0)
        return rc;
    s->shutdown_async.data = s;
    s->shutdown_open = true;
    s->open_handles++;
    uv_unref((uv_handle_t *)&s->shutdown_async);
    unsigned want = s->threaded ? config->threads : 1;
    for (unsigned i = 0; i < want; i++) {
        if ((rc = group_start(&s->groups[i], &NET_GROUP_OWNER, s, s->engine, s->loop, s->threaded,
                              config->idle_timeout, config->write_timeout)) != 0)
            return rc;
        s->ngroups++;
        s->open_handles++;
    }
    return 0;
}

/* What "stats" and "stats settings" print of how the engine is served: memcached's tcpport and
 * inter are its port's listener's. With several servers on one engine the last one started wins,
 * except for max_connections, the largest. */
static void _describe(net_server_t *s, const net_config_t *config)
{
    engine_served_t *served = &s->engine->served;
    if (served->max_connections < config->max_connections)
        served->max_connections = config->max_connections;
    served->idle_timeout = config->idle_timeout;
    served->threads = config->threads;
    served->tcp_backlog = NET_LISTEN_BACKLOG;
    snprintf(served->event_library, sizeof(served->event_library), "libuv-%s", uv_version_string());
    for (unsigned i = 0; i < s->nlisteners; i++) {
        if (s->listeners[i].proto == PROTOCOL_MEMCACHED && s->listeners[i].path) {
            snprintf(served->domain_socket, sizeof(served->domain_socket), "%s", s->listeners[i].path);
            served->unix_mask = config->listen[i].mode & 0777;
        }
    }
    for (unsigned i = 0; i < s->nlisteners; i++) {
        struct sockaddr_storage addr;
        if (s->listeners[i].proto != PROTOCOL_MEMCACHED || s->listeners[i].path || net_server_address(s, i, &addr) != 0)
            continue;
        served->tcp_port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                            : ((struct sockaddr_in *)&addr)->sin_port);
        snprintf(served->interface, sizeof(served->interface), "%s", config->listen[i].host);
        break;
    }
}

int net_server_start(uv_loop_t *loop, engine_t *engine, const net_config_t *config, net_server_t **out,
                     unsigned *failed)
{
    if (config->nlisten == 0 || config->nlisten > NET_MAX_LISTENERS || config->threads > NET_MAX_THREADS)
        return UV_EINVAL;
    net_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return UV_ENOMEM;
    s->loop = loop;
    s->engine = engine;
    s->max_connections = config->max_connections;
    s->threaded = config->threads > 0;
    int rc = _start(s, config);
    if (rc != 0) {
        *failed = s->nlisteners ? s->nlisteners - 1 : 0;
        /* Whatever started is closed the normal way; the server frees itself, reporting nothing. */
        if (s->open_handles == 0 && !s->joined_open) {
            free(s->groups);
            free(s);
        } else {
            net_server_close(s, NULL, NULL);
        }
        return rc;
    }
    _describe(s, config);
    for (unsigned i = 0; i < s->nlisteners; i++) {
        uv_os_fd_t fd;
        s->listener_fds[i] = uv_fileno((uv_handle_t *)&s->listeners[i].tcp, &fd) == 0 ? fd : -1;
    }
    s->started = cache_clock(engine->cache);
    s->on_shutdown = config->on_shutdown;
    s->shutdown_ctx = config->shutdown_ctx;
    s->served = (served_server_t){.list = _list, .shutdown = _ask_shutdown};
    served_add(engine, &s->served);
    s->registered = true;
    *out = s;
    return 0;
}

int net_server_address(net_server_t *s, unsigned i, struct sockaddr_storage *addr)
{
    if (i >= s->nlisteners)
        return UV_EINVAL;
    net_listener_t *l = &s->listeners[i];
    if (l->path) {
        struct sockaddr_un *un = (struct sockaddr_un *)addr;
        memset(un, 0, sizeof(*un));
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", l->path);
        return 0;
    }
    int len = sizeof(*addr);
    return uv_tcp_getsockname(&l->tcp, (struct sockaddr *)addr, &len);
}

void net_server_close(net_server_t *s, net_closed_cb cb, void *ctx)
{
    if (s->closing)
        return;
    s->closing = true;
    s->on_closed = cb;
    s->closed_ctx = ctx;
    /* From here no session lists or signals this server: its handles can go. */
    if (s->registered)
        served_remove(s->engine, &s->served);
    s->registered = false;
    if (s->shutdown_open)
        uv_close((uv_handle_t *)&s->shutdown_async, _shutdown_close_cb);
    for (unsigned i = 0; i < s->nlisteners; i++) {
        /* Unlike memcached, which leaves its socket file behind: no one can connect to it now. */
        if (s->listeners[i].path)
            unlink(s->listeners[i].path);
        uv_close((uv_handle_t *)&s->listeners[i].tcp, _listener_close_cb);
    }
    for (unsigned i = 0; i < s->ngroups; i++)
        group_close(&s->groups[i]);
}

/* group: a loop's connections. On Node's loop it runs inline; as an I/O thread it runs its own
 * loop until group_close() has closed every handle, then tells Node's loop it can be joined. */
#include "group.h"

#include <stdlib.h>
#include <unistd.h>

#include "served.h"
#include "value_out.h"

static void _handle_closed(group_t *g)
{
    if (--g->open_handles > 0)
        return;
    bufref_drop(&g->out_scratch);
    bufref_free(&g->out_scratch_refs);
    buf_free(&g->out_scratch);
    conn_io_cache_free(&g->io_cache);
    /* Threaded, the loop now has nothing left and uv_run() returns in _thread_main. */
    if (!g->threaded) {
        uv_mutex_destroy(&g->lock);
        g->owner->closed(g->owner_data);
    }
}

static void _handle_close_cb(uv_handle_t *h)
{
    _handle_closed(h->data);
}

static void _ring_closed(conn_ring_t *cr, void *data)
{
    (void)cr;
    _handle_closed(data);
}

/* On the loop's thread: batch the loop's sends (and receives) on an io_uring where there is one. */
static void _ring_start(group_t *g)
{
    if (conn_ring_start(&g->ring, g->loop, conn_ring_sent, conn_ring_received) != 0)
        return;
    g->conn_owner.ring = &g->ring;
    g->open_handles++;
}

/* Once every connection has closed: none has a send left on the ring. */
static void _last_handles_close(group_t *g)
{
    if (!uv_is_closing((uv_handle_t *)&g->grace_timer))
        uv_close((uv_handle_t *)&g->grace_timer, _handle_close_cb);
    if (g->conn_owner.ring) {
        g->conn_owner.ring = NULL;
        conn_ring_close(&g->ring, _ring_closed, g);
    }
}

/* Closes connections that lingered too long and, once a second, idle ones (no command for the idle
 * timeout and no reply owed: memcached's idle_timeout likewise spares connections that are sending)
 * and stalled ones (replies owed, none taken by the peer for the write timeout: a reader that never
 * reads would otherwise pin its output buffer for good). A walk over the group's connections, done
 * only when there can be something to find. */
static void _close_overdue(group_t *g, uint64_t now)
{
    bool timeouts = (g->idle_timeout_ms > 0 || g->write_timeout_ms > 0) && now - g->idle_checked >= GROUP_IDLE_CHECK_MS;
    if (g->nlingering == 0 && !timeouts)
        return;
    if (timeouts)
        g->idle_checked = now;
    for (conn_t *c = g->conns, *next; c != NULL; c = next) {
        next = c->next;
        uint32_t since = (uint32_t)now - c->active_ms;
        if (c->stage == CONN_LINGERING) {
            if (since >= CONN_LINGER_MS)
                conn_abort(c);
        } else if (!timeouts) {
            continue;
        } else if (conn_pending_output(c) > 0) {
            if (g->write_timeout_ms > 0 && since >= g->write_timeout_ms)
                conn_abort(c);
        } else if (g->idle_timeout_ms > 0 && since >= g->idle_timeout_ms && c->stage == CONN_OPEN) {
            stat_add(&g->stats->idle_kicks, 1);
            conn_shutdown(c);
        }
    }
}

static void _tick_cb(uv_timer_t *timer)
{
    group_t *g = timer->data;
    engine_tick(g->engine);
    /* With the crawler off the sweep visits nothing, but still evicts down to a lowered limit. */
    bool crawling = !__atomic_load_n(&g->engine->crawler.off, __ATOMIC_RELAXED);
    cache_sweep(g->engine->cache, crawling ? GROUP_SWEEP_BUCKETS : 0);
    _close_overdue(g, uv_now(g->loop));
}

static void _grace_expired_cb(uv_timer_t *timer)
{
    group_t *g = timer->data;
    for (conn_t *c = g->conns; c != NULL; c = c->next)
        conn_abort(c);
    uv_close((uv_handle_t *)timer, _handle_close_cb);
}

void group_adopt(group_t *g, conn_t *c, protocol_t proto)
{
    uv_os_fd_t fd;
    c->fd = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 ? fd : -1;
    c->shown = SERVED_NEW_CMD;
    c->last_cmd = cache_clock(g->engine->cache);
    /* The lock is for "stats conns" on other threads: only this thread changes the list. */
    uv_mutex_lock(&g->lock);
    c->next = g->conns;
    if (g->conns)
        g->conns->prev = c;
    g->conns = c;
    uv_mutex_unlock(&g->lock);
    g->nconns++;
    g->open_handles++;
    stat_add(&g->stats->curr_connections, 1);
    stat_add(&g->stats->total_connections, 1);
    protocol_start(&c->session, g->engine, proto);
    c->session.stats = g->stats;
    c->session.fd = c->fd;  /* the protocols' copy, for memcached's "cfd" and "<fd" in logs */
    if (conn_start(c, &g->conn_owner) != 0)
        conn_abort(c);
}

static void _conn_closed(conn_t *c, void *data)
{
    group_t *g = data;
    uv_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_mutex_unlock(&g->lock);
    g->nconns--;
    if (c->stage == CONN_LINGERING)
        g->nlingering--;
    stat_sub(&g->stats->curr_connections, 1);
    protocol_end(&c->session);
    free(c);
    g->owner->conn_gone(g->owner_data);
    if (g->closing && g->nconns == 0)
        _last_handles_close(g);
    _handle_closed(g);
}

static void _conn_lingering(conn_t *c, void *data)
{
    (void)c;
    group_t *g = data;
    g->nlingering++;
}

/* On the group's loop. */
static void _close_now(group_t *g)
{
    if (g->closing)
        return;
    g->closing = true;
    uv_close((uv_handle_t *)&g->tick_timer, _handle_close_cb);
    if (g->threaded)
        uv_close((uv_handle_t *)&g->wakeup, _handle_close_cb);
    for (conn_t *c = g->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_stop(c);
    }
    if (g->nconns == 0)
        _last_handles_close(g);
    else
        uv_timer_start(&g->grace_timer, _grace_expired_cb, GROUP_CLOSE_GRACE_MS, 0);
}

/* A socket handed over from Node's loop becomes a connection of this group. */
static void _adopt_fd(group_t *g, group_handoff_t h)
{
    conn_t *c = g->closing ? NULL : calloc(1, sizeof(conn_t));
    if (c == NULL || (h.local ? uv_pipe_init(g->loop, &c->pipe, 0) : uv_tcp_init(g->loop, &c->tcp)) != 0) {
        free(c);
        close(h.fd);
        g->owner->conn_gone(g->owner_data);
        return;
    }
    if ((h.local ? uv_pipe_open(&c->pipe, h.fd) : uv_tcp_open(&c->tcp, h.fd)) != 0) {
        close(h.fd);
        /* Counted as open until its close callback, like every adopted connection. */
    }
    group_adopt(g, c, h.proto);
}

static void _wakeup_cb(uv_async_t *async)
{
    group_t *g = async->data;
    uv_mutex_lock(&g->lock);
    group_handoff_t *handoffs = g->handoffs;
    unsigned n = g->nhandoffs;
    bool stop = g->stop_asked;
    g->handoffs = NULL;
    g->nhandoffs = g->handoff_cap = 0;
    uv_mutex_unlock(&g->lock);
    for (unsigned i = 0; i < n; i++)
        _adopt_fd(g, handoffs[i]);
    free(handoffs);
    if (stop)
        _close_now(g);
}

static void _thread_main(void *arg)
{
    group_t *g = arg;
    _ring_start(g);
    uv_run(g->loop, UV_RUN_DEFAULT);
    uv_loop_close(g->loop);
    __atomic_store_n(&g->finished, 1, __ATOMIC_RELEASE);
    g->owner->thread_ended(g->owner_data);
}

int group_start(group_t *g, const group_owner_t *owner, void *owner_data, engine_t *engine, uv_loop_t *node_loop,
                bool threaded, unsigned idle_timeout, unsigned write_timeout)
{
    g->idle_timeout_ms = idle_timeout * 1000u;
    g->write_timeout_ms = write_timeout * 1000u;
    g->owner = owner;
    g->owner_data = owner_data;
    g->engine = engine;
    g->threaded = threaded;
    g->stats = &engine->stats;
    g->loop = node_loop;
    int rc;
    if ((rc = uv_mutex_init(&g->lock)) != 0)
        return rc;
    if (threaded) {
        g->loop = &g->own_loop;
        g->stats = &g->own_stats;
        if ((rc = uv_loop_init(g->loop)) != 0) {
            uv_mutex_destroy(&g->lock);
            return rc;
        }
        uv_async_init(g->loop, &g->wakeup, _wakeup_cb);
        g->wakeup.data = g;
        g->open_handles++;
        engine_stats_attach(engine, g->stats);
    }
    uv_timer_init(g->loop, &g->tick_timer);
    uv_timer_init(g->loop, &g->grace_timer);
    g->tick_timer.data = g->grace_timer.data = g;
    bufref_attach(&g->out_scratch, &g->out_scratch_refs, value_out_release);
    g->conn_owner = (conn_owner_t){.closed = _conn_closed, .lingering = _conn_lingering, .data = g,
                                   .read_scratch = g->scratch, .read_scratch_size = GROUP_SCRATCH_SIZE,
                                   .out_scratch = &g->out_scratch, .io_cache = &g->io_cache};
    g->open_handles += 2;
    uv_unref((uv_handle_t *)&g->tick_timer);
    engine_tick(engine);
    uv_timer_start(&g->tick_timer, _tick_cb, GROUP_TICK_MS, GROUP_TICK_MS);
    if (!threaded)
        _ring_start(g);
    if (threaded && (rc = uv_thread_create(&g->thread, _thread_main, g)) != 0) {
        /* No thread: close the handles on this thread, run the loop dry, and give it all back. */
        uv_close((uv_handle_t *)&g->wakeup, NULL);
        uv_close((uv_handle_t *)&g->tick_timer, NULL);
        uv_close((uv_handle_t *)&g->grace_timer, NULL);
        uv_run(g->loop, UV_RUN_DEFAULT);
        uv_loop_close(g->loop);
        uv_mutex_destroy(&g->lock);
        engine_stats_detach(engine, g->stats);
        return rc;
    }
    return 0;
}

int group_hand_over(group_t *g, uv_os_sock_t fd, protocol_t proto, bool local)
{
    int rc = 0;
    uv_mutex_lock(&g->lock);
    if (g->nhandoffs == g->handoff_cap) {
        unsigned cap = g->handoff_cap ? g->handoff_cap * 2 : 16;
        group_handoff_t *grown = realloc(g->handoffs, cap * sizeof(*grown));
        if (grown == NULL) {
            rc = UV_ENOMEM;
        } else {
            g->handoffs = grown;
            g->handoff_cap = cap;
        }
    }
    if (rc == 0)
        g->handoffs[g->nhandoffs++] = (group_handoff_t){fd, proto, local};
    uv_mutex_unlock(&g->lock);
    if (rc == 0)
        uv_async_send(&g->wakeup);
    return rc;
}

void group_close(group_t *g)
{
    if (!g->threaded) {
        _close_now(g);
        return;
    }
    uv_mutex_lock(&g->lock);
    g->stop_asked = true;
    uv_mutex_unlock(&g->lock);
    uv_async_send(&g->wakeup);
}

void group_join(group_t *g)
{
    if (!g->threaded || g->joined || !__atomic_load_n(&g->finished, __ATOMIC_ACQUIRE))
        return;
    uv_thread_join(&g->thread);
    g->joined = true;
    for (unsigned i = 0; i < g->nhandoffs; i++)
        close(g->handoffs[i].fd);
    free(g->handoffs);
    g->handoffs = NULL;
    uv_mutex_destroy(&g->lock);
    engine_stats_detach(g->engine, g->stats);
}

void group_list(group_t *g, served_pick_t *pick)
{
    uv_mutex_lock(&g->lock);
    for (const conn_t *c = g->conns; c != NULL; c = c->next) {
        served_socket_t socket = {.fd = c->fd, .state = __atomic_load_n(&c->shown, __ATOMIC_RELAXED),
                                  .last_cmd = __atomic_load_n(&c->last_cmd, __ATOMIC_RELAXED)};
        if (socket.fd >= 0)
            served_offer(pick, &socket);
    }
    uv_mutex_unlock(&g->lock);
}

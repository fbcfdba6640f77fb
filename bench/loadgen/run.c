/* run.c - the run: every key preloaded by sets, then the get/set mix, unmeasured for --warmup and measured
 * for --duration; the event loop that drives it, and what each reply does to the counts. */
#define _GNU_SOURCE
#include "codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#define MAX_EVENTS 256
#define PRELOAD_TIMEOUT_NS (60ull * 1000000000ull)
#define EPOLL_TIMEOUT_MS 10       /* wake up regularly so a stalled server cannot stall the clock */

void fail(struct bench *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    b->failed = true;
}

static uint64_t seconds_to_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* ---------------------------------------------------------------- replies */

static void record_reply(struct bench *b, const struct request *req, enum reply r,
                         unsigned hits, uint64_t now)
{
    if (r == REPLY_ERROR) {
        b->stats.errors++;   /* errors count in every phase, including preload */
        return;
    }
    if (b->phase != PHASE_TRAFFIC || now < b->measure_start || now >= b->measure_end)
        return;
    struct stats *s = &b->stats;
    s->ops++;
    hist_add(&s->latency, now - req->sent_ns);
    if (req->is_set) {
        s->sets++;
    } else {
        s->gets++;
        s->get_keys += req->nkeys;
        s->hits += hits;
    }
}

static void consume_replies(struct bench *b, struct conn *c, uint64_t now)
{
    while (c->inflight > 0 && c->in.start < c->in.end) {
        const struct request *req = queue_slot(c, 0);
        struct parsed parsed;
        enum reply r = request_parse_reply(b, req, c->in.data + c->in.start, c->in.end - c->in.start, &parsed);
        if (r == REPLY_INCOMPLETE)
            return;
        buffer_consume(&c->in, parsed.consumed);
        record_reply(b, req, r, parsed.hits, now);
        c->queue_head = (c->queue_head + 1) % c->queue_cap;
        c->inflight--;
    }
    if (c->in.start < c->in.end && c->inflight == 0) {
        fail(b, "server sent %zu bytes nobody asked for after %" PRIu64 " error replies (wrong --protocol?)",
             c->in.end - c->in.start, b->stats.errors);
        buffer_consume(&c->in, c->in.end - c->in.start);
    }
}

/* ---------------------------------------------------------------- phases */

static void start_traffic(struct bench *b, uint64_t now);

static void check_preload_done(struct bench *b, struct conn *c, uint64_t now)
{
    if (c->preload_done || c->inflight > 0 || c->preload_next < (uint32_t)b->opt.keys)
        return;
    c->preload_done = true;
    if (--b->preload_pending == 0)
        start_traffic(b, now);
}

/* Tops the connection up to its in-flight target and sends what was queued. */
static void fill_conn(struct bench *b, struct conn *c, uint64_t now)
{
    if (b->phase == PHASE_PRELOAD) {
        while (c->inflight < PRELOAD_DEPTH && c->preload_next < (uint32_t)b->opt.keys) {
            request_enqueue_set(b, c, c->preload_next, now);
            c->preload_next += (uint32_t)b->opt.conns;
        }
    } else {
        while (c->inflight < (unsigned)b->opt.pipeline) {
            if (random_unit(&c->rng) < b->opt.set_ratio)
                request_enqueue_set(b, c, (uint32_t)(next_random(&c->rng) % (uint64_t)b->opt.keys), now);
            else
                request_enqueue_get(b, c, now);
        }
    }
    conn_flush(b, c);
}

static void start_traffic(struct bench *b, uint64_t now)
{
    b->phase = PHASE_TRAFFIC;
    b->measure_start = now + seconds_to_ns(b->opt.warmup_s);
    b->measure_end = b->measure_start + seconds_to_ns(b->opt.duration_s);
    for (int i = 0; i < b->opt.conns && !b->failed; i++)
        fill_conn(b, &b->conns[i], now);
}

/* Bytes have arrived on c: its replies are counted and its requests topped up. */
void run_on_input(struct bench *b, struct conn *c, uint64_t now)
{
    consume_replies(b, c, now);
    if (b->phase == PHASE_PRELOAD)
        check_preload_done(b, c, now);
    if (!b->failed)
        fill_conn(b, c, now);
}

/* ---------------------------------------------------------------- event loop */

static void handle_event(struct bench *b, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(b, c);
    if (!b->failed && (ev->events & EPOLLOUT))
        conn_flush(b, c);
}

void run(struct bench *b)
{
    uint64_t now = now_ns();
    b->preload_deadline = now + PRELOAD_TIMEOUT_NS;
    for (int i = 0; i < b->opt.conns && !b->failed; i++) {
        fill_conn(b, &b->conns[i], now);
        check_preload_done(b, &b->conns[i], now);  /* conns with no keys to preload */
    }
    struct epoll_event events[MAX_EVENTS];
    while (!b->failed) {
        int n = epoll_wait(b->epfd, events, MAX_EVENTS, EPOLL_TIMEOUT_MS);
        if (n < 0 && errno != EINTR) {
            fail(b, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !b->failed; i++)
            handle_event(b, &events[i]);
        now = now_ns();
        if (b->phase == PHASE_PRELOAD && now > b->preload_deadline)
            fail(b, "preload did not finish within %llu s", PRELOAD_TIMEOUT_NS / 1000000000ull);
        if (b->phase == PHASE_TRAFFIC)
            cpu_window_sample(&b->server_cpu, b->opt.server_pid, now, b->measure_start, b->measure_end);
        if (b->phase == PHASE_TRAFFIC && now >= b->measure_end)
            break;
    }
}

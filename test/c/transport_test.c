/* transport_test: conn with a fake owner (close, linger, backpressure) and group with a fake owner
 * (closing, unthreaded and threaded), on a private libuv loop over real loopback sockets. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "group.h"

#define CHECK(cond, what)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "transport_test: %s:%d: %s\n", __FILE__, __LINE__, what); \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

/* A hang detector only: every wait below ends on an event long before. */
#define HANG_MS 10000

static uv_loop_t loop;
static uv_timer_t waker;   /* wakes uv_run so that a wait can see its deadline or another thread's flag */
static engine_t engine;

/* The test's end of a connection: a libuv stream on the same loop that records what it receives. */
typedef struct peer {
    uv_tcp_t tcp;
    char *got;
    size_t ngot, cap;
    bool eof, closed;
} peer_t;

static void _waker_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until cond holds (set by a callback, or atomically by another thread). */
#define WAIT(cond, what)                                                \
    do {                                                                \
        uint64_t deadline_ = uv_now(&loop) + HANG_MS;                   \
        while (!(cond)) {                                               \
            CHECK(uv_now(&loop) < deadline_, "hang: " what);            \
            uv_run(&loop, UV_RUN_ONCE);                                 \
        }                                                               \
    } while (0)
#define FLAG(name) __atomic_load_n(&(name), __ATOMIC_ACQUIRE)

/* A connected pair of loopback sockets, through a listener that is closed again. */
static void _socket_pair(int *client, int *server)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    /* Small socket buffers, so that a peer that does not read holds back the server's replies soon. */
    int small = 64 * 1024;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0 && setsockopt(listener, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0, "sndbuf");
    CHECK(setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0, "rcvbuf");
    CHECK(bind(listener, (struct sockaddr *)&addr, sizeof(addr)) == 0, "bind");
    CHECK(listen(listener, 1) == 0 && getsockname(listener, (struct sockaddr *)&addr, &len) == 0, "listen");
    *client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(*client >= 0 && setsockopt(*client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0, "rcvbuf");
    CHECK(connect(*client, (struct sockaddr *)&addr, sizeof(addr)) == 0, "connect");
    *server = accept(listener, NULL, NULL);
    CHECK(*server >= 0, "accept");
    close(listener);
}

static void _peer_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    peer_t *p = (peer_t *)h;
    *out = uv_buf_init(p->got + p->ngot, (unsigned int)(p->cap - p->ngot));
}

static void _peer_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    peer_t *p = (peer_t *)s;
    if (n > 0)
        p->ngot += (size_t)n;
    else if (n < 0)
        p->eof = true;
    CHECK(p->ngot < p->cap, "peer buffer full");
}

static void _peer_open(peer_t *p, int fd, size_t cap)
{
    *p = (peer_t){.got = malloc(cap), .cap = cap};
    CHECK(p->got != NULL, "peer buffer");
    CHECK(uv_tcp_init(&loop, &p->tcp) == 0 && uv_tcp_open(&p->tcp, fd) == 0, "peer open");
}

static void _peer_read(peer_t *p)
{
    CHECK(uv_read_start((uv_stream_t *)&p->tcp, _peer_alloc_cb, _peer_read_cb) == 0, "peer read");
}

/* Sends bytes; the write is synchronous from the test's point of view (it fits the socket buffer). */
static void _peer_send(peer_t *p, const char *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned int)len);
    CHECK(uv_try_write((uv_stream_t *)&p->tcp, &buf, 1) == (int)len, "peer send");
}

static void _peer_close_cb(uv_handle_t *h)
{
    peer_t *p = (peer_t *)h;
    free(p->got);
    p->closed = true;
}

/* Closes the peer's socket and waits until its handle is gone. */
static void _peer_close(peer_t *p)
{
    uv_close((uv_handle_t *)&p->tcp, _peer_close_cb);
    WAIT(p->closed, "peer handle closes");
}

/* The fake owner of one connection: records the events conn tells it. */
static int closed_calls, lingering_calls;
static char read_scratch[64 * 1024];
static buf_t out_scratch;

static void _owner_closed(conn_t *c, void *data)
{
    CHECK(data == &engine, "owner data");
    closed_calls++;
    protocol_end(&c->session);
    free(c);
}

static void _owner_lingering(conn_t *c, void *data)
{
    (void)c;
    CHECK(data == &engine, "owner data");
    lingering_calls++;
}

static conn_owner_t fake_owner = {.closed = _owner_closed, .lingering = _owner_lingering, .data = &engine,
                                         .read_scratch = read_scratch, .read_scratch_size = sizeof(read_scratch),
                                         .out_scratch = &out_scratch};

static engine_stats_t conn_stats;

/* A conn served on the test's loop for the server end of a fresh socket pair; p is the client. */
static conn_t *_conn_open(peer_t *p, size_t cap)
{
    int client, server;
    _socket_pair(&client, &server);
    _peer_open(p, client, cap);
    conn_t *c = calloc(1, sizeof(conn_t));
    CHECK(c != NULL && uv_tcp_init(&loop, &c->tcp) == 0 && uv_tcp_open(&c->tcp, server) == 0, "conn tcp");
    protocol_start(&c->session, &engine, PROTOCOL_MEMCACHED);
    c->session.stats = &conn_stats;
    closed_calls = lingering_calls = 0;
    CHECK(conn_start(c, &fake_owner) == 0, "conn_start");
    return c;
}

static bool _got(const peer_t *p, const char *want)
{
    return p->ngot == strlen(want) && memcmp(p->got, want, p->ngot) == 0;
}

/* The peer ends its side: the commands already sent are answered, then the connection closes and
 * its owner hears it once, with no linger (the peer is gone). */
static void test_close_after_peer_eof(void)
{
    static peer_t p;
    static uv_shutdown_t shutdown_req;
    _conn_open(&p, 4096);
    _peer_read(&p);
    const char cmds[] = "set a 0 0 1\r\nx\r\nget a\r\n";
    _peer_send(&p, cmds, sizeof(cmds) - 1);
    CHECK(uv_shutdown(&shutdown_req, (uv_stream_t *)&p.tcp, NULL) == 0, "peer shutdown");
    WAIT(closed_calls > 0 && p.eof, "conn closes after the peer's EOF");
    CHECK(_got(&p, "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"), "replies before the close");
    CHECK(closed_calls == 1 && lingering_calls == 0, "closed once, no linger");
    _peer_close(&p);
}

/* quit: the reply so far is sent, then a FIN; the connection lingers, discarding what the peer still
 * sends, until the peer closes; then its owner hears closed. */
static void test_linger_after_quit(void)
{
    static peer_t p;
    conn_t *c = _conn_open(&p, 4096);
    _peer_read(&p);
    const char cmds[] = "version\r\nquit\r\n";
    _peer_send(&p, cmds, sizeof(cmds) - 1);
    WAIT(lingering_calls > 0 && p.eof, "conn lingers after quit, the peer sees EOF");
    CHECK(c->stage == CONN_LINGERING, "the lingering stage");
    CHECK(_got(&p, "VERSION " ENGINE_VERSION "\r\n"), "the version reply, then EOF");
    CHECK(lingering_calls == 1 && closed_calls == 0, "lingering, not closed yet");
    uint64_t gets = conn_stats.cmd_get;
    const char more[] = "get a\r\n";
    _peer_send(&p, more, sizeof(more) - 1);
    _peer_close(&p);
    WAIT(closed_calls > 0, "conn closes once the peer does");
    CHECK(conn_stats.cmd_get == gets, "input while lingering is not executed");
    CHECK(closed_calls == 1 && lingering_calls == 1, "closed once");
}

/* A peer that does not read: once the unsent output passes the mark, the connection stops executing
 * the commands it has received; when the peer reads, every reply arrives, in order. */
static void test_backpressure(void)
{
    enum { VALUE = 100 * 1024, GETS = 64 };
    static peer_t p;
    static char cmds[VALUE + 64 + GETS * 16];
    static uv_write_t req;
    conn_t *c = _conn_open(&p, (size_t)GETS * (VALUE + 64));
    size_t n = (size_t)sprintf(cmds, "set big 0 0 %d noreply\r\n", VALUE);
    memset(cmds + n, 'v', VALUE);
    n += VALUE;
    n += (size_t)sprintf(cmds + n, "\r\n");
    for (int i = 0; i < GETS; i++)
        n += (size_t)sprintf(cmds + n, "get big\r\n");
    uint64_t gets_before = conn_stats.cmd_get;
    uv_buf_t buf = uv_buf_init(cmds, (unsigned int)n);
    CHECK(uv_write(&req, (uv_stream_t *)&p.tcp, &buf, 1, NULL) == 0, "peer write");
    /* The conn holds commands it has not executed while it owes output past the mark. */
    WAIT(c->io != NULL && buf_len(&c->io->in) > 0 && conn_pending_output(c) >= CONN_OUTPUT_HIGH_WATER,
         "conn stalls at the output mark");
    uint64_t executed = conn_stats.cmd_get - gets_before;
    CHECK(executed > 0 && executed < GETS, "commands past the mark wait");
    _peer_read(&p);
    char reply[VALUE + 64];
    size_t one = (size_t)sprintf(reply, "VALUE big 0 %d\r\n", VALUE);
    memset(reply + one, 'v', VALUE);
    one += VALUE;
    one += (size_t)sprintf(reply + one, "\r\nEND\r\n");
    WAIT(p.ngot >= one * GETS, "every reply arrives once the peer reads");
    CHECK(p.ngot == one * GETS && conn_stats.cmd_get - gets_before == GETS, "every get answered once");
    for (int i = 0; i < GETS; i++)
        CHECK(memcmp(p.got + (size_t)i * one, reply, one) == 0, "replies intact and in order");
    _peer_close(&p);
    WAIT(closed_calls > 0, "conn closes once the peer does");
}

/* A peer that reads nothing while a large reply is owed: with a ring the send waits in the kernel.
 * Closing the connection then cancels it, and its owner hears closed once the kernel lets go. */
static void test_abort_while_sending(void)
{
    enum { VALUE = 512 * 1024 };
    static peer_t p;
    static char cmds[VALUE + 64];
    static uv_write_t req;
    conn_t *c = _conn_open(&p, 64);
    size_t n = (size_t)sprintf(cmds, "set big 0 0 %d noreply\r\n", VALUE);
    memset(cmds + n, 'v', VALUE);
    n += VALUE;
    n += (size_t)sprintf(cmds + n, "\r\nget big\r\nget big\r\n");
    uv_buf_t buf = uv_buf_init(cmds, (unsigned int)n);
    CHECK(uv_write(&req, (uv_stream_t *)&p.tcp, &buf, 1, NULL) == 0, "peer write");
    WAIT(conn_pending_output(c) > 0 && (fake_owner.ring == NULL || c->ring_sending), "a reply waits for the peer");
    conn_abort(c);
    WAIT(closed_calls > 0, "the owner hears closed");
    CHECK(closed_calls == 1, "closed once");
    _peer_close(&p);
}

/* The fake owner of a group. */
static int group_conns_gone, group_closed, group_thread_ended;

static void _group_conn_gone(void *data)
{
    CHECK(data == &engine, "group owner data");
    __atomic_add_fetch(&group_conns_gone, 1, __ATOMIC_ACQ_REL);
}

static void _group_closed(void *data)
{
    CHECK(data == &engine, "group owner data");
    __atomic_store_n(&group_closed, 1, __ATOMIC_RELEASE);
}

static void _group_thread_ended(void *data)
{
    CHECK(data == &engine, "group owner data");
    __atomic_store_n(&group_thread_ended, 1, __ATOMIC_RELEASE);
}

static const group_owner_t fake_group_owner = {
    .conn_gone = _group_conn_gone, .closed = _group_closed, .thread_ended = _group_thread_ended};

/* A group serves two connections, then closes: each connection's replies are sent, the owner hears
 * conn_gone for each and then closed (or thread_ended), and nothing is left open on any loop. */
static void test_group(bool threaded)
{
    group_t *g = calloc(1, sizeof(group_t));
    CHECK(g != NULL, "calloc group");
    group_conns_gone = group_closed = group_thread_ended = 0;
    CHECK(group_start(g, &fake_group_owner, &engine, &engine, &loop, threaded, 0, 0) == 0, "group_start");
    static peer_t peers[2];
    for (int i = 0; i < 2; i++) {
        int client, server;
        _socket_pair(&client, &server);
        _peer_open(&peers[i], client, 4096);
        _peer_read(&peers[i]);
        if (threaded) {
            CHECK(group_hand_over(g, server, PROTOCOL_MEMCACHED, false) == 0, "group_hand_over");
        } else {
            conn_t *c = calloc(1, sizeof(conn_t));
            CHECK(c != NULL && uv_tcp_init(&loop, &c->tcp) == 0 && uv_tcp_open(&c->tcp, server) == 0, "adopt tcp");
            group_adopt(g, c, PROTOCOL_MEMCACHED);
        }
        const char cmd[] = "version\r\n";
        _peer_send(&peers[i], cmd, sizeof(cmd) - 1);
    }
    const char want[] = "VERSION " ENGINE_VERSION "\r\n";
    for (int i = 0; i < 2; i++) {
        WAIT(peers[i].ngot >= sizeof(want) - 1, "the group answers");
        CHECK(_got(&peers[i], want), "version reply");
    }
    group_close(g);
    /* The connections send FIN and linger; the peers close when they see it. */
    for (int i = 0; i < 2; i++) {
        WAIT(peers[i].eof, "the group's connections send FIN");
        _peer_close(&peers[i]);
    }
    WAIT(threaded ? FLAG(group_thread_ended) : FLAG(group_closed), "the group finishes");
    if (threaded) {
        group_join(g);
        CHECK(g->joined, "joined");
    }
    CHECK(FLAG(group_conns_gone) == 2, "conn_gone for each connection");
    CHECK(group_closed == !threaded && group_thread_ended == threaded, "the event of its kind");
    free(g);
}

static bool ring_closed;

static void _ring_closed(conn_ring_t *cr, void *data)
{
    (void)cr;
    (void)data;
    ring_closed = true;
}

int main(void)
{
    engine_config_t config = {64u << 20, 1u << 20, 1, 1};
    CHECK(engine_init(&engine, &config) == 0, "engine_init");
    CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
    CHECK(uv_timer_init(&loop, &waker) == 0 && uv_timer_start(&waker, _waker_cb, 50, 50) == 0, "waker");
    /* The connection tests run with libuv's reads and writes, then (where the kernel has io_uring)
     * with the sends batched on a ring, then with the receives on it too, as a group serves them. */
    static conn_ring_t ring;
    bool ring_receives = false;
    setenv("SIMPLECACHED_IO_URING", "receives", 1);
    for (int mode = 0; mode < 3; mode++) {
        if (mode == 1 && conn_ring_start(&ring, &loop, conn_ring_sent, conn_ring_received) != 0) {
            printf("transport_test: no io_uring here, ring-batched sends not tested\n");
            break;
        }
        if (mode == 1)
            ring_receives = ring.receives;
        if (mode == 2 && !ring_receives) {
            printf("transport_test: no provided buffers here, receives on the ring not tested\n");
            break;
        }
        ring.receives = mode == 2;
        fake_owner.ring = mode > 0 ? &ring : NULL;
        test_close_after_peer_eof();
        test_linger_after_quit();
        test_backpressure();
        test_abort_while_sending();
    }
    if (fake_owner.ring) {
        fake_owner.ring = NULL;
        conn_ring_close(&ring, _ring_closed, NULL);
        WAIT(ring_closed, "the ring closes");
    }
    test_group(false);
    test_group(true);
    uv_close((uv_handle_t *)&waker, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0, "every handle closed");
    buf_free(&out_scratch);
    engine_destroy(&engine);
    printf("transport_test: all checks passed\n");
    return 0;
}

/* conn.c - the connections' sockets: opened blocking, then non-blocking under epoll; sends what is queued
 * (asking for EPOLLOUT only while the socket is full) and reads replies in, handing them to run.c. */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK 16384

/* Blocking connect keeps setup simple (loopback connects are immediate); the socket
 * goes non-blocking afterwards for the event loop. */
static int connect_local(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "loadgen: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "loadgen: connect unix:%s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int connect_to(const struct options *o)
{
    if (o->socket)
        return connect_local(o->socket);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", o->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            fprintf(stderr, "loadgen: connect %s:%s: %s\n", o->host, o->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Each queue slot owns a fixed run of key_store, so enqueueing a get never allocates. */
static bool alloc_queue(struct conn *c, unsigned depth, unsigned keys_per_request)
{
    c->queue_cap = depth;
    c->queue = calloc(depth, sizeof *c->queue);
    c->key_store = calloc((size_t)depth * keys_per_request, sizeof *c->key_store);
    if (!c->queue || !c->key_store)
        return false;
    for (unsigned i = 0; i < depth; i++)
        c->queue[i].keys = c->key_store + (size_t)i * keys_per_request;
    return true;
}

bool conn_open_all(struct bench *b)
{
    const struct options *o = &b->opt;
    b->conns = calloc((size_t)o->conns, sizeof *b->conns);
    if (!b->conns)
        return false;
    unsigned depth = (unsigned)(o->pipeline > PRELOAD_DEPTH ? o->pipeline : PRELOAD_DEPTH);
    for (int i = 0; i < o->conns; i++) {
        struct conn *c = &b->conns[i];
        c->fd = connect_to(o);
        if (c->fd < 0)
            return false;
        c->preload_next = (uint32_t)i;
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!alloc_queue(c, depth, (unsigned)o->multiget) || epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            return false;
    }
    return true;
}

static void set_want_write(struct bench *b, struct conn *c, bool want)
{
    if (c->want_write == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail(b, "epoll_ctl: %s", strerror(errno));
    c->want_write = want;
}

void conn_flush(struct bench *b, struct conn *c)
{
    while (c->out.start < c->out.end) {
        ssize_t n = send(c->fd, c->out.data + c->out.start, c->out.end - c->out.start, MSG_NOSIGNAL);
        if (n > 0) {
            buffer_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_write(b, c, true);
            return;
        } else {
            fail(b, "send: %s", strerror(errno));
            return;
        }
    }
    set_want_write(b, c, false);
}

/* Level-triggered epoll: stopping after a short read is safe because leftover data re-arms
 * EPOLLIN, and it saves the recv() that would only return EAGAIN. */
void conn_read(struct bench *b, struct conn *c)
{
    for (;;) {
        buffer_reserve(&c->in, READ_CHUNK);
        size_t room = c->in.cap - c->in.end;
        ssize_t n = recv(c->fd, c->in.data + c->in.end, room, 0);
        if (n == 0) {
            fail(b, "server closed a connection");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fail(b, "recv: %s", strerror(errno));
            return;
        }
        c->in.end += (size_t)n;
        run_on_input(b, c, now_ns());
        if ((size_t)n < room || b->failed)
            return;
    }
}

/* epoll.c - the floor's epoll loop: level-triggered, one read per readable connection and its
 * replies written at once with writev, as memcached's worker does. */
#include "floor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

/* Writes what it can; false when the connection failed. */
static bool conn_flush(struct conn *c)
{
    struct iovec iov[IOV_BATCH];
    int n;
    while ((n = conn_pending(c, iov)) > 0) {
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        conn_sent(c, (size_t)w);
    }
    return true;
}

static bool set_events(int epfd, struct conn *c, bool want_write)
{
    if (c->want_write == want_write)
        return true;
    c->want_write = want_write;
    struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* One read (level-triggered epoll calls again while bytes remain). */
static bool conn_readable(struct conn *c)
{
    static char in[READ_SIZE];
    struct iovec iov[2];
    int niov = conn_read_iov(c, iov, in, sizeof in);
    ssize_t n = readv(c->fd, iov, niov);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    return n > 0 && conn_got(c, niov, in, (size_t)n);
}

static void conn_event(int epfd, struct conn *c, uint32_t events)
{
    bool ok = true;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        ok = conn_readable(c);
    ok = ok && conn_flush(c);
    ok = ok && set_events(epfd, c, c->sent_piece < c->npieces);
    if (!ok)
        conn_free(c);
}

static void accept_all(int epfd, int listener)
{
    struct conn *c;
    while ((c = conn_accept(listener)) != NULL) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            conn_free(c);
    }
}

void serve_epoll(int listener)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) < 0) {
        perror("floor: epoll");
        exit(1);
    }
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                accept_all(epfd, listener);
            else
                conn_event(epfd, events[i].data.ptr, events[i].events);
        }
    }
}

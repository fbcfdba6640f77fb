/* ring_test: csrc/ring.c on a socket pair — sendmsg, recvmsg into two buffers, a poll, waiting in
 * the ring, cancelling a receive that would never complete, provided buffers, a full queue. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ring.h"

#define UNAVAILABLE 77

/* Waits for the next completion, which must be tagged `tag`. */
static ring_done_t next_done(ring_t *r, uint64_t tag)
{
    ring_done_t done = {0};
    if (!ring_next(r, &done)) {
        CHECK(ring_wait(r, 1) == 0, "wait");
        CHECK(ring_next(r, &done), "a completion after waiting for one");
    }
    CHECK(done.tag == tag, "completion tagged %llu, expected %llu", (unsigned long long)done.tag,
          (unsigned long long)tag);
    return done;
}

/* Waits for the next completion, which must be tagged `tag`; its result. */
static int32_t next_of(ring_t *r, uint64_t tag)
{
    return next_done(r, tag).result;
}

static void test_send_poll_recv(ring_t *r, int a, int b)
{
    char text[] = "hello, ring";
    struct iovec out = {.iov_base = text, .iov_len = sizeof text - 1};
    struct msghdr send_msg = {.msg_iov = &out, .msg_iovlen = 1};
    CHECK(ring_sendmsg(r, a, &send_msg, 1), "sendmsg queued");
    CHECK(ring_queued(r) == 1, "one queued");
    CHECK(next_of(r, 1) == (int32_t)(sizeof text - 1), "sent whole");
    CHECK(ring_queued(r) == 0, "nothing queued after the wait");

    CHECK(ring_poll(r, b, POLLIN, 2), "poll queued");
    CHECK((next_of(r, 2) & POLLIN) != 0, "readable");

    char first[5], second[32];
    struct iovec in[2] = {{.iov_base = first, .iov_len = sizeof first}, {.iov_base = second, .iov_len = sizeof second}};
    struct msghdr recv_msg = {.msg_iov = in, .msg_iovlen = 2};
    CHECK(ring_recvmsg(r, b, &recv_msg, 3), "recvmsg queued");
    int32_t n = next_of(r, 3);
    CHECK(n == (int32_t)(sizeof text - 1), "received %d", n);
    CHECK(memcmp(first, "hello", 5) == 0 && memcmp(second, ", ring", 6) == 0, "in order across both buffers");
}

/* A receive with nothing to come stays in the kernel until cancelled; both complete. */
static void test_cancel(ring_t *r, int b)
{
    char buf[8];
    struct iovec in = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_iov = &in, .msg_iovlen = 1};
    CHECK(ring_recvmsg(r, b, &msg, 4), "recvmsg queued");
    CHECK(ring_submit(r) == 0, "submitted");
    ring_done_t done;
    CHECK(!ring_next(r, &done), "no completion while nothing is sent");
    CHECK(ring_cancel(r, 4), "cancel queued");
    bool cancelled = false, answered = false;
    for (int i = 0; i < 2 && !(cancelled && answered); i++) {
        CHECK(ring_wait(r, 1) == 0, "wait");
        while (ring_next(r, &done)) {
            if (done.tag == 4)
                cancelled = done.result == -ECANCELED || done.result == -EINTR;
            else if (done.tag == RING_TAG_NONE)
                answered = done.result == 0;
        }
    }
    CHECK(cancelled, "the receive ends cancelled");
    CHECK(answered, "the cancel completes");
}

/* recv into a given buffer, and into provided buffers: each completion names the buffer it
 * filled, none is free until given back (-ENOBUFS), and a buffer given back is picked again. */
static void test_recv_provided(ring_t *r, int a, int b)
{
    char given[4];
    CHECK(write(a, "abcdef", 6) == 6, "write");
    CHECK(ring_recv(r, b, given, sizeof given, 5), "recv queued");
    CHECK(next_of(r, 5) == 4 && memcmp(given, "abcd", 4) == 0, "recv fills the given buffer");

    int rc = ring_provide(r, 2, 8);
    if (rc != 0) {
        printf("ring_test: no provided buffers here (%s); skipped\n", strerror(-rc));
        return;
    }
    CHECK(ring_provide(r, 2, 8) == -EINVAL, "one group per ring");
    CHECK(ring_recv_provided(r, b, 6), "provided recv queued");
    ring_done_t first = next_done(r, 6);
    CHECK(first.result == 2 && first.buffer >= 0 && memcmp(ring_buffer(r, first.buffer), "ef", 2) == 0,
          "the rest lands in a provided buffer (%d bytes, buffer %d)", first.result, first.buffer);

    CHECK(write(a, "0123456789", 10) == 10, "write");
    CHECK(ring_recv_provided(r, b, 7), "provided recv queued");
    ring_done_t second = next_done(r, 7);
    CHECK(second.result == 8 && second.buffer >= 0 && second.buffer != first.buffer, "a buffer's worth, in the other");
    CHECK(ring_recv_provided(r, b, 8), "provided recv queued");
    CHECK(next_done(r, 8).result == -ENOBUFS, "none free: ENOBUFS");

    ring_give_back(r, first.buffer);
    CHECK(ring_recv_provided(r, b, 9), "provided recv queued");
    ring_done_t third = next_done(r, 9);
    CHECK(third.result == 2 && third.buffer == first.buffer && memcmp(ring_buffer(r, third.buffer), "89", 2) == 0,
          "the buffer given back is picked again");
}

/* More sends than the queue holds: the full queue is handed over on the way, none is lost. */
static void test_full_queue(int a, int b)
{
    ring_t *r = ring_create(4, false);
    CHECK(r != NULL, "small ring");
    if (r == NULL)
        return;
    char byte = 'x';
    struct iovec out = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &out, .msg_iovlen = 1};
    enum { SENDS = 20 };
    for (int i = 0; i < SENDS; i++)
        CHECK(ring_sendmsg(r, a, &msg, (uint64_t)(100 + i)), "send %d queued", i);
    int done = 0, bytes = 0;
    while (done < SENDS) {
        ring_done_t one;
        while (ring_next(r, &one)) {
            done++;
            bytes += one.result;
        }
        if (done < SENDS && ring_wait(r, 1) != 0)
            break;
    }
    CHECK(done == SENDS && bytes == SENDS, "%d completions, %d bytes", done, bytes);
    char in[SENDS + 1];
    CHECK(read(b, in, sizeof in) == SENDS, "the peer got every byte");
    ring_destroy(r);
}

int main(void)
{
    /* A completion that never comes would wait forever: fail instead. */
    alarm(60);
    ring_t *r = ring_create(64, true);
    if (r == NULL) {
        printf("ring_test: io_uring unavailable here: %s\n", strerror(errno));
        return UNAVAILABLE;
    }
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    test_send_poll_recv(r, pair[0], pair[1]);
    test_cancel(r, pair[1]);
    test_recv_provided(r, pair[0], pair[1]);
    test_full_queue(pair[0], pair[1]);
    ring_destroy(r);
    close(pair[0]);
    close(pair[1]);
    if (failures > 0) {
        fprintf(stderr, "ring_test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("ring_test: all checks passed\n");
    return 0;
}

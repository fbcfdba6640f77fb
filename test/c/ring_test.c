/* ring_test: csrc/ring.c on a socket pair — sendmsg, recvmsg into two buffers, a poll, waiting in
 * the ring, cancelling a receive that would never complete, and a full queue handed over. */
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

/* Waits for the next completion, which must be tagged `tag`; its result. */
static int32_t next_of(ring_t *r, uint64_t tag)
{
    uint64_t got = 0;
    int32_t result = 0;
    if (!ring_next(r, &got, &result)) {
        CHECK(ring_wait(r, 1) == 0, "wait");
        CHECK(ring_next(r, &got, &result), "a completion after waiting for one");
    }
    CHECK(got == tag, "completion tagged %llu, expected %llu", (unsigned long long)got, (unsigned long long)tag);
    return result;
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
    uint64_t tag;
    int32_t result;
    CHECK(!ring_next(r, &tag, &result), "no completion while nothing is sent");
    CHECK(ring_cancel(r, 4), "cancel queued");
    bool cancelled = false, answered = false;
    for (int i = 0; i < 2 && !(cancelled && answered); i++) {
        CHECK(ring_wait(r, 1) == 0, "wait");
        while (ring_next(r, &tag, &result)) {
            if (tag == 4)
                cancelled = result == -ECANCELED || result == -EINTR;
            else if (tag == RING_TAG_NONE)
                answered = result == 0;
        }
    }
    CHECK(cancelled, "the receive ends cancelled");
    CHECK(answered, "the cancel completes");
}

/* More sends than the queue holds: the full queue is handed over on the way, none is lost. */
static void test_full_queue(int a, int b)
{
    ring_t *r = ring_create(4);
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
        uint64_t tag;
        int32_t result;
        while (ring_next(r, &tag, &result)) {
            done++;
            bytes += result;
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
    ring_t *r = ring_create(64);
    if (r == NULL) {
        printf("ring_test: io_uring unavailable here: %s\n", strerror(errno));
        return UNAVAILABLE;
    }
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    test_send_poll_recv(r, pair[0], pair[1]);
    test_cancel(r, pair[1]);
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

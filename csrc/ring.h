/* ring: a minimal io_uring, through the raw system calls (no liburing at build or run time): one
 * submission and one completion queue, used by one thread, to batch a loop's sends into one call
 * (and, in bench/floor, to run a whole server's reads and writes).
 * Where the kernel has no io_uring, or forbids it (sysctl, seccomp), ring_create() says so. */
#ifndef SC_RING_H
#define SC_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct ring ring_t;

/* A ring of `entries` submissions and an eventfd that becomes readable when completions wait.
 * `deferred`: completions are posted only when the owner enters the ring (fewest interruptions,
 * for a thread that sleeps in ring_wait); else as soon as the thread enters the kernel, so that
 * the eventfd wakes a loop that sleeps elsewhere at once. NULL, with errno set, when io_uring is
 * not available. */
ring_t *ring_create(unsigned entries, bool deferred);

/* Unmaps and closes. Requests still in the kernel complete there, their results unread. */
void ring_destroy(ring_t *r);

/* Readable when completions may be waiting (read it empty with ring_clear_wakeup). */
int ring_wakeup_fd(const ring_t *r);
void ring_clear_wakeup(ring_t *r);
/* Makes the eventfd readable, for completions the caller leaves to the loop. */
void ring_wake(ring_t *r);

/* Queues sendmsg(fd, msg, MSG_NOSIGNAL) tagged `tag`; msg and what it points to must stay put
 * until the completion. A full queue is submitted first to make room; false when the kernel
 * would not take it. */
bool ring_sendmsg(ring_t *r, int fd, const struct msghdr *msg, uint64_t tag);

/* Queues recvmsg(fd, msg, 0) tagged `tag`, its buffers to stay put until the completion. */
bool ring_recvmsg(ring_t *r, int fd, struct msghdr *msg, uint64_t tag);

/* Queues recv(fd, buf, len, 0) tagged `tag`; buf stays put until the completion. */
bool ring_recv(ring_t *r, int fd, void *buf, size_t len, uint64_t tag);

/* Gives the ring `count` (a power of two) buffers of `size` bytes that receives may pick from, so
 * that a socket waiting for input holds no memory of its own. 0 or -errno (the kernel predates
 * provided-buffer rings, 5.19). Freed with the ring. */
int ring_provide(ring_t *r, unsigned count, size_t size);

/* Queues a receive into whichever provided buffer is free when bytes come: its completion names
 * the buffer, the caller's until ring_give_back(); -ENOBUFS when none was free. */
bool ring_recv_provided(ring_t *r, int fd, uint64_t tag);
char *ring_buffer(const ring_t *r, int id);
void ring_give_back(ring_t *r, int id);

/* Queues a one-shot poll of fd for poll_events (POLLIN...), whose result is the events seen. */
bool ring_poll(ring_t *r, int fd, unsigned poll_events, uint64_t tag);

/* Queues a cancellation of the request tagged `tag` (making room as ring_sendmsg does); its own
 * completion is tagged RING_TAG_NONE. */
bool ring_cancel(ring_t *r, uint64_t tag);
#define RING_TAG_NONE 0

/* Completions the queue had no room for wait in the kernel: the next ring_submit() (or
 * ring_wait()) brings them in. */
bool ring_backlog(const ring_t *r);

/* Submissions queued and not yet handed to the kernel. */
unsigned ring_queued(const ring_t *r);

/* Hands the queue to the kernel, which runs what it can at once, and has it post the completions
 * of earlier requests that finished since. One system call. 0 or -errno. */
int ring_submit(ring_t *r);

/* Hands the queue to the kernel and sleeps until `wait` completions are posted: one system call
 * per turn for a loop that runs on the ring alone. 0 or -errno. */
int ring_wait(ring_t *r, unsigned wait);

/* A request ended: its tag, its result (bytes, events, or -errno), and the provided buffer it filled
 * (-1 for none). */
typedef struct ring_done {
    uint64_t tag;
    int32_t result;
    int buffer;
} ring_done_t;

/* Takes the next completion: false when none is waiting. */
bool ring_next(ring_t *r, ring_done_t *done);

#endif

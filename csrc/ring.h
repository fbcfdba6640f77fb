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

/* A ring of `entries` submissions, completions posted when the owner asks (deferred task work,
 * where the kernel has it) and an eventfd that becomes readable when completions wait. NULL, with
 * errno set, when io_uring is not available. */
ring_t *ring_create(unsigned entries);

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

/* Queues a one-shot poll of fd for poll_events (POLLIN...), whose result is the events seen. */
bool ring_poll(ring_t *r, int fd, unsigned poll_events, uint64_t tag);

/* Queues a cancellation of the request tagged `tag` (making room as ring_sendmsg does); its own
 * completion is tagged RING_TAG_NONE. */
bool ring_cancel(ring_t *r, uint64_t tag);
#define RING_TAG_NONE 0

/* Submissions queued and not yet handed to the kernel. */
unsigned ring_queued(const ring_t *r);

/* Hands the queue to the kernel, which runs what it can at once, and has it post the completions
 * of earlier requests that finished since. One system call. 0 or -errno. */
int ring_submit(ring_t *r);

/* Hands the queue to the kernel and sleeps until `wait` completions are posted: one system call
 * per turn for a loop that runs on the ring alone. 0 or -errno. */
int ring_wait(ring_t *r, unsigned wait);

/* Takes the next completion: false when none is waiting. */
bool ring_next(ring_t *r, uint64_t *tag, int32_t *result);

#endif

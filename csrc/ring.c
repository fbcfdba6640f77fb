/* ring: io_uring set up and driven through its three system calls and its shared memory. The
 * queues are single-producer single-consumer between this thread and the kernel: only the tails we
 * publish and the heads we read need ordering (release on publish, acquire on read). */
#include "ring.h"

#if defined(__linux__)
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
    int fd;
    int wakeup_fd;
    void *sq_map, *cq_map;
    size_t sq_map_size, cq_map_size;
    struct io_uring_sqe *sqes;
    size_t sqes_size;
    unsigned *sq_head, *sq_tail, sq_mask, sq_entries;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_cqe *cqes;
    unsigned *sq_flags, *cq_flags;
    bool taskrun_flag;           /* the kernel shows deferred work pending in *sq_flags */
    struct io_uring_buf_ring *provided; /* ring_provide's buffer ring (NULL: none), then its memory */
    size_t provided_map_size;
    char *provided_memory;
    size_t provided_size;
    unsigned provided_mask;
    unsigned tail;               /* our copy of the submission tail, published at ring_submit() */
    unsigned submitted;          /* up to where the kernel has been handed the queue */
};

/* Completion entries per submission entry: 16 bytes each. */
#define RING_CQ_PER_SQ 16

static int _setup(unsigned entries, bool deferred, struct io_uring_params *p)
{
    /* Deferred task work (Linux 6.1) runs completions only when we ask, in a batch: without it the
     * kernel runs each as it comes, interrupting the thread. But its eventfd wakeup for a request
     * that completes from the network (a receive) comes an RCU grace period late (~10-20 ms here,
     * Linux 6.18), so a loop woken by the eventfd asks for cooperative task work instead: run at
     * the thread's next entry to the kernel, which a sleeping thread is woken for. Older kernels
     * get the plain ring. */
    static const unsigned deferred_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        0,
    };
    static const unsigned prompt_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    _Static_assert(sizeof(deferred_sets) == sizeof(prompt_sets), "one loop walks either table");
    const unsigned *flag_sets = deferred ? deferred_sets : prompt_sets;
    int fd = -1;
    for (size_t i = 0; i < sizeof(deferred_sets) / sizeof(deferred_sets[0]) && fd < 0; i++) {
        memset(p, 0, sizeof(*p));
        /* Room for a completion per request of thousands of connections (a shutdown cancels them
         * all at once); what does not fit waits in the kernel (ring_backlog). */
        p->flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        p->cq_entries = entries * RING_CQ_PER_SQ;
        fd = (int)syscall(__NR_io_uring_setup, entries, p);
        if (fd < 0 && errno != EINVAL)
            break;
    }
    return fd;
}

static int _map(ring_t *r, const struct io_uring_params *p)
{
    r->sq_map_size = p->sq_off.array + p->sq_entries * sizeof(unsigned);
    r->cq_map_size = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
    bool single = (p->features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single && r->cq_map_size > r->sq_map_size)
        r->sq_map_size = r->cq_map_size;
    r->sq_map = mmap(NULL, r->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED) {
        r->sq_map = NULL;
        return -1;
    }
    r->cq_map = single ? r->sq_map : mmap(NULL, r->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                                         IORING_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED) {
        r->cq_map = NULL;
        return -1;
    }
    r->sqes_size = p->sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) {
        r->sqes = NULL;
        return -1;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p->sq_off.head);
    r->sq_tail = (unsigned *)(sq + p->sq_off.tail);
    r->sq_mask = *(unsigned *)(sq + p->sq_off.ring_mask);
    r->sq_entries = p->sq_entries;
    r->cq_head = (unsigned *)(cq + p->cq_off.head);
    r->cq_tail = (unsigned *)(cq + p->cq_off.tail);
    r->cq_mask = *(unsigned *)(cq + p->cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
    r->sq_flags = (unsigned *)(sq + p->sq_off.flags);
    r->cq_flags = (unsigned *)(cq + p->cq_off.flags);
    r->taskrun_flag = (p->flags & IORING_SETUP_TASKRUN_FLAG) != 0;
    /* Slot i always names submission i: the indirection array is set once. */
    unsigned *array = (unsigned *)(sq + p->sq_off.array);
    for (unsigned i = 0; i < p->sq_entries; i++)
        array[i] = i;
    r->tail = r->submitted = *r->sq_tail;
    return 0;
}

ring_t *ring_create(unsigned entries, bool deferred)
{
    ring_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->wakeup_fd = -1;
    struct io_uring_params p;
    r->fd = _setup(entries, deferred, &p);
    int err = errno;
    if (r->fd >= 0 && _map(r, &p) == 0 && (r->wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0 &&
        syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_EVENTFD, &r->wakeup_fd, 1) == 0)
        return r;
    if (r->fd >= 0)
        err = errno;
    ring_destroy(r);
    errno = err;
    return NULL;
}

void ring_destroy(ring_t *r)
{
    if (r == NULL)
        return;
    if (r->sqes)
        munmap(r->sqes, r->sqes_size);
    if (r->cq_map && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_size);
    if (r->sq_map)
        munmap(r->sq_map, r->sq_map_size);
    if (r->wakeup_fd >= 0)
        close(r->wakeup_fd);
    if (r->fd >= 0)
        close(r->fd);
    /* After the ring: the kernel lets go of the buffers when it is closed. */
    if (r->provided)
        munmap(r->provided, r->provided_map_size);
    free(r->provided_memory);
    free(r);
}

int ring_wakeup_fd(const ring_t *r)
{
    return r->wakeup_fd;
}

void ring_clear_wakeup(ring_t *r)
{
    eventfd_t ignored;
    (void)eventfd_read(r->wakeup_fd, &ignored);
}

void ring_wake(ring_t *r)
{
    (void)eventfd_write(r->wakeup_fd, 1);
}

static bool _sq_full(ring_t *r)
{
    return r->tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries;
}

/* The next free entry; a full queue is handed to the kernel first. NULL if it would not take it. */
static struct io_uring_sqe *_next_sqe(ring_t *r)
{
    if (_sq_full(r) && (ring_submit(r) != 0 || _sq_full(r)))
        return NULL;
    return &r->sqes[r->tail & r->sq_mask];
}

/* Queues the request *req describes (opcode, fd, tag and the fields of its kind), the entry's
 * other fields zero. False when the queue is full and the kernel would not take it. */
static bool _queue(ring_t *r, const struct io_uring_sqe *req)
{
    struct io_uring_sqe *sqe = _next_sqe(r);
    if (sqe == NULL)
        return false;
    *sqe = *req;
    r->tail++;
    __atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
    return true;
}

bool ring_sendmsg(ring_t *r, int fd, const struct msghdr *msg, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_SENDMSG, .fd = fd, .addr = (uint64_t)(uintptr_t)msg,
                                             .len = 1, .msg_flags = MSG_NOSIGNAL, .user_data = tag});
}

bool ring_recvmsg(ring_t *r, int fd, struct msghdr *msg, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_RECVMSG, .fd = fd, .addr = (uint64_t)(uintptr_t)msg,
                                             .len = 1, .user_data = tag});
}

bool ring_recv(ring_t *r, int fd, void *buf, size_t len, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_RECV, .fd = fd, .addr = (uint64_t)(uintptr_t)buf,
                                             .len = (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX), .user_data = tag});
}

/* The provided buffers' group: a ring has one. */
#define RING_PROVIDED_GROUP 0

int ring_provide(ring_t *r, unsigned count, size_t size)
{
    if (r->provided || count == 0 || (count & (count - 1)) != 0 || count > 32768 || size > UINT32_MAX)
        return -EINVAL;
    /* The kernel reads the ring of buffer addresses from our pages; the buffers are plain memory. */
    size_t map_size = count * sizeof(struct io_uring_buf);
    void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    /* Zeroed: the kernel's writes into them are invisible to valgrind, which would otherwise take
     * every received byte for uninitialised memory. */
    char *memory = calloc(count, size);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)map, .ring_entries = count, .bgid = RING_PROVIDED_GROUP};
    if (memory == NULL || syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        int err = memory == NULL ? ENOMEM : errno;
        free(memory);
        munmap(map, map_size);
        return -err;
    }
    r->provided = map;
    r->provided_map_size = map_size;
    r->provided_memory = memory;
    r->provided_size = size;
    r->provided_mask = count - 1;
    for (unsigned id = 0; id < count; id++)
        ring_give_back(r, (int)id);
    return 0;
}

bool ring_recv_provided(ring_t *r, int fd, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_RECV, .fd = fd, .flags = IOSQE_BUFFER_SELECT,
                                             .buf_group = RING_PROVIDED_GROUP, .user_data = tag});
}

char *ring_buffer(const ring_t *r, int id)
{
    return r->provided_memory + (size_t)id * r->provided_size;
}

/* The buffer goes back at the ring's tail; the kernel sees it once the tail is published. */
void ring_give_back(ring_t *r, int id)
{
    struct io_uring_buf_ring *br = r->provided;
    uint16_t tail = br->tail;
    br->bufs[tail & r->provided_mask] = (struct io_uring_buf){
        .addr = (uint64_t)(uintptr_t)ring_buffer(r, id), .len = (uint32_t)r->provided_size, .bid = (uint16_t)id};
    __atomic_store_n(&br->tail, (uint16_t)(tail + 1), __ATOMIC_RELEASE);
}

bool ring_poll(ring_t *r, int fd, unsigned poll_events, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_POLL_ADD, .fd = fd, .poll32_events = poll_events,
                                             .user_data = tag});
}

bool ring_cancel(ring_t *r, uint64_t tag)
{
    return _queue(r, &(struct io_uring_sqe){.opcode = IORING_OP_ASYNC_CANCEL, .fd = -1, .addr = tag,
                                             .user_data = RING_TAG_NONE});
}

bool ring_backlog(const ring_t *r)
{
    return (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW) != 0;
}

unsigned ring_queued(const ring_t *r)
{
    return r->tail - r->submitted;
}

static int _enter(ring_t *r, unsigned n, unsigned wait)
{
    long rc;
    do
        rc = syscall(__NR_io_uring_enter, r->fd, n, wait, IORING_ENTER_GETEVENTS, NULL, 0);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    r->submitted += (unsigned)rc;
    return 0;
}

/* Submits what is queued and waits for `wait` completions with the eventfd quiet: what completes
 * while we are in the kernel is ours to reap right after, and would otherwise wake the loop once
 * more for nothing. The flags word is known to be there only where the task-run flag is; without
 * it the eventfd stays loud: a spare wakeup, never a missed one. */
static int _enter_quietly(ring_t *r, unsigned wait)
{
    if (!r->taskrun_flag)
        return _enter(r, r->tail - r->submitted, wait);
    __atomic_fetch_or(r->cq_flags, IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
    int rc = _enter(r, r->tail - r->submitted, wait);
    __atomic_fetch_and(r->cq_flags, ~(unsigned)IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
    return rc;
}

/* Work that arrives while the eventfd was quiet is seen in the flags after it (a full fence orders
 * our store before our load, as the kernel's atomic ops order its own) and run at once. */
int ring_submit(ring_t *r)
{
    int rc = _enter_quietly(r, 0);
    if (!r->taskrun_flag)
        return rc;
    for (int tries = 0; rc == 0 && (__atomic_load_n(r->sq_flags, __ATOMIC_SEQ_CST) & IORING_SQ_TASKRUN); tries++) {
        if (tries == 2) {
            /* Still more: let the loop come back for it rather than spin here. */
            ring_wake(r);
            break;
        }
        rc = _enter(r, 0, 0);
    }
    return rc;
}

int ring_wait(ring_t *r, unsigned wait)
{
    /* The eventfd wakes other loops for the ring; a thread asleep in the ring itself needs none. */
    return _enter_quietly(r, wait);
}

bool ring_next(ring_t *r, ring_done_t *done)
{
    unsigned head = *r->cq_head;
    if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
        return false;
    const struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
    done->tag = cqe->user_data;
    done->result = cqe->res;
    done->buffer = (cqe->flags & IORING_CQE_F_BUFFER) ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return true;
}

#else /* no io_uring: every caller takes its other path */
#include <errno.h>

ring_t *ring_create(unsigned entries, bool deferred)
{
    (void)entries;
    (void)deferred;
    errno = ENOSYS;
    return NULL;
}
void ring_destroy(ring_t *r) { (void)r; }
int ring_wakeup_fd(const ring_t *r) { (void)r; return -1; }
void ring_clear_wakeup(ring_t *r) { (void)r; }
void ring_wake(ring_t *r) { (void)r; }
bool ring_sendmsg(ring_t *r, int fd, const struct msghdr *msg, uint64_t tag) { (void)r; (void)fd; (void)msg; (void)tag; return false; }
bool ring_recvmsg(ring_t *r, int fd, struct msghdr *msg, uint64_t tag) { (void)r; (void)fd; (void)msg; (void)tag; return false; }
bool ring_poll(ring_t *r, int fd, unsigned poll_events, uint64_t tag) { (void)r; (void)fd; (void)poll_events; (void)tag; return false; }
bool ring_recv(ring_t *r, int fd, void *buf, size_t len, uint64_t tag) { (void)r; (void)fd; (void)buf; (void)len; (void)tag; return false; }
int ring_provide(ring_t *r, unsigned count, size_t size) { (void)r; (void)count; (void)size; return -ENOSYS; }
bool ring_recv_provided(ring_t *r, int fd, uint64_t tag) { (void)r; (void)fd; (void)tag; return false; }
char *ring_buffer(const ring_t *r, int id) { (void)r; (void)id; return NULL; }
void ring_give_back(ring_t *r, int id) { (void)r; (void)id; }
int ring_wait(ring_t *r, unsigned wait) { (void)r; (void)wait; return -ENOSYS; }
bool ring_cancel(ring_t *r, uint64_t tag) { (void)r; (void)tag; return false; }
unsigned ring_queued(const ring_t *r) { (void)r; return 0; }
bool ring_backlog(const ring_t *r) { (void)r; return false; }
int ring_submit(ring_t *r) { (void)r; return -ENOSYS; }
bool ring_next(ring_t *r, ring_done_t *done) { (void)r; (void)done; return false; }
#endif

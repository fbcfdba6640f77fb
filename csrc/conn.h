/* conn: one client connection on a libuv loop — its input and output buffers, its protocol session
 * and its flow control. It turns socket events into session_feed() calls and writes the replies.
 * It knows nothing of who serves it: what it tells and borrows goes through its conn_owner_t. */
#ifndef SC_CONN_H
#define SC_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "buf.h"
#include "bufref.h"
#include "session.h"

struct conn;
struct conn_ring;

/* Unsent output past which a connection is not read (nor its buffered input executed) until its
 * writes drain. A single reply may pass it; the next command then waits. Values sent from their
 * items count as output too, so this also bounds the item memory a slow reader pins. */
#define CONN_OUTPUT_HIGH_WATER (256 * 1024)
/* Free room offered to a read that continues an incomplete command. (A read with nothing pending
 * goes to the owner's shared scratch buffer instead.) */
#define CONN_READ_SIZE (16 * 1024)
/* The most room offered at once to a long incomplete command (see conn.c's _continuation_room). */
#define CONN_READ_MAX (1024 * 1024)
/* Bytes of a value left to an ordinary read instead of one straight into its item: a copy this
 * small saves the read that would bring the value's trailer alone. */
#define CONN_VALUE_TAIL 256
/* A value this large is copied from a read in part only: a connection that sends one then reads
 * CONN_READ_SIZE at a time when idle, not the whole scratch (a smaller value is copied whole, which
 * costs less than a read more). */
#define CONN_BIG_VALUE (32 * 1024)
/* Chunks of an output listed in place; a longer one is listed into an allocated array. */
#define CONN_IOV_LOCAL 16
/* The owner's reply scratch grows to the largest batch of replies; past this it is given back. */
#define CONN_OUT_SCRATCH_KEEP (256 * 1024)

/* What a connection tells, and borrows from, whoever serves its loop (a group, or a test). Given to
 * conn_start(); one per loop, shared by its connections, and it must outlive them. */
typedef struct conn_owner {
    /* The handle has closed and its buffers are freed: the owner unlinks and frees c. */
    void (*closed)(struct conn *c, void *data);
    /* c has sent its last reply and a FIN, and reads only to see the peer close: the owner aborts
     * it CONN_LINGER_MS after c->active_ms if the peer does not. */
    void (*lingering)(struct conn *c, void *data);
    void *data;
    /* One read buffer for the loop, lent to whichever connection reads with nothing pending. */
    char *read_scratch;
    size_t read_scratch_size;
    /* The loop's reply buffer: replies of the connection being served, until sent. */
    buf_t *out_scratch;
    /* The loop's io_uring, which carries every send, and the receives when ring->receives (see
     * conn_ring.h); NULL: libuv writes and reads. */
    struct conn_ring *ring;
    /* Buffers that connections gave back, for the next that needs them; NULL: none kept. */
    struct conn_io_cache *io_cache;
} conn_owner_t;

/* What a connection holds only while it has work in progress: input that is not a complete
 * command yet, replies the socket did not take at once, and the write carrying them. Allocated
 * when first needed and freed when all three are empty, so an idle connection owns no buffer. */
typedef struct conn_io {
    buf_t in;                   /* received, not yet executed */
    buf_t out;                  /* replies not yet handed to a write */
    buf_t writing;              /* the bytes of the write in flight; empty when none is */
    buf_refs_t refs[2];         /* the values out and writing send from their items (the two
                                 * swap as out becomes writing) */
    uv_write_t req;
    /* The send in flight on the ring: its message and list of chunks (in bufs_local, or
     * allocated), set only while the send is out. libuv lays uv_buf_t out as struct iovec on
     * Unix, so the list conn.c makes for uv_write serves sendmsg too. */
    struct msghdr msg;
    uv_buf_t *bufs;
    uv_buf_t bufs_local[CONN_IOV_LOCAL];
} conn_io_t;

/* A loop's spare conn_io_t, each with its reply buffer (of at most CONN_IO_KEEP bytes, room for
 * a reply with a value copied in, under VALUE_OUT_REF_MIN): with batched sends every request takes
 * buffers until its reply is sent, and reusing them saves two malloc/free pairs and the buffer's
 * regrowth per request. At most CONN_IO_SPARES are kept (about 0.5 MiB per loop). */
#define CONN_IO_SPARES 32
#define CONN_IO_KEEP (16 * 1024)
/* And the largest few input buffers (of at most CONN_LONG_KEEP bytes) that a long line grew past
 * CONN_BIG_VALUE: a seed set's value, which has no length to read it into its item by. malloc
 * gives a block that large back to the system when it is freed (unmapped, or trimmed off the heap's
 * top), so the next long line faulted every page of its buffer in again (seed 1 MiB sets with
 * receives on the ring: 29-62 page faults per op, against 9.5 with libuv's reads; issue 16). */
#define CONN_LONG_SPARES 4
#define CONN_LONG_KEEP (2 * CONN_READ_MAX)
typedef struct conn_io_cache {
    conn_io_t *spares[CONN_IO_SPARES];
    unsigned n;
    buf_t long_in[CONN_LONG_SPARES];
    unsigned n_long;
} conn_io_cache_t;

/* Frees the spares; the owner calls it once its connections have closed. */
void conn_io_cache_free(conn_io_cache_t *cache);

/* Where a connection is in its life. It only moves forward (conn.c's _conn_advance() is the one
 * place that moves it, and asserts each step); a close (uv_close) may end it at any stage.
 *   OPEN -> INPUT_ENDED   peer EOF or server shutdown: answer what is buffered, read nothing more
 *   OPEN | INPUT_ENDED -> CLOSING   quit, a broken stream, or input ended and answered: execute
 *                         nothing more, send what is owed
 *   CLOSING -> FINISHING  output drained: a shutdown (FIN) is in progress
 *   FINISHING -> LINGERING  FIN sent: discard input until the peer closes (see CONN_LINGER_MS) */
typedef enum conn_stage { CONN_OPEN, CONN_INPUT_ENDED, CONN_CLOSING, CONN_FINISHING, CONN_LINGERING } conn_stage_t;

/* One connection. Every open connection costs this much, so it is kept small (~330 bytes, most of
 * it libuv's handle); its buffers live in conn_io_t, and the group lends it scratch buffers. */
typedef struct conn {
    /* First, so a uv_handle_t* is a conn_t*; tcp.data is the owner. Both are streams that begin
     * alike, so conn.c uses `tcp` as the stream whichever it is (tcp.type tells). */
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;         /* a Unix domain socket */
    };
    struct conn *prev, *next;   /* the group's list of connections */
    session_t session;
    conn_io_t *io;              /* NULL while idle */
    struct conn_watch *watch;   /* "watch": what wakes this loop for the watcher's lines; else NULL */
    uint32_t active_ms;         /* loop time (mod 2^32) of the last command or write progress, or of
                                 * the start of lingering */
    uint32_t last_cmd;          /* store clock of the last command, for "stats conns"; atomic */
    int fd;                     /* the socket, set before its group lists it (libuv forgets it at
                                 * close); session.fd is the protocols' copy */
    uint8_t shown;              /* what "stats conns" shows (served_state_t); atomic, set by conn.c */
    uint8_t stage;              /* conn_stage_t */
    bool in_scratch : 1;        /* the read in progress lands in a lent buffer (the owner's scratch,
                                 * the ring's) */
    bool in_item : 1;           /* the read in progress lands in the item of the value arriving */
    bool big_values : 1;        /* a value past CONN_BIG_VALUE has come: idle reads are smaller */
    bool reading : 1;           /* input is wanted: uv_read_start is in effect, or each ring receive
                                 * is followed by the next */
    bool peer_eof : 1;          /* the peer has closed its side: no FIN, no linger needed */
    bool ran_cmd : 1;           /* a command has been executed (memcached's conn_new_cmd until then) */
    bool ring_sending : 1;      /* a send of io->writing is on the owner's ring */
    bool ring_receiving : 1;    /* a receive is on the owner's ring */
    bool ring_closed : 1;       /* the handle closed while one of those was out: finish on completion */
} conn_t;

static inline const conn_owner_t *conn_owner(const conn_t *c) { return (const conn_owner_t *)c->tcp.data; }

/* Reply bytes the connection owes its peer: queued, or in the write in flight. */
static inline size_t conn_pending_output(const conn_t *c)
{
    return c->io ? buf_pending(&c->io->out) + buf_pending(&c->io->writing) : 0;
}

/* A write is in flight (libuv's, or a send on the ring). */
static inline bool conn_write_in_flight(const conn_t *c)
{
    return c->io && buf_pending(&c->io->writing) > 0;
}

/* Starts serving an accepted, initialised tcp or pipe handle embedded in c, for owner. Returns 0 or a UV
 * error; either way the owner hears of c's close (conn_abort() it on error). */
int conn_start(conn_t *c, const conn_owner_t *owner);

/* Stops reading, answers the complete commands already received, sends every reply, then closes.
 * Idempotent. */
void conn_shutdown(conn_t *c);

/* The server is closing: an idle connection (nothing received waiting, nothing owed, no command
 * producing) closes at once; one with work in flight is answered first, as conn_shutdown(). */
void conn_stop(conn_t *c);

/* Closes at once, dropping queued output. Idempotent. */
void conn_abort(conn_t *c);

/* The ring's send for a connection ended: result bytes were sent, or a negative errno (the
 * conn_ring's `sent`). */
void conn_ring_sent(void *conn, int result);

/* The ring's receive for a connection ended (the conn_ring's `received`). */
void conn_ring_received(void *conn, int result, const char *data);

/* How long a connection that has sent its last reply waits for the peer to close before the
 * server closes it anyway (group.c enforces it). Closing while the peer's bytes sit unread would
 * make the kernel send a reset, which can destroy replies the peer has not read yet. */
#define CONN_LINGER_MS 2000

#endif

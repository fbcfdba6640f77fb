/* conn: one client connection on a libuv loop — its input and output buffers, its protocol session
 * and its flow control. It turns socket events into engine_feed() calls and writes the replies. */
#ifndef SC_CONN_H
#define SC_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "engine.h"

struct group;

/* Unsent output past which a connection is not read (nor its buffered input executed) until its
 * writes drain. A single reply may pass it; the next command then waits. */
#define CONN_OUTPUT_HIGH_WATER (256 * 1024)
/* Free room offered to a read that continues an incomplete command. (A read with nothing pending
 * goes to the group's shared scratch buffer instead, see group.h.) */
#define CONN_READ_SIZE (16 * 1024)

/* What a connection holds only while it has work in progress: input that is not a complete
 * command yet, replies the socket did not take at once, and the write carrying them. Allocated
 * when first needed and freed when all three are empty, so an idle connection owns no buffer. */
typedef struct conn_io {
    buf_t in;                   /* received, not yet executed */
    buf_t out;                  /* replies not yet handed to a write */
    buf_t writing;              /* the bytes of the write in flight; empty when none is */
    uv_write_t req;
} conn_io_t;

/* One connection. Every open connection costs this much, so it is kept small (~320 bytes, most of
 * it libuv's uv_tcp_t); its buffers live in conn_io_t, and the group lends it scratch buffers. */
typedef struct conn {
    uv_tcp_t tcp;               /* first, so a uv_handle_t* is a conn_t*; tcp.data is the group */
    struct conn *prev, *next;   /* the group's list of connections */
    session_t session;
    conn_io_t *io;              /* NULL while idle */
    uint32_t active_ms;         /* loop time (mod 2^32) of the last command or write progress, or of
                                 * the start of lingering */
    bool in_scratch : 1;        /* the read in progress lands in the group's scratch buffer */
    bool reading : 1;
    bool input_ended : 1;       /* peer EOF or server shutdown: execute what is buffered, then close */
    bool peer_eof : 1;          /* the peer has closed its side */
    bool closing : 1;           /* close once output has drained; execute nothing more */
    bool finishing : 1;         /* output drained: shutting down, then lingering */
    bool lingering : 1;         /* output done and FIN sent; discarding input until the peer closes */
} conn_t;

static inline struct group *conn_group(const conn_t *c) { return (struct group *)c->tcp.data; }

/* Reply bytes the connection owes its peer: queued, or in the write in flight. */
static inline size_t conn_pending_output(const conn_t *c)
{
    return c->io ? buf_len(&c->io->out) + buf_len(&c->io->writing) : 0;
}

/* Starts serving an accepted, initialised tcp handle embedded in c. Returns 0 or a UV error. */
int conn_start(conn_t *c);

/* Stops reading, answers the complete commands already received, sends every reply, then closes.
 * Idempotent. */
void conn_shutdown(conn_t *c);

/* Closes at once, dropping queued output. Idempotent. */
void conn_abort(conn_t *c);

/* How long a connection that has sent its last reply waits for the peer to close before the
 * server closes it anyway (group.c enforces it). Closing while the peer's bytes sit unread would
 * make the kernel send a reset, which can destroy replies the peer has not read yet. */
#define CONN_LINGER_MS 2000

#endif

/* conn: one client connection on a libuv loop — its input and output buffers, its protocol session
 * and its flow control. It turns socket events into engine_feed() calls and writes the replies. */
#ifndef SC_CONN_H
#define SC_CONN_H

#include <stdbool.h>
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

/* A write the socket did not take at once: allocated only then, so idle connections stay small. */
typedef struct conn_write {
    uv_write_t req;
    buf_t bytes;
    struct conn *conn;
} conn_write_t;

typedef struct conn {
    uv_tcp_t tcp;               /* first, so a uv_handle_t* is a conn_t* */
    struct group *group;
    struct conn *prev, *next;   /* the group's list of connections */
    session_t session;
    buf_t in;                   /* received, not yet executed; freed whenever empty */
    buf_t out;                  /* replies not yet handed to a write; freed whenever empty */
    conn_write_t *write;        /* the write in flight, or NULL */
    uint64_t linger_since;      /* loop time the connection began lingering */
    bool in_scratch;            /* the read in progress lands in the group's scratch buffer */
    bool reading;
    bool input_ended;           /* peer EOF or server shutdown: execute what is buffered, then close */
    bool peer_eof;              /* the peer has closed its side */
    bool closing;               /* close once output has drained; execute nothing more */
    bool finishing;             /* output drained: shutting down, then lingering */
    bool lingering;             /* output done and FIN sent; discarding input until the peer closes */
} conn_t;

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

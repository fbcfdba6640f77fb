/* floor.h - the benchmark's floor: a server that only reads requests and writes replies of the right
 * shape, keeping values in a flat array by key number, on epoll or (--uring) on io_uring alone. */
#ifndef FLOOR_H
#define FLOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define READ_SIZE 65536
#define HEAD_MAX 65536      /* a request's line or binary header and key; longer is a protocol error */
#define IOV_BATCH 64
#define RECV_SIZE 16384     /* uring: a connection's receive buffer, memcached's read size */

enum protocol { PROTO_SIMPLE, PROTO_TEXT, PROTO_BINARY };

/* The options, set once by main. One slot of value_size bytes per key: "key:N" is slot N mod
 * nkeys. With --keys as large as the benchmark's key space, values are sent from and read into
 * memory as large as a store's, which the CPU cache does not hold; with one key, every value is
 * the same hot bytes. */
extern enum protocol protocol;
extern char *values;
extern size_t value_size, nkeys;

/* A reply is pieces of the connection's own bytes (by offset, the buffer may move) or a value. */
struct piece {
    size_t off, len;
    const char *value;      /* NULL for own bytes */
};

struct conn {
    int fd;
    char head[HEAD_MAX];    /* the request head gathered so far */
    size_t nhead;
    char *dest;             /* where a set's value goes: its slot, or NULL where the key was not seen */
    size_t dest_left;       /* value bytes still to land there */
    size_t skip;            /* request bytes to drop after them: the text CRLF, a value's excess */
    int storing;            /* a set whose value is coming: 't' text, 'b' binary, 0 none */
    bool skip_line;         /* seed protocol: drop up to the end of the line (a set's value) */
    char *own;              /* reply bytes other than values */
    size_t nown, own_cap;
    struct piece *pieces;
    size_t npieces, pieces_cap, sent_piece, sent_in_piece;
    bool want_write;        /* epoll: registered for EPOLLOUT */
    bool receiving;         /* uring: the request in the kernel is a receive (else a send) */
    char *rbuf;             /* uring: where receives land (they outlive the turn that queued them) */
    struct msghdr msg;      /* uring: the request's */
    struct iovec iov[IOV_BATCH];
};

/* conn.c: a connection's buffers. */
void *xrealloc(void *p, size_t n);
/* The next connection waiting on the listener (TCP_NODELAY set), NULL when none is. */
struct conn *conn_accept(int listener);
void conn_free(struct conn *c);
void out_bytes(struct conn *c, const void *bytes, size_t n);
void out_text(struct conn *c, const char *s);
char *slot_of(const char *key, size_t nkey);
void out_value(struct conn *c, const char *key, size_t nkey);
/* The replies not yet sent as iovecs (at most IOV_BATCH); 0 when all are sent. */
int conn_pending(const struct conn *c, struct iovec *iov);
/* n bytes of them went out; true once all have (the buffers are then reused). */
bool conn_sent(struct conn *c, size_t n);
/* Where the next read goes: the rest of a set's value straight into its slot, then `in`. */
int conn_read_iov(struct conn *c, struct iovec iov[2], char *in, size_t in_size);
/* n bytes were read into those iovecs; false on a request the floor cannot take. */
bool conn_got(struct conn *c, int niov, const char *in, size_t n);

/* requests.c: what the bytes ask for, answered into the connection's replies. */
bool conn_feed(struct conn *c, const char *in, size_t len);
void value_landed(struct conn *c, size_t n);

/* epoll.c, uring.c: the loops; serve_uring returns only when io_uring is not available. */
void serve_epoll(int listener);
void serve_uring(int listener);

#endif

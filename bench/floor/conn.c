/* conn.c - the floor's connection buffers: replies as pieces (own bytes or a value's slot) gathered
 * into iovecs, and where a read lands (a set's value straight into its slot). */
#include "floor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_BELOW 4096     /* smaller values are copied into the reply: cheaper than an iovec each */

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "floor: out of memory\n");
        exit(1);
    }
    return q;
}

struct conn *conn_accept(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c) {
            c->fd = fd;
            return c;
        }
        close(fd);
    }
}

void conn_free(struct conn *c)
{
    close(c->fd);
    free(c->own);
    free(c->pieces);
    free(c->rbuf);
    free(c);
}

static void add_piece(struct conn *c, struct piece p)
{
    if (c->npieces == c->pieces_cap) {
        c->pieces_cap = c->pieces_cap ? c->pieces_cap * 2 : 16;
        c->pieces = xrealloc(c->pieces, c->pieces_cap * sizeof *c->pieces);
    }
    c->pieces[c->npieces++] = p;
}

void out_bytes(struct conn *c, const void *bytes, size_t n)
{
    if (c->nown + n > c->own_cap) {
        while (c->nown + n > c->own_cap)
            c->own_cap = c->own_cap ? c->own_cap * 2 : 4096;
        c->own = xrealloc(c->own, c->own_cap);
    }
    memcpy(c->own + c->nown, bytes, n);
    if (c->npieces > 0 && c->pieces[c->npieces - 1].value == NULL)
        c->pieces[c->npieces - 1].len += n;
    else
        add_piece(c, (struct piece){.off = c->nown, .len = n});
    c->nown += n;
}

void out_text(struct conn *c, const char *s)
{
    out_bytes(c, s, strlen(s));
}

/* The slot of a key "key:N": its digits, read as a number. */
char *slot_of(const char *key, size_t nkey)
{
    size_t n = 0;
    for (size_t i = 0; i < nkey; i++)
        if (key[i] >= '0' && key[i] <= '9')
            n = n * 10 + (size_t)(key[i] - '0');
    return values + (n % nkeys) * value_size;
}

void out_value(struct conn *c, const char *key, size_t nkey)
{
    const char *value = slot_of(key, nkey);
    if (value_size < COPY_BELOW)
        out_bytes(c, value, value_size);
    else
        add_piece(c, (struct piece){.len = value_size, .value = value});
}

int conn_pending(const struct conn *c, struct iovec *iov)
{
    int n = 0;
    for (size_t i = c->sent_piece; i < c->npieces && n < IOV_BATCH; i++, n++) {
        const struct piece *p = &c->pieces[i];
        size_t skip = i == c->sent_piece ? c->sent_in_piece : 0;
        iov[n].iov_base = (char *)(p->value ? p->value : c->own + p->off) + skip;
        iov[n].iov_len = p->len - skip;
    }
    return n;
}

bool conn_sent(struct conn *c, size_t n)
{
    while (n > 0) {
        size_t rest = c->pieces[c->sent_piece].len - c->sent_in_piece;
        size_t step = n < rest ? n : rest;
        c->sent_in_piece += step;
        n -= step;
        if (c->sent_in_piece == c->pieces[c->sent_piece].len) {
            c->sent_piece++;
            c->sent_in_piece = 0;
        }
    }
    if (c->sent_piece < c->npieces)
        return false;
    c->npieces = c->sent_piece = c->sent_in_piece = c->nown = 0;
    return true;
}

int conn_read_iov(struct conn *c, struct iovec iov[2], char *in, size_t in_size)
{
    int n = 0;
    if (c->storing && c->dest_left > 0)
        iov[n++] = (struct iovec){.iov_base = c->dest, .iov_len = c->dest_left};
    iov[n++] = (struct iovec){.iov_base = in, .iov_len = in_size};
    return n;
}

bool conn_got(struct conn *c, int niov, const char *in, size_t n)
{
    size_t direct = niov == 2 ? (n < c->dest_left ? n : c->dest_left) : 0;
    if (direct > 0)
        value_landed(c, direct);
    return conn_feed(c, in, n - direct);
}

/* floor.c - the benchmark's floor: a server that only reads requests and writes replies of the right shape.
 * Values live in a flat array by key number (no table, no memory management); large ones go by iovec and readv, so its CPU per op is the sockets' and the values' memory traffic alone. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_SIZE 65536
#define HEAD_MAX 65536      /* a request's line or binary header and key; longer is a protocol error */
#define MAX_EVENTS 256
#define IOV_BATCH 64
#define BIN_HEADER 24
#define BIN_RESPONSE 0x81
#define BIN_GET 0x00
#define BIN_SET 0x01
#define BIN_GETKQ 0x0d
#define BIN_GET_EXTRAS 4   /* a hit's flags */
#define COPY_BELOW 4096     /* smaller values are copied into the reply: cheaper than an iovec each */

enum protocol { PROTO_SIMPLE, PROTO_TEXT, PROTO_BINARY };

static enum protocol protocol = PROTO_SIMPLE;
/* One slot of value_size bytes per key: "key:N" is slot N mod nkeys. With --keys as large as the
 * benchmark's key space, values are sent from and read into memory as large as a store's, which
 * the CPU cache does not hold; with one key, every value is the same hot bytes. */
static char *values;
static size_t value_size = 32;
static size_t nkeys = 1;

/* ---------------------------------------------------------------- output */

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
    bool want_write;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "floor: out of memory\n");
        exit(1);
    }
    return q;
}

static void add_piece(struct conn *c, struct piece p)
{
    if (c->npieces == c->pieces_cap) {
        c->pieces_cap = c->pieces_cap ? c->pieces_cap * 2 : 16;
        c->pieces = xrealloc(c->pieces, c->pieces_cap * sizeof *c->pieces);
    }
    c->pieces[c->npieces++] = p;
}

static void out_bytes(struct conn *c, const void *bytes, size_t n)
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

static void out_text(struct conn *c, const char *s)
{
    out_bytes(c, s, strlen(s));
}

/* The slot of a key "key:N": its digits, read as a number. */
static char *slot_of(const char *key, size_t nkey)
{
    size_t n = 0;
    for (size_t i = 0; i < nkey; i++)
        if (key[i] >= '0' && key[i] <= '9')
            n = n * 10 + (size_t)(key[i] - '0');
    return values + (n % nkeys) * value_size;
}

static void out_value(struct conn *c, const char *key, size_t nkey)
{
    const char *value = slot_of(key, nkey);
    if (value_size < COPY_BELOW)
        out_bytes(c, value, value_size);
    else
        add_piece(c, (struct piece){.len = value_size, .value = value});
}

/* Writes what it can; false when the connection failed. */
static bool conn_flush(struct conn *c)
{
    while (c->sent_piece < c->npieces) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (size_t i = c->sent_piece; i < c->npieces && n < IOV_BATCH; i++, n++) {
            const struct piece *p = &c->pieces[i];
            size_t skip = i == c->sent_piece ? c->sent_in_piece : 0;
            iov[n].iov_base = (char *)(p->value ? p->value : c->own + p->off) + skip;
            iov[n].iov_len = p->len - skip;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (w < 0)
            return false;
        size_t left = (size_t)w;
        while (left > 0) {
            size_t rest = c->pieces[c->sent_piece].len - c->sent_in_piece;
            size_t step = left < rest ? left : rest;
            c->sent_in_piece += step;
            left -= step;
            if (c->sent_in_piece == c->pieces[c->sent_piece].len) {
                c->sent_piece++;
                c->sent_in_piece = 0;
            }
        }
    }
    c->npieces = c->sent_piece = c->sent_in_piece = c->nown = 0;
    return true;
}

/* ---------------------------------------------------------------- replies */

static void reply_simple_get(struct conn *c, const char *key, size_t nkey)
{
    out_text(c, "VALUE ");
    out_bytes(c, key, nkey);
    out_text(c, " ");
    out_value(c, key, nkey);
    out_text(c, "\r\nEND\r\n");
}

static void reply_text_value(struct conn *c, const char *key, size_t nkey)
{
    char tail[32];
    int n = snprintf(tail, sizeof tail, " 0 %zu\r\n", value_size);
    out_text(c, "VALUE ");
    out_bytes(c, key, nkey);
    out_bytes(c, tail, (size_t)n);
    out_value(c, key, nkey);
    out_text(c, "\r\n");
}

/* A binary response; a hit's value is the key's, which only GETK and GETKQ echo. */
static void reply_binary(struct conn *c, unsigned opcode, const char *key, size_t nkey, bool with_value)
{
    char h[BIN_HEADER + BIN_GET_EXTRAS] = {0};
    size_t extras = with_value ? BIN_GET_EXTRAS : 0;
    size_t echoed = opcode == BIN_GETKQ ? nkey : 0;
    uint32_t body = (uint32_t)(extras + echoed + (with_value ? value_size : 0));
    h[0] = (char)BIN_RESPONSE;
    h[1] = (char)opcode;
    h[2] = (char)(echoed >> 8);
    h[3] = (char)echoed;
    h[4] = (char)extras;
    h[8] = (char)(body >> 24);
    h[9] = (char)(body >> 16);
    h[10] = (char)(body >> 8);
    h[11] = (char)body;
    out_bytes(c, h, BIN_HEADER + extras);
    if (echoed > 0)
        out_bytes(c, key, echoed);
    if (with_value)
        out_value(c, key, nkey);
}

/* ---------------------------------------------------------------- requests */

/* Calls fn for each space-separated word of s[0..n) after the first `skip` words. */
static void each_word(struct conn *c, const char *s, size_t n, int skip,
                      void (*fn)(struct conn *, const char *, size_t))
{
    size_t i = 0;
    int word = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i > start && word++ >= skip)
            fn(c, s + start, i - start);
    }
}

static size_t line_length(const char *line, size_t n)
{
    return n > 0 && line[n - 1] == '\r' ? n - 1 : n;
}

/* A set's value of n bytes is to land in the slot of key[0..nkey) (as much of it as fits), and
 * `after` bytes to be dropped behind it; the set is answered once all have come. */
static void expect_value(struct conn *c, int kind, const char *key, size_t nkey, size_t n, size_t after)
{
    c->dest = key ? slot_of(key, nkey) : NULL;
    c->dest_left = key && n <= value_size ? n : 0;
    c->skip = n - c->dest_left + after;
    c->storing = kind;
}

/* A text line: "get k1 .. kN" or "set k f e N" (whose N bytes land in k's slot, then a CRLF). */
static void text_line(struct conn *c, const char *line, size_t n)
{
    n = line_length(line, n);
    if (n > 4 && memcmp(line, "get ", 4) == 0) {
        each_word(c, line, n, 1, reply_text_value);
        out_text(c, "END\r\n");
    } else if (n > 4 && memcmp(line, "set ", 4) == 0) {
        const char *key = line + 4, *last = memrchr(line, ' ', n);
        const char *key_end = memchr(key, ' ', n - 4);
        expect_value(c, 't', key, key_end ? (size_t)(key_end - key) : 0, strtoul(last + 1, NULL, 10), 2);
    } else {
        out_text(c, "ERROR\r\n");
    }
}

static void simple_line(struct conn *c, const char *line, size_t n)
{
    n = line_length(line, n);
    if (n > 4 && memcmp(line, "get ", 4) == 0)
        reply_simple_get(c, line + 4, n - 4);
    else
        out_text(c, "ERROR\r\n");
}

static size_t drop_line(struct conn *c, const char *in, size_t len);

/* Gathers a request line in c->head and answers it once whole; for the seed protocol a set's
 * value is dropped as it arrives instead. Returns the bytes used, or (size_t)-1 for a line past
 * HEAD_MAX. */
static size_t feed_line(struct conn *c, const char *in, size_t len)
{
    if (protocol == PROTO_SIMPLE && c->nhead == 0 && len >= 4 && memcmp(in, "set ", 4) == 0) {
        /* The usual case: the set's head is in this read, nothing to keep; its value is copied
         * into the key's slot as it arrives (it has no length to read it there by). */
        const char *key_end = memchr(in + 4, ' ', len - 4);
        c->skip_line = true;
        c->dest = key_end ? slot_of(in + 4, (size_t)(key_end - in - 4)) : NULL;
        c->dest_left = key_end ? value_size : 0;
        size_t head = key_end ? (size_t)(key_end - in) + 1 : 4;
        return head + drop_line(c, in + head, len - head);
    }
    const char *nl = memchr(in, '\n', len);
    size_t take = nl ? (size_t)(nl - in) + 1 : len;
    size_t copy = take < HEAD_MAX - c->nhead ? take : HEAD_MAX - c->nhead;
    memcpy(c->head + c->nhead, in, copy);
    c->nhead += copy;
    if (protocol == PROTO_SIMPLE && c->nhead >= 4 && memcmp(c->head, "set ", 4) == 0) {
        c->nhead = 0;
        if (nl)
            out_text(c, "STORED\r\n");
        else
            c->skip_line = true;
        return take;
    }
    if (copy < take)
        return (size_t)-1;
    if (!nl)
        return take;
    if (protocol == PROTO_TEXT)
        text_line(c, c->head, c->nhead - 1);
    else
        simple_line(c, c->head, c->nhead - 1);
    c->nhead = 0;
    return take;
}

/* The rest of a seed-protocol set line, its value copied into the slot, up to its end, which is
 * answered. */
static size_t drop_line(struct conn *c, const char *in, size_t len)
{
    const char *nl = memchr(in, '\n', len);
    size_t used = nl ? (size_t)(nl - in) + 1 : len;
    size_t copy = used < c->dest_left ? used : c->dest_left;
    if (c->dest && copy > 0) {
        memcpy(c->dest, in, copy);
        c->dest += copy;
        c->dest_left -= copy;
    }
    if (nl) {
        c->skip_line = false;
        c->dest_left = 0;
        out_text(c, "STORED\r\n");
    }
    return used;
}

static void store_done(struct conn *c)
{
    if (c->storing == 't')
        out_text(c, "STORED\r\n");
    else
        reply_binary(c, BIN_SET, NULL, 0, false);
    c->storing = 0;
}

/* `n` bytes of a set's value landed in its slot (read there directly). */
static void value_landed(struct conn *c, size_t n)
{
    c->dest += n;
    c->dest_left -= n;
    if (c->dest_left == 0 && c->skip == 0)
        store_done(c);
}

/* Of a text or binary set: its value's bytes into the slot, then what is dropped behind them. */
static size_t take_value(struct conn *c, const char *in, size_t len)
{
    size_t n = len < c->dest_left ? len : c->dest_left;
    if (n > 0)
        memcpy(c->dest, in, n);
    size_t d = len - n < c->skip ? len - n : c->skip;
    c->skip -= d;
    value_landed(c, n);
    return n + d;
}

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Adds in[] to c->head until it holds `want` bytes; returns the bytes taken. */
static size_t gather(struct conn *c, const char *in, size_t len, size_t want)
{
    size_t n = want > c->nhead ? want - c->nhead : 0;
    if (n > len)
        n = len;
    memcpy(c->head + c->nhead, in, n);
    c->nhead += n;
    return n;
}

/* A binary request: its header, extras and key are gathered; a set's value then lands in the
 * key's slot and is answered once whole, anything else is answered at once. Returns bytes used,
 * (size_t)-1 if too long. */
static size_t feed_binary(struct conn *c, const char *in, size_t len)
{
    size_t used = gather(c, in, len, BIN_HEADER);
    if (c->nhead < BIN_HEADER)
        return used;
    unsigned opcode = (unsigned char)c->head[1];
    size_t nkey = (size_t)((unsigned char)c->head[2] << 8 | (unsigned char)c->head[3]);
    size_t extras = (unsigned char)c->head[4], body = be32(c->head + 8);
    size_t head = opcode == BIN_SET && extras + nkey <= body ? BIN_HEADER + extras + nkey : BIN_HEADER + body;
    if (head > HEAD_MAX)
        return (size_t)-1;
    used += gather(c, in + used, len - used, head);
    if (c->nhead < head)
        return used;
    const char *key = c->head + BIN_HEADER + extras;
    c->nhead = 0;
    if (opcode == BIN_SET) {
        expect_value(c, 'b', key, nkey, BIN_HEADER + body - head, 0);
        if (c->dest_left == 0 && c->skip == 0)
            store_done(c);
    } else {
        reply_binary(c, opcode, key, nkey, opcode == BIN_GET || opcode == BIN_GETKQ);
    }
    return used;
}

/* Consumes everything read; false on a request it cannot take. */
static bool conn_feed(struct conn *c, const char *in, size_t len)
{
    while (len > 0) {
        size_t used;
        if (c->storing)
            used = take_value(c, in, len);
        else if (c->skip_line)
            used = drop_line(c, in, len);
        else if (protocol == PROTO_BINARY)
            used = feed_binary(c, in, len);
        else
            used = feed_line(c, in, len);
        if (used == (size_t)-1)
            return false;
        in += used;
        len -= used;
    }
    return true;
}

/* ---------------------------------------------------------------- event loop */

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->own);
    free(c->pieces);
    free(c);
}

static bool set_events(int epfd, struct conn *c, bool want_write)
{
    if (c->want_write == want_write)
        return true;
    c->want_write = want_write;
    struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* One read (level-triggered epoll calls again while bytes remain), its replies written at once.
 * The rest of a set's value is read straight into its slot, what follows it into `in`. */
static bool conn_readable(struct conn *c)
{
    static char in[READ_SIZE];
    struct iovec iov[2];
    int niov = 0;
    if (c->storing && c->dest_left > 0)
        iov[niov++] = (struct iovec){.iov_base = c->dest, .iov_len = c->dest_left};
    iov[niov++] = (struct iovec){.iov_base = in, .iov_len = sizeof in};
    ssize_t n = readv(c->fd, iov, niov);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0)
        return false;
    size_t direct = niov == 2 ? ((size_t)n < c->dest_left ? (size_t)n : c->dest_left) : 0;
    if (direct > 0)
        value_landed(c, direct);
    return conn_feed(c, in, (size_t)n - direct);
}

static void conn_event(int epfd, struct conn *c, uint32_t events)
{
    bool ok = true;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        ok = conn_readable(c);
    ok = ok && conn_flush(c);
    ok = ok && set_events(epfd, c, c->sent_piece < c->npieces);
    if (!ok)
        conn_close(c);
}

static void accept_all(int epfd, int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(c);
    }
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0) {
        perror("floor: listen");
        exit(1);
    }
    return fd;
}

static void parse_options(int argc, char **argv, int *port)
{
    static const struct option longopts[] = {
        {"port", required_argument, 0, 'p'}, {"protocol", required_argument, 0, 'r'},
        {"value-size", required_argument, 0, 'v'}, {"keys", required_argument, 0, 'k'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'p')
            *port = atoi(optarg);
        else if (ch == 'v')
            value_size = strtoul(optarg, NULL, 10);
        else if (ch == 'k' && strtoul(optarg, NULL, 10) > 0)
            nkeys = strtoul(optarg, NULL, 10);
        else if (ch == 'r' && strcmp(optarg, "simple") == 0)
            protocol = PROTO_SIMPLE;
        else if (ch == 'r' && strcmp(optarg, "text") == 0)
            protocol = PROTO_TEXT;
        else if (ch == 'r' && strcmp(optarg, "binary") == 0)
            protocol = PROTO_BINARY;
        else
            goto usage;
    }
    if (*port > 0 && *port < 65536 && optind == argc)
        return;
usage:
    fprintf(stderr, "usage: floor --port N [--protocol simple|text|binary] [--value-size N] [--keys N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0;
    parse_options(argc, argv, &port);
    signal(SIGPIPE, SIG_IGN);
    if (value_size > 0 && nkeys > SIZE_MAX / value_size) {
        fprintf(stderr, "floor: --keys times --value-size is too large\n");
        return 2;
    }
    values = xrealloc(NULL, nkeys * value_size + 1);
    for (size_t i = 0; i < value_size; i++)
        values[i] = (char)('a' + i % 26);
    for (size_t k = 1; k < nkeys; k++)
        memcpy(values + k * value_size, values, value_size);
    int listener = listen_on(port);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) < 0) {
        perror("floor: epoll");
        return 1;
    }
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                accept_all(epfd, listener);
            else
                conn_event(epfd, events[i].data.ptr, events[i].events);
        }
    }
}

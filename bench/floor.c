/* floor.c - the benchmark's floor: a server that only reads requests and writes replies of the right shape.
 * It stores nothing (every get hits with one fixed value) and sends large values by iovec, so its CPU per op is about the sockets' cost alone. */
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
static char *value;         /* every get's value: letters, as loadgen sends */
static size_t value_size = 32;

/* ---------------------------------------------------------------- output */

/* A reply is pieces of the connection's own bytes (by offset, the buffer may move) or the value. */
struct piece {
    size_t off, len;
    bool is_value;
};

struct conn {
    int fd;
    char head[HEAD_MAX];    /* the request head gathered so far */
    size_t nhead;
    size_t skip;            /* request bytes still to drop: a set's value */
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
    if (c->npieces > 0 && !c->pieces[c->npieces - 1].is_value)
        c->pieces[c->npieces - 1].len += n;
    else
        add_piece(c, (struct piece){.off = c->nown, .len = n});
    c->nown += n;
}

static void out_text(struct conn *c, const char *s)
{
    out_bytes(c, s, strlen(s));
}

static void out_value(struct conn *c)
{
    if (value_size < COPY_BELOW)
        out_bytes(c, value, value_size);
    else
        add_piece(c, (struct piece){.len = value_size, .is_value = true});
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
            iov[n].iov_base = (p->is_value ? value : c->own + p->off) + skip;
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
    out_value(c);
    out_text(c, "\r\nEND\r\n");
}

static void reply_text_value(struct conn *c, const char *key, size_t nkey)
{
    char tail[32];
    int n = snprintf(tail, sizeof tail, " 0 %zu\r\n", value_size);
    out_text(c, "VALUE ");
    out_bytes(c, key, nkey);
    out_bytes(c, tail, (size_t)n);
    out_value(c);
    out_text(c, "\r\n");
}

static void reply_binary(struct conn *c, unsigned opcode, const char *key, size_t nkey, bool with_value)
{
    char h[BIN_HEADER + BIN_GET_EXTRAS] = {0};
    size_t extras = with_value ? BIN_GET_EXTRAS : 0;
    uint32_t body = (uint32_t)(extras + nkey + (with_value ? value_size : 0));
    h[0] = (char)BIN_RESPONSE;
    h[1] = (char)opcode;
    h[2] = (char)(nkey >> 8);
    h[3] = (char)nkey;
    h[4] = (char)extras;
    h[8] = (char)(body >> 24);
    h[9] = (char)(body >> 16);
    h[10] = (char)(body >> 8);
    h[11] = (char)body;
    out_bytes(c, h, BIN_HEADER + extras);
    if (nkey > 0)
        out_bytes(c, key, nkey);
    if (with_value)
        out_value(c);
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

/* A text line: "get k1 .. kN" or "set k f e N" (whose N bytes and CRLF are then dropped). */
static void text_line(struct conn *c, const char *line, size_t n)
{
    n = line_length(line, n);
    if (n > 4 && memcmp(line, "get ", 4) == 0) {
        each_word(c, line, n, 1, reply_text_value);
        out_text(c, "END\r\n");
    } else if (n > 4 && memcmp(line, "set ", 4) == 0) {
        const char *last = memrchr(line, ' ', n);
        c->skip = strtoul(last + 1, NULL, 10) + 2;
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
        c->skip_line = true;   /* the usual case: the set's head is in this read, nothing to keep */
        return drop_line(c, in, len);
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

/* The rest of a seed-protocol set line, up to its end, which is answered. */
static size_t drop_line(struct conn *c, const char *in, size_t len)
{
    const char *nl = memchr(in, '\n', len);
    if (!nl)
        return len;
    c->skip_line = false;
    out_text(c, "STORED\r\n");
    return (size_t)(nl - in) + 1;
}

/* A text set's value and its CRLF; a binary set's body. Answered once dropped whole. */
static size_t drop_value(struct conn *c, size_t len)
{
    size_t n = len < c->skip ? len : c->skip;
    c->skip -= n;
    if (c->skip == 0 && protocol == PROTO_TEXT)
        out_text(c, "STORED\r\n");
    return n;
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

/* A binary request: a set is answered at its header and its body dropped (nothing is stored);
 * a get's extras and key are gathered, then answered. Returns bytes used, (size_t)-1 if too long. */
static size_t feed_binary(struct conn *c, const char *in, size_t len)
{
    size_t used = gather(c, in, len, BIN_HEADER);
    if (c->nhead < BIN_HEADER)
        return used;
    unsigned opcode = (unsigned char)c->head[1];
    size_t body = be32(c->head + 8);
    if (opcode == BIN_SET) {
        reply_binary(c, opcode, NULL, 0, false);
        c->nhead = 0;
        c->skip = body;
        return used;
    }
    if (BIN_HEADER + body > HEAD_MAX)
        return (size_t)-1;
    used += gather(c, in + used, len - used, BIN_HEADER + body);
    if (c->nhead < BIN_HEADER + body)
        return used;
    size_t nkey = (size_t)((unsigned char)c->head[2] << 8 | (unsigned char)c->head[3]);
    const char *key = c->head + BIN_HEADER + (unsigned char)c->head[4];
    if (opcode == BIN_GET)
        reply_binary(c, opcode, NULL, 0, true);
    else if (opcode == BIN_GETKQ)
        reply_binary(c, opcode, key, nkey, true);
    else
        reply_binary(c, opcode, NULL, 0, false);
    c->nhead = 0;
    return used;
}

/* Consumes everything read; false on a request it cannot take. */
static bool conn_feed(struct conn *c, const char *in, size_t len)
{
    while (len > 0) {
        size_t used;
        if (c->skip > 0)
            used = drop_value(c, len);
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

/* One read (level-triggered epoll calls again while bytes remain), its replies written at once. */
static bool conn_readable(struct conn *c)
{
    static char in[READ_SIZE];
    ssize_t n = read(c->fd, in, sizeof in);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    return n > 0 && conn_feed(c, in, (size_t)n);
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
        {"value-size", required_argument, 0, 'v'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'p')
            *port = atoi(optarg);
        else if (ch == 'v')
            value_size = strtoul(optarg, NULL, 10);
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
    fprintf(stderr, "usage: floor --port N [--protocol simple|text|binary] [--value-size N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0;
    parse_options(argc, argv, &port);
    signal(SIGPIPE, SIG_IGN);
    value = xrealloc(NULL, value_size ? value_size : 1);
    for (size_t i = 0; i < value_size; i++)
        value[i] = (char)('a' + i % 26);
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

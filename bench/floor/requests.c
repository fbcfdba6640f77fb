/* requests.c - what the floor's clients ask, in the seed, text and binary protocols: gets answered
 * from the keys' slots, sets' values landed in them. Nothing else is looked at. */
#include "floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN_HEADER 24
#define BIN_RESPONSE 0x81
#define BIN_GET 0x00
#define BIN_SET 0x01
#define BIN_GETKQ 0x0d
#define BIN_GET_EXTRAS 4   /* a hit's flags */

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
void value_landed(struct conn *c, size_t n)
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
bool conn_feed(struct conn *c, const char *in, size_t len)
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

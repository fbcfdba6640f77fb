/* codec.h - what the protocol codecs (text.c: text and seed; binary.c) share: keys as they go on the wire,
 * and the outcome of parsing a reply, which is parsed whole or not at all. */
#ifndef LOADGEN_CODEC_H
#define LOADGEN_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loadgen.h"

#define KEY_MAX 32

/* A reply is parsed whole or not at all: when only part of it has arrived, it is parsed
 * again from its start after the next read. That needs no state across reads and stays
 * cheap, because values are skipped by their announced length, never scanned. */
enum reply { REPLY_INCOMPLETE, REPLY_OK, REPLY_ERROR };

struct parsed {
    size_t consumed; /* bytes the reply took; meaningful unless REPLY_INCOMPLETE */
    unsigned hits;   /* keys the reply carried a value for */
};

/* "key:<n>" at dst; returns its length. */
static inline size_t format_key(char *dst, uint32_t n)
{
    char digits[10];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(dst, "key:", 4);
    for (size_t i = 0; i < d; i++)
        dst[4 + i] = digits[d - 1 - i];
    return 4 + d;
}

static inline char *put(char *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

/* text.c: memcached's text protocol and the seed ("simple") protocol. */
void text_encode_get(struct buffer *out, const struct request *req);
void text_encode_set(const struct bench *b, struct buffer *out, const struct request *req);
enum reply text_parse_set(const char *p, size_t avail, struct parsed *out);
enum reply text_parse_simple_get(const struct bench *b, const struct request *req,
                                 const char *p, size_t avail, struct parsed *out);
enum reply text_parse_get(const struct bench *b, const struct request *req,
                          const char *p, size_t avail, struct parsed *out);

/* binary.c: memcached's binary protocol. */
void binary_encode_get(struct buffer *out, const struct request *req);
void binary_encode_set(const struct bench *b, struct buffer *out, const struct request *req);
enum reply binary_parse(const struct bench *b, const struct request *req,
                        const char *p, size_t avail, struct parsed *out);

/* requests.c: the reply to req at the front of p, parsed by the run's protocol. */
enum reply request_parse_reply(const struct bench *b, const struct request *req,
                               const char *p, size_t avail, struct parsed *out);

#endif

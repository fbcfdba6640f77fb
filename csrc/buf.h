/* buf: a growable byte buffer with a read cursor, used for a connection's input and output.
 * Growth is geometric and always bounded by the caller, who checks buf_len() against its limits.
 * An output buffer may also carry references to memory it does not own (bufref.h). */
#ifndef SC_BUF_H
#define SC_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t start;  /* first unconsumed byte */
    size_t end;    /* one past the last byte written */
    size_t cap;
    struct buf_refs *refs;  /* bufref.h: bytes referenced between these bytes, or NULL when
                             * every byte is copied in; kept by buf_free, owned by whoever set it */
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);

/* Makes room for n more bytes after end, compacting or growing. Returns 0, or -1 if out of memory. */
int buf_reserve(buf_t *b, size_t n);

int buf_append(buf_t *b, const void *src, size_t n);
int buf_append_u64(buf_t *b, unsigned long long v);

/* Writes v in decimal to dst (room for 20 digits, no NUL) and returns the number of digits. */
size_t buf_format_u64(char *dst, unsigned long long v);

static inline size_t buf_len(const buf_t *b) { return b->end - b->start; }
static inline char *buf_head(const buf_t *b) { return b->data + b->start; }
static inline char *buf_tail(const buf_t *b) { return b->data + b->end; }
static inline size_t buf_space(const buf_t *b) { return b->cap - b->end; }

static inline void buf_consume(buf_t *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

#define buf_append_lit(b, s) buf_append((b), (s), sizeof(s) - 1)

#endif

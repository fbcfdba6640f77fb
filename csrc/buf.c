/* buf: a growable byte buffer with a read cursor.
 * Compaction moves live bytes to the front only when that frees enough room to avoid growing. */
#include "buf.h"

#include <stdlib.h>

#define BUF_MIN_CAP 1024

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->start = b->end = b->cap = 0;
    b->refs = NULL;
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

int buf_reserve(buf_t *b, size_t n)
{
    if (buf_space(b) >= n)
        return 0;
    size_t live = buf_len(b);
    /* Sliding is cheaper than growing when at least half the buffer is consumed garbage. */
    if (b->start > 0 && b->cap - live >= n && b->start >= live) {
        memmove(b->data, b->data + b->start, live);
        b->start = 0;
        b->end = live;
        return 0;
    }
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap - live < n) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    char *data = malloc(cap);
    if (data == NULL)
        return -1;
    if (live)
        memcpy(data, b->data + b->start, live);
    free(b->data);
    b->data = data;
    b->start = 0;
    b->end = live;
    b->cap = cap;
    return 0;
}

int buf_append(buf_t *b, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->end, src, n);
    b->end += n;
    return 0;
}

size_t buf_format_u64(char *dst, unsigned long long v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(dst, digits + sizeof(digits) - n, n);
    return n;
}

int buf_append_u64(buf_t *b, unsigned long long v)
{
    char digits[20];
    return buf_append(b, digits, buf_format_u64(digits, v));
}

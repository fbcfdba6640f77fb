/* buffer.c - the byte buffers a connection reads into and writes from.
 * Consumed bytes are reclaimed by compacting before growing, so a buffer settles at the size its traffic needs. */
#include "buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    return q;
}

/* Makes at least `need` bytes writable at data+end, compacting before growing. */
void buffer_reserve(struct buffer *b, size_t need)
{
    if (b->cap - b->end >= need)
        return;
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (b->cap - b->end < need) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->end < need)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
}

void buffer_consume(struct buffer *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

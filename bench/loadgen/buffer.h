/* buffer.h - the byte buffers a connection reads into and writes from: data[start..end) is pending,
 * compacted before it grows; and xrealloc, which ends the program when memory runs out. */
#ifndef LOADGEN_BUFFER_H
#define LOADGEN_BUFFER_H

#include <stddef.h>

struct buffer {
    char *data;
    size_t start, end, cap;
};

void *xrealloc(void *p, size_t n);
void buffer_reserve(struct buffer *b, size_t need);
void buffer_consume(struct buffer *b, size_t n);

#endif

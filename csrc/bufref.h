/* bufref: memory an output buffer refers to instead of copying — an item's value sent from the
 * item — interleaved with the buffer's own bytes, each piece held until it has been sent. */
#ifndef SC_BUFREF_H
#define SC_BUFREF_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Gives back what a piece held (an item reference, say); owner and ref are as given to bufref_add. */
typedef void (*bufref_release_fn)(void *owner, void *ref);

/* One referenced piece: sent after the buffer's raw bytes that precede it. */
typedef struct buf_ref {
    size_t at;          /* raw bytes consumed from the buffer, ever, when it goes out (see below) */
    const char *p;
    size_t n;
    void *owner, *ref;
} buf_ref_t;

/* The pieces of one buffer, in order: v[head..count). A piece's `at` counts raw bytes from the
 * life of the list (consumed + still in the buffer), so consuming never renumbers the rest. */
typedef struct buf_refs {
    buf_ref_t *v;
    size_t head, count, cap;
    size_t bytes;               /* referenced bytes not yet consumed */
    size_t consumed;            /* raw bytes consumed from the buffer through bufref_consume */
    bufref_release_fn release;
} buf_refs_t;

/* A run of bytes to send, raw or referenced. */
typedef struct buf_chunk {
    const char *p;
    size_t n;
} buf_chunk_t;

/* Makes b an output that may hold references, released through release. */
void bufref_attach(buf_t *b, buf_refs_t *refs, bufref_release_fn release);

/* Bytes b still owes: its raw bytes and those it refers to. */
static inline size_t buf_pending(const buf_t *b)
{
    return buf_len(b) + (b->refs ? b->refs->bytes : 0);
}

/* Appends a reference to p[0..n) after b's raw bytes; the piece now owns ref. Returns 0, or -1
 * when b takes no references or memory ran out: then ref is still the caller's. */
int bufref_add(buf_t *b, const char *p, size_t n, void *owner, void *ref);

/* The first chunks of b's stream, in order, up to max of them; returns how many. */
size_t bufref_chunks(const buf_t *b, buf_chunk_t *out, size_t max);

/* How many chunks b's whole stream is. */
size_t bufref_nchunks(const buf_t *b);

/* Drops the first n bytes of b's stream (n <= buf_pending(b)), releasing the pieces wholly sent. */
void bufref_consume(buf_t *b, size_t n);

/* Appends src's whole stream to dst (raw bytes copied, references handed over) and empties src.
 * Returns 0, or -1 when out of memory: src is then emptied all the same, its references released. */
int bufref_move(buf_t *dst, buf_t *src);

/* Releases every reference and empties b (an abort, a close). */
void bufref_drop(buf_t *b);

/* Frees the pieces' array too (b must hold no reference: drop it first). */
void bufref_free(buf_refs_t *refs);

#endif

/* bufref: the pieces an output buffer refers to, kept in a FIFO beside its raw bytes. Consuming
 * walks the stream in order: raw bytes up to the next piece, the piece, and so on. */
#include "bufref.h"

#include <stdlib.h>

void bufref_attach(buf_t *b, buf_refs_t *refs, bufref_release_fn release)
{
    *refs = (buf_refs_t){.release = release};
    b->refs = refs;
}

/* Raw bytes of b that come before piece r. */
static size_t _raw_before(const buf_refs_t *refs, const buf_ref_t *r)
{
    return r->at - refs->consumed;
}

static int _grow(buf_refs_t *refs)
{
    if (refs->head > 0) {
        memmove(refs->v, refs->v + refs->head, (refs->count - refs->head) * sizeof(buf_ref_t));
        refs->count -= refs->head;
        refs->head = 0;
        if (refs->count < refs->cap)
            return 0;
    }
    size_t cap = refs->cap ? refs->cap * 2 : 8;
    buf_ref_t *v = realloc(refs->v, cap * sizeof(buf_ref_t));
    if (v == NULL)
        return -1;
    refs->v = v;
    refs->cap = cap;
    return 0;
}

int bufref_add(buf_t *b, const char *p, size_t n, void *owner, void *ref)
{
    buf_refs_t *refs = b->refs;
    if (refs == NULL || (refs->count == refs->cap && _grow(refs) != 0))
        return -1;
    refs->v[refs->count++] = (buf_ref_t){.at = refs->consumed + buf_len(b), .p = p, .n = n, .owner = owner, .ref = ref};
    refs->bytes += n;
    return 0;
}

size_t bufref_chunks(const buf_t *b, buf_chunk_t *out, size_t max)
{
    size_t k = 0, raw = 0;  /* raw bytes already listed */
    const buf_refs_t *refs = b->refs;
    for (size_t i = refs ? refs->head : 0; refs && i < refs->count && k < max; i++) {
        const buf_ref_t *r = &refs->v[i];
        size_t before = _raw_before(refs, r);
        if (before > raw) {
            out[k++] = (buf_chunk_t){buf_head(b) + raw, before - raw};
            raw = before;
            if (k == max)
                break;
        }
        out[k++] = (buf_chunk_t){r->p, r->n};
    }
    if (k < max && buf_len(b) > raw)
        out[k++] = (buf_chunk_t){buf_head(b) + raw, buf_len(b) - raw};
    return k;
}

size_t bufref_nchunks(const buf_t *b)
{
    size_t k = 0, raw = 0;
    const buf_refs_t *refs = b->refs;
    for (size_t i = refs ? refs->head : 0; refs && i < refs->count; i++) {
        size_t before = _raw_before(refs, &refs->v[i]);
        k += (before > raw) + 1;
        raw = before;
    }
    return k + (buf_len(b) > raw);
}

/* Consumes n raw bytes of b (no piece stands before them). */
static void _consume_raw(buf_t *b, size_t n)
{
    buf_consume(b, n);
    if (b->refs)
        b->refs->consumed += n;
}

void bufref_consume(buf_t *b, size_t n)
{
    buf_refs_t *refs = b->refs;
    while (n > 0 && refs && refs->head < refs->count) {
        buf_ref_t *r = &refs->v[refs->head];
        size_t before = _raw_before(refs, r);
        if (before > 0) {
            size_t k = n < before ? n : before;
            _consume_raw(b, k);
            n -= k;
            continue;
        }
        size_t k = n < r->n ? n : r->n;
        r->p += k;
        r->n -= k;
        refs->bytes -= k;
        n -= k;
        if (r->n > 0)
            break;
        refs->release(r->owner, r->ref);
        if (++refs->head == refs->count)
            refs->head = refs->count = 0;
    }
    if (n > 0)
        _consume_raw(b, n);
}

void bufref_drop(buf_t *b)
{
    buf_refs_t *refs = b->refs;
    if (refs) {
        for (size_t i = refs->head; i < refs->count; i++)
            refs->release(refs->v[i].owner, refs->v[i].ref);
        refs->head = refs->count = 0;
        refs->bytes = 0;
        refs->consumed += buf_len(b);
    }
    buf_consume(b, buf_len(b));
}

int bufref_move(buf_t *dst, buf_t *src)
{
    buf_refs_t *refs = src->refs;
    int rc = 0;
    while (rc == 0 && refs && refs->head < refs->count) {
        buf_ref_t r = refs->v[refs->head];
        size_t before = _raw_before(refs, &r);
        if (before > 0) {
            rc = buf_append(dst, buf_head(src), before);
            _consume_raw(src, before);
            continue;
        }
        if (bufref_add(dst, r.p, r.n, r.owner, r.ref) != 0) {
            /* No room for the piece in dst: copy its bytes instead, then let it go. */
            rc = buf_append(dst, r.p, r.n);
            refs->release(r.owner, r.ref);
        }
        refs->bytes -= r.n;
        if (++refs->head == refs->count)
            refs->head = refs->count = 0;
    }
    if (rc == 0)
        rc = buf_append(dst, buf_head(src), buf_len(src));
    bufref_drop(src);
    return rc;
}

void bufref_free(buf_refs_t *refs)
{
    free(refs->v);
    refs->v = NULL;
    refs->head = refs->count = refs->cap = 0;
}

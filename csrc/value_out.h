/* value_out: how a reply carries an item's value — referenced in place when the output takes
 * references and the value is large enough to gain from it, else copied. Every protocol uses it. */
#ifndef SC_VALUE_OUT_H
#define SC_VALUE_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "bufref.h"
#include "cache.h"

/* Values shorter than this are copied: below it, holding the item, releasing it under its shard
 * lock and sending it as an iovec of its own cost more server CPU than the copy. Measured with the
 * bench's loadgen (text gets, 10% sets, 50 connections), every value referred vs every value
 * copied: +1-2% server CPU per op at 8 KiB, -4% at 12 KiB, -10% at 32 KiB. */
#define VALUE_OUT_REF_MIN (10 * 1024)

/* Whether value_out() would refer to a value of n bytes rather than copy it into out (barring a
 * refusal to hold): callers reserve room for the copy only. */
static inline bool value_out_refers(const buf_t *out, size_t n)
{
    return out->refs != NULL && n >= VALUE_OUT_REF_MIN;
}

/* Appends it's value to out. A referenced value holds a reference of its own, given back through
 * value_out_release once it is sent or dropped, so the caller still releases its own. locked is
 * it's store when the caller holds its shard lock (it must then not be taken again), else NULL.
 * Returns 0, or -1 when out of memory. */
int value_out(buf_t *out, cache_t *cache, store_t *locked, item_t *it);

/* The release function for outputs that take references (bufref_attach): owner is the cache. */
void value_out_release(void *cache, void *item);

#endif

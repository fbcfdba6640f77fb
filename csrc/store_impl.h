/* store_impl: the store's private layout and the steps its two files share: store.c (items in
 * and out) and store_upkeep.c (sweeps, eviction to a limit, emptied pages, walks and figures). */
#ifndef SC_STORE_IMPL_H
#define SC_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"
#include "slab.h"
#include "store_types.h"
#include "table.h"

#define EVICT_CHANCES_MAX 64 /* second chances the hand gives per allocation, then evicts any */
/* With evictions off, the items a failing allocation looks at for dead ones to free, at most: a
 * full store must refuse a write in bounded time (memcached looks at 5 from an LRU's tail). */
#define NO_EVICT_VISITS 1024

struct store {
    table_t table;      /* the items by key */
    slab_t *slab;       /* every item's memory, and the clock hand that picks victims */
    size_t blocks;      /* items allocated: linked, or unlinked but still referenced */
    store_cas_t *cas_source; /* shared by the shards of one cache, so cas uniques stay unique */
    store_cas_t own_cas;
    uint64_t flush_cas; /* items with a smaller cas were flushed */
    uint32_t flush_at;  /* pending delayed flush, store clock; 0 = none */
    uint32_t now;
    size_t max_item_size;
    bool no_evictions;  /* memcached's -M: a write finds room in dead items only, or fails */
    store_evict_fn on_evict;    /* NULL: nobody is told of evictions */
    void *on_evict_arg;
    store_stats_t stats;
    store_class_stats_t classes[SLAB_CLASSES_MAX + 1]; /* the last: items too big for a class */
    /* The oldest last access per class, as store_sweep()'s last complete pass found it, and as its
     * current pass is finding it (UINT32_MAX: none seen). */
    uint32_t oldest_atime[SLAB_CLASSES_MAX + 1];
    uint32_t pass_oldest_atime[SLAB_CLASSES_MAX + 1];
};

/* The counters of the class an item of `size` bytes belongs to. */
static inline store_class_stats_t *store_class_for(store_t *s, size_t size)
{
    return &s->classes[slab_class_of(s->slab, size)];
}

static inline store_class_stats_t *store_class_of(store_t *s, const item_t *it)
{
    return store_class_for(s, item_size(it));
}

/* Expired, or stored before a flush: invisible, and freed when met. */
static inline bool store_dead(const store_t *s, const item_t *it)
{
    return (it->exptime != 0 && it->exptime <= s->now) || it->cas < s->flush_cas;
}

/* Removes the item at *link from the table; frees it unless a reader holds it. */
void store_unlink(store_t *s, item_t **link);

/* store_unlink of an expired or flushed item, counted as reclaimed. */
void store_unlink_dead(store_t *s, item_t **link);

/* One step of the clock hand (see store.c); false when there is no item at all. */
bool store_hand_step(store_t *s, size_t *chances, bool may_evict);

#endif

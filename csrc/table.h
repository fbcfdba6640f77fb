/* table: the store's index — a chained hash table of items, keyed by the item's key, that doubles
 * incrementally: while it grows, every lookup moves a few buckets, so no call rehashes everything. */
#ifndef SC_TABLE_H
#define SC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"

typedef struct table_half {
    item_t **buckets;
    size_t mask;   /* buckets - 1; the size is a power of two */
} table_half_t;

typedef struct table {
    table_half_t halves[2]; /* while doubling, items move from halves[0] to halves[1] */
    size_t rehash_next;     /* next bucket of halves[0] to move; meaningful while halves[1] exists */
    size_t sweep_next;      /* next bucket table_sweep_bucket() hands out */
    uint64_t seed;
} table_t;

/* An empty table of nbuckets (a power of two) whose hash uses seed. -1 when out of memory. */
int table_init(table_t *t, size_t nbuckets, uint64_t seed);
void table_free(table_t *t);

uint64_t table_hash(const table_t *t, const char *key, size_t nkey);

/* One bounded step of doubling, if it is under way; call it once per operation. */
void table_step(table_t *t);

/* Starts doubling when there are more items than buckets. If the bigger table cannot be allocated
 * the table keeps working with longer chains and tries again later. */
void table_maybe_grow(table_t *t, size_t items);

/* The link that points at the item with this key and hash, or NULL. */
item_t **table_find(table_t *t, uint64_t hash, const char *key, size_t nkey);

/* The head of the chain where a new item with this hash goes. */
item_t **table_head(table_t *t, uint64_t hash);

/* The heads of the chains the next step of a sweep over every item visits (1, or 2 while doubling):
 * the sweep cursor, sweep_next, goes round the buckets of the half items settle in. */
size_t table_sweep_heads(table_t *t, item_t **heads[2]);

/* Up to `steps` bounded steps of doubling, for upkeep while the table sees no operations. Returns
 * whether it is still doubling. */
bool table_rehash(table_t *t, size_t steps);

/* Buckets allocated, both halves while doubling. */
size_t table_buckets(const table_t *t);

/* Buckets of the table items settle in: the old half's while doubling. A walk takes this as its n. */
size_t table_slots(const table_t *t);

/* Calls fn on every item whose hash modulo n is slot, wherever doubling has moved it, for n a
 * power of two no larger than table_slots(). Tables only grow, so a walk over the slots of a fixed
 * n visits each item present throughout exactly once, even if the table doubles meanwhile (the
 * way Redis's SCAN survives a resize). Costs table_slots() / n buckets. fn must not unlink. */
void table_visit(table_t *t, size_t n, size_t slot, void (*fn)(item_t *it, void *arg), void *arg);

#endif

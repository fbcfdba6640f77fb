/* cache: the one store of a process, split into shards that each have a store and a lock, so
 * that I/O threads rarely wait for each other. Same operations as store.h, safe from any thread. */
#ifndef SC_CACHE_H
#define SC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CACHE_MAX_SHARDS 64

typedef struct cache cache_t;

/* nshards (1..CACHE_MAX_SHARDS) splits memory_limit evenly: each shard evicts within its share.
 * cache_set_memory_limit() may raise the limit up to limit_growth times (0 or 1: not at all). */
cache_t *cache_create(size_t memory_limit, size_t max_item_size, unsigned nshards, unsigned limit_growth);
void cache_destroy(cache_t *c);

/* As store_get: a referenced item (release it with cache_release), or NULL. */
item_t *cache_get(cache_t *c, const char *key, size_t nkey);
item_t *cache_get_touch(cache_t *c, const char *key, size_t nkey, uint32_t exptime);
void cache_release(cache_t *c, item_t *it);
/* store_hold in the item's shard: it is referenced already (by the caller). */
bool cache_hold(cache_t *c, item_t *it);

/* As store_write; a reserved item (w->reserved) is committed in its key's shard. */
store_status_t cache_write(cache_t *c, const store_write_t *w, uint64_t *cas_out);

/* store_reserve in the key's shard, whose lock is not held while the value arrives. Commit the item
 * with cache_write (store_write_reserved) or abandon it with cache_release. */
item_t *cache_reserve(cache_t *c, const char *key, size_t nkey, uint32_t flags, size_t nvalue,
                      store_status_t *status);
store_status_t cache_set(cache_t *c, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime);
store_status_t cache_arith(cache_t *c, const char *key, size_t nkey, bool incr, uint64_t delta, uint64_t *result);
store_status_t cache_arith_cas(cache_t *c, const char *key, size_t nkey, bool incr, uint64_t delta,
                               uint64_t *result, uint64_t *cas);
store_status_t cache_delete_cas(cache_t *c, const char *key, size_t nkey, uint64_t cas);
store_status_t cache_touch(cache_t *c, const char *key, size_t nkey, uint32_t exptime);
store_status_t cache_delete(cache_t *c, const char *key, size_t nkey);

/* store_restore in the key's shard; every later cas unique is above cas. */
store_status_t cache_restore(cache_t *c, const store_write_t *w, uint64_t cas, uint32_t atime, uint8_t marks);
size_t cache_footprint(cache_t *c, size_t nkey, uint32_t flags, size_t nvalue);

/* Flush every shard at the same cas horizon (at == 0 or past) or at store clock time `at`. */
void cache_flush(cache_t *c, uint32_t at);

/* Sweeps up to max_buckets buckets, taken from one shard after another, advances that shard's
 * table doubling by a bounded number of steps (so an idle shard finishes), and evicts a bounded
 * number of items from it while it is over a lowered limit (cache_set_memory_limit). */
size_t cache_sweep(cache_t *c, size_t max_buckets);

/* Advances the clock of every shard; cheap when the second has not changed (a read, no write).
 * Any thread. cache_clock_writes() counts the calls that changed it. */
void cache_set_clock(cache_t *c, uint32_t now);
uint32_t cache_clock(const cache_t *c);
uint64_t cache_clock_writes(const cache_t *c);

/* Sums of every shard's counters. */
void cache_get_stats(cache_t *c, store_stats_t *out);

/* The size classes, the same in every shard (they share one limit), and one class's figures summed
 * over the shards. */
unsigned cache_classes(const cache_t *c);
void cache_get_class_stats(cache_t *c, unsigned cls, slab_class_stats_t *out);
void cache_get_class_counters(cache_t *c, unsigned cls, store_class_stats_t *out);

/* "stats reset" of every shard's counters (store_stats_reset). */
void cache_stats_reset(cache_t *c);

/* A walk over one shard's live items, slot by slot (store_visit), each slot under the shard's lock. */
size_t cache_slots(cache_t *c, unsigned shard);
void cache_visit(cache_t *c, unsigned shard, size_t n, size_t slot, store_visit_fn fn, void *arg);

/* Runs fn(store, arg) with the key's shard locked, so that several store calls on that key act as
 * one command (memcached's meta commands hold its item lock the same way). fn must not call cache_*. */
void cache_locked(cache_t *c, const char *key, size_t nkey, void (*fn)(store_t *store, void *arg), void *arg);

bool cache_too_large(const cache_t *c, size_t nkey, uint32_t flags, size_t nvalue);
/* Every shard tells fn of its evictions (store_on_evict); set before the cache is shared. */
void cache_on_evict(cache_t *c, store_evict_fn fn, void *arg);
/* store_set_evictions on every shard; set before the cache is shared. */
void cache_set_evictions(cache_t *c, bool on);
bool cache_evictions(const cache_t *c);
/* The size class (1-based) of an item of this shape: every shard has the same classes. */
unsigned cache_class_id(const cache_t *c, size_t nkey, uint32_t flags, size_t nvalue);
size_t cache_memory_limit(const cache_t *c);

/* "slabs reassign" from class cls: store_empty_page() in every shard. -1 when no shard had a page
 * to give, else the items evicted. */
long cache_empty_page(cache_t *c, unsigned cls);

/* memcached's cache_memlimit: a new limit for every shard, evicted down to by the sweep's ticks
 * when lower. -1 (nothing changed) when higher than the shards can grow to. */
int cache_set_memory_limit(cache_t *c, size_t limit);
size_t cache_max_item_size(const cache_t *c);
unsigned cache_shards(const cache_t *c);

#endif

/* store: the cache itself — items in an incrementally rehashed hash table, in memory from slab.h under a
 * limit, evicted by a clock hand. No I/O and no clock of its own: callers tell it the time.
 * Not thread-safe: one store is used by one thread at a time (cache.c shards and locks stores). */
#ifndef SC_STORE_H
#define SC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"
#include "slab.h"
#include "store_types.h"

#define STORE_KEY_MAX 250

/* "OK", "NOT_STORED", ...: the status without its STORE_ prefix. */
const char *store_status_name(store_status_t status);

typedef struct store_config {
    size_t memory_limit;       /* bytes of slab pages and big items, see slab.h */
    size_t max_item_size;
    uint64_t hash_seed;        /* 0: the store picks one; shards of a cache share theirs */
    store_cas_t *cas_source;   /* NULL: the store numbers its items itself */
    unsigned limit_growth;     /* how many times store_set_limit() may raise the limit (0, 1: none) */
} store_config_t;

store_t *store_create(const store_config_t *config);

/* Told of each live item the clock hand evicts, under the store's lock, before it goes (for
 * memcached's "watch evictions" lines): one indirect call per eviction. clsid is 1-based. */
typedef void (*store_evict_fn)(const item_t *it, unsigned clsid, uint32_t now, void *arg);
void store_on_evict(store_t *s, store_evict_fn fn, void *arg);

/* memcached's -M when off: a write that finds no room but in live items fails instead of evicting
 * one (expired and flushed items still make room; a lowered limit still evicts). */
void store_set_evictions(store_t *s, bool on);

/* A hash seed from the clock and an address; never 0. */
uint64_t store_random_seed(const void *salt);
void store_destroy(store_t *s);

/* Valid seed-protocol key: 1..250 bytes, none of them a control character, space or DEL. */
bool store_key_valid(const char *key, size_t nkey);

/* Finds a live item and takes a reference to it (release it with store_release), or returns NULL.
 * Marks it used, which spares it from the clock hand's next visit. O(key) plus one rehash step. */
item_t *store_get(store_t *s, const char *key, size_t nkey);

/* store_get that also sets the item's expiry (gat/gats). */
item_t *store_get_touch(store_t *s, const char *key, size_t nkey, uint32_t exptime);
void store_release(store_t *s, item_t *it);
/* One more reference to an item already found (release it with store_release), unless it has so
 * many that another could overflow the count: false then, and the caller copies what it needs. */
bool store_hold(store_t *s, item_t *it);

/* The live item with that key, or NULL, without a reference and without marking it: valid until
 * the store is next changed. For callers that hold the store (cache_locked). */
item_t *store_find(store_t *s, const char *key, size_t nkey);

/* Marks an item read (used and fetched), as a get does. */
void store_bump(store_t *s, item_t *it);

/* Gives a live item a new cas unique, as memcached does when it marks an item stale. */
void store_recas(store_t *s, item_t *it);

/* Stores according to w->mode, evicting with the clock hand (items not used since its last visit)
 * while the memory limit leaves no room. On STORE_OK, *cas_out (if not NULL) is the new item's cas
 * unique. O(key + value) plus bounded evictions: at most the items of one page, or of the bytes a
 * big item needs, plus a few spared recently used items. */
store_status_t store_write(store_t *s, const store_write_t *w, uint64_t *cas_out);

/* An unlinked item for a value still to arrive (memcached's item_alloc at the command line): key
 * and flags filled in, nvalue bytes of value to be written by the caller, held by the caller's
 * reference. Its memory is charged now, evicting as a write would (items, bytes, malloced and the
 * clock hand see it as an item a reader holds). NULL with *status STORE_TOO_LARGE (a value over
 * max_item_size, or an item no page holds) or STORE_NO_MEMORY. Commit it with store_write (set
 * w->reserved: store_write_reserved) or abandon it with store_release, which frees it. */
item_t *store_reserve(store_t *s, const char *key, size_t nkey, uint32_t flags, size_t nvalue,
                      store_status_t *status);

/* Points w's key, flags and value at a reserved item and marks w as committing it. */
static inline void store_write_reserved(store_write_t *w, item_t *it)
{
    w->key = item_key(it);
    w->nkey = it->nkey;
    w->flags = item_flags(it);
    w->value = item_value(it);
    w->nvalue = it->nvalue;
    w->reserved = it;
}

/* Plain set: store_write with STORE_MODE_SET. */
store_status_t store_set(store_t *s, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime);

/* The item marks a snapshot keeps (item.h): what the meta commands report about an item. */
#define STORE_RESTORED_MARKS (ITEM_FETCHED | ITEM_STALE | ITEM_KEY_BINARY)

/* Stores an item as a snapshot saved it: a set (w->mode is ignored; no command is counted), then
 * its saved cas unique, last access (store clock; a future one is taken as now) and the marks of
 * STORE_RESTORED_MARKS. The caller keeps the cas source above every unique it restores. */
store_status_t store_restore(store_t *s, const store_write_t *w, uint64_t cas, uint32_t atime, uint8_t marks);

/* The memory an item of these sizes takes: its slab block, or its big allocation. */
size_t store_footprint(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue);

/* incr/decr of a decimal value as memcached does: incr wraps at 2^64, decr stops at 0, and a
 * result shorter than the old value is padded with spaces in place. *result is the new number. */
store_status_t store_arith(store_t *s, const char *key, size_t nkey, bool incr, uint64_t delta,
                           uint64_t *result);

/* store_arith for the binary protocol: *cas in is the unique the item must have (0: any; else
 * STORE_EXISTS), out the new unique on STORE_OK. */
store_status_t store_arith_cas(store_t *s, const char *key, size_t nkey, bool incr, uint64_t delta,
                               uint64_t *result, uint64_t *cas);

/* Sets a live item's expiry: STORE_OK or STORE_NOT_FOUND. */
store_status_t store_touch(store_t *s, const char *key, size_t nkey, uint32_t exptime);

/* Removes the item with that key: STORE_OK or STORE_NOT_FOUND. */
store_status_t store_delete(store_t *s, const char *key, size_t nkey);

/* store_delete of an item whose unique is cas (0: any): STORE_EXISTS when it differs. */
store_status_t store_delete_cas(store_t *s, const char *key, size_t nkey, uint64_t cas);

/* Invalidates every item stored before store clock time `at` (0: now) without touching them;
 * their memory comes back as they are met (lookup, eviction or store_sweep). A later flush
 * replaces a pending one. */
void store_flush(store_t *s, uint32_t at);

/* Invalidates now every item whose cas unique is below `cas` (a horizon shared by all shards). */
void store_flush_before(store_t *s, uint64_t cas);

/* Frees expired and flushed items in the next max_buckets hash buckets and returns how many it
 * freed. Call it often with a small budget: each call does bounded work. */
size_t store_sweep(store_t *s, size_t max_buckets);

/* Up to `steps` bounded steps of the table's doubling, which otherwise advances only with
 * operations: a shard gone idle mid-way finishes from upkeep. Returns whether it still doubles. */
bool store_rehash(store_t *s, size_t steps);

/* "slabs reassign": evicts the items of the page of class cls that holds fewest, so that the page
 * goes back for any class to take (items a reader holds go when released). -1 when the class has
 * fewer than 2 pages, as memcached refuses to take a class's last page; else the items evicted. */
long store_empty_page(store_t *s, unsigned cls);

/* A new memory limit (see slab_set_limit: -1 when it cannot be raised that far). Memory over a
 * lowered limit goes as store_trim() evicts. */
int store_set_limit(store_t *s, size_t limit);

/* Evicts up to max_items, the clock hand's way but sparing nothing, while memory is over the
 * limit; returns how many it evicted. */
size_t store_trim(store_t *s, size_t max_items);

/* The store's clock, in seconds, used for expiry; the owner advances it. */
void store_set_clock(store_t *s, uint32_t now);

void store_get_stats(const store_t *s, store_stats_t *out);

/* memcached 1.6's header of an item with cas, on 64-bit: 48 bytes plus the 8-byte cas. */
#define STORE_MEMCACHED_ITEM_HEADER 56

/* The size memcached gives the same item (header, key, NUL, flags if not 0, value and CRLF): what
 * max_item_size limits and what "me" and the slab class reports show, so both servers agree. */
static inline size_t store_memcached_size(size_t nkey, uint32_t flags, size_t nvalue)
{
    return STORE_MEMCACHED_ITEM_HEADER + nkey + 1 + (flags ? 4 : 0) + nvalue + 2;
}

/* Whether an item is over max_item_size, measured by store_memcached_size() so that the same
 * items fit in both. */
bool store_too_large(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue);
/* The size class (1-based, as "stats slabs" numbers them) an item of this shape comes from. */
unsigned store_class_id(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue);

/* The bytes of one item: header, key, flags unless 0, and value. The memory it takes is this
 * rounded up to its slab class, or for a big item plus its allocation's overhead (slab_block_size()). */
static inline size_t store_item_size(size_t nkey, uint32_t flags, size_t nvalue)
{
    return sizeof(item_t) + nkey + (flags ? sizeof(flags) : 0) + nvalue;
}

/* Item classes: the allocator's size classes (ids 0..n-2), then one for items too big for a page
 * (id n-1: no pages, and its blocks are the big blocks). One class's slab figures and counters. */
unsigned store_classes(const store_t *s);
void store_get_class_stats(const store_t *s, unsigned cls, slab_class_stats_t *out);
void store_get_class_counters(const store_t *s, unsigned cls, store_class_stats_t *out);
unsigned store_item_class(const store_t *s, const item_t *it);

/* A walk over the live items, one slot at a time: calls fn on every live item whose hash falls in
 * slot `slot` of n (n a power of two, at most store_slots() when the walk began; see table_visit:
 * items present for the whole walk are each seen once). fn must not change the store. */
typedef void (*store_visit_fn)(const item_t *it, unsigned cls, void *arg);
void store_visit(store_t *s, size_t n, size_t slot, store_visit_fn fn, void *arg);
size_t store_slots(const store_t *s);

/* Counts a hit that the caller found itself (store_find): as a touch or a get, in its class. */
void store_count_hit(store_t *s, const item_t *it, bool touch);

/* "stats reset": every counter above from zero again; gauges (items, bytes, memory) stay. */
void store_stats_reset(store_t *s);

#endif

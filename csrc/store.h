/* store: the cache itself — items in an incrementally rehashed hash table, in memory from slab.h under a
 * limit, evicted by a clock hand. No I/O and no clock of its own: callers tell it the time.
 * Not thread-safe: one store is used by one thread at a time (cache.c shards and locks stores). */
#ifndef SC_STORE_H
#define SC_STORE_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slab.h"

#define STORE_KEY_MAX 250

typedef struct store store_t;

/* An item is one block of the slab allocator: this 32-byte header, then the key, then the value.
 * Readers hold a reference (store_get / store_release) so an item replaced or evicted while being
 * sent stays valid. There are no LRU links: eviction is a clock over the allocator's blocks, and
 * ITEM_USED is its "used since the hand last came by" mark. The key's hash is not kept either:
 * recomputing it when the table doubles or an item is evicted costs less than 8 bytes per item. */
enum item_state {
    ITEM_LINKED = 1,  /* in the hash table */
    ITEM_USED = 2,    /* read or updated since the clock hand last visited it, or stored where
                         the hand will come soon (new items behind the hand start without it) */
    /* Marks memcached keeps per item for its meta commands (proto_meta.c): */
    ITEM_FETCHED = 4,     /* read by a get, gat, touch or mg since it was stored */
    ITEM_STALE = 8,       /* invalidated by "md <key> I": served, but marked stale */
    ITEM_TOKEN_SENT = 16, /* an mg client has been told it won the right to recache it */
    ITEM_KEY_BINARY = 32, /* stored by "ms <base64 key> b": shown base64-encoded again */
};

typedef struct item {
    struct item *hnext;                /* hash chain */
    uint64_t cas;
    uint32_t nvalue;
    uint32_t flags;
    uint32_t exptime;                  /* store clock seconds; 0 = never */
    uint16_t refs;
    uint8_t nkey;
    uint8_t state;                     /* enum item_state bits */
    char data[];
} item_t;

static inline const char *item_key(const item_t *it) { return it->data; }
static inline const char *item_value(const item_t *it) { return it->data + it->nkey; }

/* Outcomes of store operations, defined once: the enum and the names lib/ sees come from here. */
#define STORE_STATUSES(X)                                                                         \
    X(OK)                                                                                         \
    X(NOT_STORED)  /* add of a present key; replace/append/prepend of an absent one */            \
    X(EXISTS)      /* cas mismatch */                                                             \
    X(NOT_FOUND)                                                                                  \
    X(NON_NUMERIC) /* incr/decr of a value that is not a decimal number */                        \
    X(TOO_LARGE)   /* over max_item_size, or larger than the memory limit */                      \
    X(NO_MEMORY)   /* malloc failed, or no room could be made: every item is held by a reader */

typedef enum store_status {
#define X(name) STORE_##name,
    STORE_STATUSES(X)
#undef X
} store_status_t;

/* "OK", "NOT_STORED", ...: the status without its STORE_ prefix. */
const char *store_status_name(store_status_t status);

typedef enum store_mode {
    STORE_MODE_SET,
    STORE_MODE_ADD,
    STORE_MODE_REPLACE,
    STORE_MODE_APPEND,   /* keeps the old item's flags and expiry; a cas other than 0 must match */
    STORE_MODE_PREPEND,
    STORE_MODE_CAS,
} store_mode_t;

typedef struct store_write {
    store_mode_t mode;
    const char *key;
    size_t nkey;
    const char *value;
    size_t nvalue;
    uint32_t flags;
    uint32_t exptime;  /* store clock; 0 = never */
    uint64_t cas;      /* for STORE_MODE_CAS: the unique the client last saw */
} store_write_t;

/* Counters the store itself keeps; protocol counters live in the engine. */
typedef struct store_stats {
    uint64_t items;        /* linked items */
    uint64_t bytes;        /* store_item_size() of every allocated item, as memcached counts its
                              items' own sizes; the memory they take is `malloced` */
    uint64_t malloced;     /* what the memory limit counts: slab pages in use plus big items */
    uint64_t total_items;  /* items ever stored */
    uint64_t evictions;    /* live items removed to make room under the memory limit */
    uint64_t reclaimed;    /* expired or flushed items whose memory was taken back */
    uint64_t buckets;      /* hash table slots, both tables while rehashing */
} store_stats_t;

/* The source of cas uniques: a counter that several stores may share. (Opaque to C++, which
 * only includes this header for the types around it.) */
#ifdef __cplusplus
typedef struct store_cas store_cas_t;
#else
typedef _Atomic uint64_t store_cas_t;
#endif

typedef struct store_config {
    size_t memory_limit;       /* bytes of slab pages and big items, see slab.h */
    size_t max_item_size;
    uint64_t hash_seed;        /* 0: the store picks one; shards of a cache share theirs */
    store_cas_t *cas_source;   /* NULL: the store numbers its items itself */
} store_config_t;

store_t *store_create(const store_config_t *config);

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

/* Plain set: store_write with STORE_MODE_SET. */
store_status_t store_set(store_t *s, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime);

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

/* The bytes of one item: header, key and value. The memory it takes is this rounded up to its
 * slab class, or for a big item plus its allocation's overhead (slab_block_size()). */
static inline size_t store_item_size(size_t nkey, size_t nvalue)
{
    return sizeof(item_t) + nkey + nvalue;
}

/* The allocator's size classes (ids 0..n-1) and one class's figures, for "stats slabs". */
unsigned store_slab_classes(const store_t *s);
void store_get_class_stats(const store_t *s, unsigned cls, slab_class_stats_t *out);

#endif

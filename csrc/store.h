/* store: the cache itself — items in an incrementally rehashed hash table, an LRU list and a memory limit.
 * No I/O and no clock of its own: callers pass bytes in and tell it the time with store_set_clock(). */
#ifndef SC_STORE_H
#define SC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 250

typedef struct store store_t;

/* An item is one allocation: this header, then the key, then the value. Readers hold a reference
 * (store_get / store_release) so an item replaced or evicted while being sent stays valid. */
typedef struct item {
    struct item *hnext;                /* hash chain */
    struct item *lru_prev, *lru_next;  /* lru_prev is towards the most recently used end */
    uint64_t cas;
    uint64_t hash;
    uint32_t nvalue;
    uint32_t flags;
    uint32_t exptime;                  /* store clock seconds; 0 = never */
    uint16_t refs;
    uint8_t nkey;
    uint8_t linked;                    /* in the hash table and LRU */
    char data[];
} item_t;

static inline const char *item_key(const item_t *it) { return it->data; }
static inline const char *item_value(const item_t *it) { return it->data + it->nkey; }

typedef enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_TOO_LARGE,  /* value longer than max_item_size, or item larger than the memory limit */
    STORE_NO_MEMORY,  /* malloc failed */
} store_status_t;

typedef struct store_stats {
    uint64_t items;        /* linked items */
    uint64_t bytes;        /* accounted bytes of every allocated item, see store_item_size() */
    uint64_t total_items;  /* items ever stored */
    uint64_t evictions;    /* live items removed to respect the memory limit */
    uint64_t buckets;      /* hash table slots, both tables while rehashing */
} store_stats_t;

store_t *store_create(size_t memory_limit, size_t max_item_size);
void store_destroy(store_t *s);

/* Valid memcached key: 1..250 bytes, none of them a control character, space or DEL. */
bool store_key_valid(const char *key, size_t nkey);

/* Finds a live item and takes a reference to it (release it with store_release), or returns NULL.
 * Counts as a use for the LRU. O(key) plus one bounded rehash step. */
item_t *store_get(store_t *s, const char *key, size_t nkey);
void store_release(store_t *s, item_t *it);

/* Stores a copy of key and value, replacing any item with that key, evicting least recently used
 * items while the memory limit would be passed. O(key + value) plus bounded evictions. */
store_status_t store_set(store_t *s, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime);

/* Removes the item with that key: STORE_OK or STORE_NOT_FOUND. */
store_status_t store_delete(store_t *s, const char *key, size_t nkey);

/* The store's clock, in seconds, used for expiry; the owner advances it (e.g. from a timer). */
void store_set_clock(store_t *s, uint32_t now);

void store_get_stats(const store_t *s, store_stats_t *out);
size_t store_memory_limit(const store_t *s);
size_t store_max_item_size(const store_t *s);

/* What one item counts against the memory limit: header, key and value. */
static inline size_t store_item_size(size_t nkey, size_t nvalue)
{
    return sizeof(item_t) + nkey + nvalue;
}

#endif

/* item: the layout of one cached item — a 32-byte header, then the key, then the value — and the
 * marks it carries. Shared by the store, its index (table.h) and the protocols that read items. */
#ifndef SC_ITEM_H
#define SC_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Each item is one block of the slab allocator. Readers hold a reference (store_get / store_release) so an item replaced or evicted while being
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
    ITEM_HAS_FLAGS = 64,  /* client flags other than 0 follow the key (memcached's layout too) */
};

/* Client flags live after the key, and only when not 0: most items have none, and the 4 bytes
 * they would take in every header pay for the last-access time instead. */
typedef struct item {
    struct item *hnext;                /* hash chain */
    uint64_t cas;
    uint32_t nvalue;
    uint32_t exptime;                  /* store clock seconds; 0 = never */
    uint32_t atime;                    /* store clock seconds of the last store or read */
    uint16_t refs;
    uint8_t nkey;
    uint8_t state;                     /* enum item_state bits */
    char data[];                       /* key, flags if ITEM_HAS_FLAGS, value */
} item_t;

static inline const char *item_key(const item_t *it) { return it->data; }

/* The marks change under the shard's lock while threads holding only a reference read the bits
 * fixed at store time (ITEM_HAS_FLAGS): relaxed atomics, plain loads and stores on the machines we
 * build for, make that well defined. Writers still hold the lock, so a load and a store suffice. */
static inline uint8_t item_state(const item_t *it) { return __atomic_load_n(&it->state, __ATOMIC_RELAXED); }

static inline void item_set_state(item_t *it, uint8_t state) { __atomic_store_n(&it->state, state, __ATOMIC_RELAXED); }
static inline void item_mark(item_t *it, uint8_t bits) { item_set_state(it, (uint8_t)(item_state(it) | bits)); }
static inline void item_unmark(item_t *it, uint8_t bits) { item_set_state(it, (uint8_t)(item_state(it) & ~bits)); }

static inline size_t item_flags_size(const item_t *it) { return (item_state(it) & ITEM_HAS_FLAGS) ? 4 : 0; }

static inline uint32_t item_flags(const item_t *it)
{
    uint32_t flags = 0;
    if (item_state(it) & ITEM_HAS_FLAGS)
        memcpy(&flags, it->data + it->nkey, sizeof(flags));
    return flags;
}

static inline const char *item_value(const item_t *it) { return it->data + it->nkey + item_flags_size(it); }

/* The bytes of one item: header, key, flags unless 0, and value. */
static inline size_t item_size(const item_t *it)
{
    return sizeof(item_t) + it->nkey + item_flags_size(it) + it->nvalue;
}

#endif

/* store_types: the store's value types — statuses, write requests, counters, the cas source —
 * shared by its public header (store.h) and the private one its two files share (store_impl.h). */
#ifndef SC_STORE_TYPES_H
#define SC_STORE_TYPES_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

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
    struct item *reserved; /* store_reserve()'s item, whose key, flags and value the fields above
                            * point into (store_write_reserved): linked as it is, or read by an
                            * append/prepend, and given up by the write whatever its outcome.
                            * NULL: the value is copied from `value` into a new item. */
} store_write_t;

/* What the store itself keeps (protocol counters live in the engine), defined once and expanded
 * wherever they are listed: gauges, then counters, which "stats reset" zeroes. Names after `buckets`
 * follow what memcached counts in "stats"; docs/stats.md says what each means here. */
#define STORE_GAUGES(X)                                                                           \
    X(items)          /* linked items */                                                          \
    X(bytes)          /* store_item_size() of every allocated item, as memcached counts its       \
                         items' own sizes; the memory they take is `malloced` */                  \
    X(malloced)       /* what the memory limit counts: slab pages in use plus big items */        \
    X(buckets)        /* hash table slots, both tables while rehashing */                         \
    X(expanding)      /* 1 while the hash table doubles */                                        \
    X(spare_pages)    /* emptied pages kept for whichever class needs one next */

#define STORE_COUNTERS(X)                                                                         \
    X(total_items)    /* items ever stored */                                                     \
    X(evictions)      /* live items removed to make room under the memory limit */                \
    X(reclaimed)      /* expired or flushed items whose memory was taken back */                  \
    X(get_expired)    /* lookups that found their item expired */                                 \
    X(get_flushed)    /* lookups that found their item flushed */                                 \
    X(malloc_fails)   /* allocations that failed for want of memory from the system */            \
    X(sweeps)         /* passes of store_sweep() begun over the table: memcached's crawls */      \
    X(direct_reclaims) /* allocations that had to run the clock hand to find room */              \
    X(passed_referenced) /* items the hand passed over because a reader held them */          \
    X(slabs_moved)    /* pages emptied on request ("slabs reassign") for any class to take */

typedef struct store_stats {
#define X(name) uint64_t name;
    STORE_GAUGES(X)
    STORE_COUNTERS(X)
#undef X
} store_stats_t;

/* Per size class counters, as memcached's "stats slabs" (the operations) and "stats items" (the
 * fate of items) name them; defined once and expanded wherever they are listed. */
#define STORE_CLASS_COUNTERS(X)                                                                   \
    X(get_hits)                                                                                   \
    X(cmd_set)          /* storage commands whose item was of this size, stored or not */        \
    X(delete_hits)                                                                                \
    X(incr_hits)                                                                                  \
    X(decr_hits)                                                                                  \
    X(cas_hits)                                                                                   \
    X(cas_badval)                                                                                 \
    X(touch_hits)                                                                                 \
    X(evicted)                                                                                    \
    X(evicted_nonzero)  /* evicted with an expiry set */                                          \
    X(evicted_unfetched) /* evicted never read */                                                 \
    X(evicted_active)   /* evicted though read since the hand's last visit (out of chances) */    \
    X(outofmemory)      /* stores refused for want of room */                                     \
    X(reclaimed)        /* expired or flushed items freed */                                      \
    X(expired_unfetched) /* of those, never read */                                               \
    X(crawler_reclaimed) /* of those, freed by store_sweep() */                                   \
    X(crawler_items_checked) /* items store_sweep() looked at */                                  \
    X(moves_to_warm)    /* second chances: read since the hand's last visit, so spared */

typedef struct store_class_stats {
#define X(name) uint64_t name;
    STORE_CLASS_COUNTERS(X)
#undef X
    uint64_t mem_requested; /* store_item_size() of this class's items (not reset) */
    uint64_t age;           /* seconds since the oldest last access the sweep's last pass saw */
    uint64_t evicted_time;  /* seconds the last evicted item had gone unread */
} store_class_stats_t;

/* The source of cas uniques: a counter that several stores may share. (Opaque to C++, which
 * only includes this header for the types around it.) */
#ifdef __cplusplus
typedef struct store_cas store_cas_t;
#else
typedef _Atomic uint64_t store_cas_t;
#endif

#endif

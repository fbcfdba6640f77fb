/* cache: shards of the store behind mutexes. A key's shard comes from the top bits of the same
 * seeded hash whose low bits pick its bucket in the shard's table. */
#include "cache.h"

#include <pthread.h>
#include <string.h>
#include <stdlib.h>

#include "hash.h"

#define CACHE_TRIM_ITEMS 4096 /* items evicted per sweep call while a shard is over a lowered limit */
#define CACHE_REHASH_STEPS 256 /* doubling steps per sweep call (each moves at most 4 buckets) */
#define CACHE_LINE 64

/* Each shard's lock on its own cache line, so that threads working on two shards never write the
 * same line. */
typedef struct shard {
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    store_t *store;
} shard_t;

/* The lines every request reads (the shards' addresses, the clock) are apart from the one each
 * store writes (the cas counter): a read on one thread never misses because a set ran on another. */
struct cache {
    shard_t shards[CACHE_MAX_SHARDS];
    _Alignas(CACHE_LINE) unsigned nshards;
    uint64_t hash_seed;
    _Atomic uint32_t clock;      /* written once a second at most (cache_set_clock) */
    _Atomic uint64_t clock_writes;
    _Atomic size_t memory_limit; /* cache_memlimit may change it from any thread */
    size_t max_item_size;
    bool evictions_off;          /* memcached's -M (set before the cache is shared) */
    _Alignas(CACHE_LINE) store_cas_t cas; /* one counter for all shards: cas uniques are unique */
    _Alignas(CACHE_LINE) _Atomic unsigned sweep_next;
};

static shard_t *_shard_of_hash(cache_t *c, uint64_t hash)
{
    return &c->shards[(hash >> 40) % c->nshards];
}

static shard_t *_shard(cache_t *c, const char *key, size_t nkey)
{
    if (c->nshards == 1)
        return &c->shards[0];
    return _shard_of_hash(c, hash_key(c->hash_seed, key, nkey));
}

cache_t *cache_create(size_t memory_limit, size_t max_item_size, unsigned nshards, unsigned limit_growth)
{
    if (nshards < 1 || nshards > CACHE_MAX_SHARDS)
        return NULL;
    cache_t *c = aligned_alloc(CACHE_LINE, sizeof(*c));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->nshards = nshards;
    c->hash_seed = store_random_seed(c);
    c->memory_limit = memory_limit;
    c->max_item_size = max_item_size;
    atomic_init(&c->cas, 1);
    store_config_t config = {memory_limit / nshards, max_item_size, c->hash_seed, &c->cas, limit_growth};
    for (unsigned i = 0; i < nshards; i++) {
        c->shards[i].store = store_create(&config);
        if (c->shards[i].store == NULL || pthread_mutex_init(&c->shards[i].lock, NULL) != 0) {
            store_destroy(c->shards[i].store);
            c->nshards = i;
            cache_destroy(c);
            return NULL;
        }
    }
    return c;
}

void cache_destroy(cache_t *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        store_destroy(c->shards[i].store);
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    free(c);
}

/* Runs `call` (an expression using `store`) on the key's shard with its lock held. */
#define WITH_SHARD(c, key, nkey, call)                        \
    do {                                                      \
        shard_t *shard_ = _shard((c), (key), (nkey));         \
        store_t *store = shard_->store;                       \
        pthread_mutex_lock(&shard_->lock);                    \
        call;                                                 \
        pthread_mutex_unlock(&shard_->lock);                  \
    } while (0)

item_t *cache_get(cache_t *c, const char *key, size_t nkey)
{
    item_t *it;
    WITH_SHARD(c, key, nkey, it = store_get(store, key, nkey));
    return it;
}

item_t *cache_get_touch(cache_t *c, const char *key, size_t nkey, uint32_t exptime)
{
    item_t *it;
    WITH_SHARD(c, key, nkey, it = store_get_touch(store, key, nkey, exptime));
    return it;
}

void cache_locked(cache_t *c, const char *key, size_t nkey, void (*fn)(store_t *store, void *arg), void *arg)
{
    WITH_SHARD(c, key, nkey, fn(store, arg));
}

store_status_t cache_restore(cache_t *c, const store_write_t *w, uint64_t cas, uint32_t atime, uint8_t marks)
{
    store_status_t st;
    WITH_SHARD(c, w->key, w->nkey, st = store_restore(store, w, cas, atime, marks));
    uint64_t next = atomic_load_explicit(&c->cas, memory_order_relaxed);
    while (next <= cas && !atomic_compare_exchange_weak_explicit(&c->cas, &next, cas + 1, memory_order_relaxed,
                                                                 memory_order_relaxed)) {
    }
    return st;
}

size_t cache_footprint(cache_t *c, size_t nkey, uint32_t flags, size_t nvalue)
{
    pthread_mutex_lock(&c->shards[0].lock);
    size_t n = store_footprint(c->shards[0].store, nkey, flags, nvalue);
    pthread_mutex_unlock(&c->shards[0].lock);
    return n;
}

bool cache_hold(cache_t *c, item_t *it)
{
    shard_t *shard = _shard(c, item_key(it), it->nkey);
    pthread_mutex_lock(&shard->lock);
    bool held = store_hold(shard->store, it);
    pthread_mutex_unlock(&shard->lock);
    return held;
}

void cache_release(cache_t *c, item_t *it)
{
    shard_t *shard = _shard(c, item_key(it), it->nkey);
    pthread_mutex_lock(&shard->lock);
    store_release(shard->store, it);
    pthread_mutex_unlock(&shard->lock);
}

store_status_t cache_write(cache_t *c, const store_write_t *w, uint64_t *cas_out)
{
    store_status_t st;
    WITH_SHARD(c, w->key, w->nkey, st = store_write(store, w, cas_out));
    return st;
}

item_t *cache_reserve(cache_t *c, const char *key, size_t nkey, uint32_t flags, size_t nvalue,
                      store_status_t *status)
{
    item_t *it;
    WITH_SHARD(c, key, nkey, it = store_reserve(store, key, nkey, flags, nvalue, status));
    return it;
}

store_status_t cache_set(cache_t *c, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_set(store, key, nkey, value, nvalue, flags, exptime));
    return st;
}

store_status_t cache_arith(cache_t *c, const char *key, size_t nkey, bool incr, uint64_t delta, uint64_t *result)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_arith(store, key, nkey, incr, delta, result));
    return st;
}

store_status_t cache_arith_cas(cache_t *c, const char *key, size_t nkey, bool incr, uint64_t delta,
                               uint64_t *result, uint64_t *cas)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_arith_cas(store, key, nkey, incr, delta, result, cas));
    return st;
}

store_status_t cache_delete_cas(cache_t *c, const char *key, size_t nkey, uint64_t cas)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_delete_cas(store, key, nkey, cas));
    return st;
}

store_status_t cache_touch(cache_t *c, const char *key, size_t nkey, uint32_t exptime)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_touch(store, key, nkey, exptime));
    return st;
}

store_status_t cache_delete(cache_t *c, const char *key, size_t nkey)
{
    store_status_t st;
    WITH_SHARD(c, key, nkey, st = store_delete(store, key, nkey));
    return st;
}

void cache_flush(cache_t *c, uint32_t at)
{
    uint64_t horizon = atomic_load_explicit(&c->cas, memory_order_relaxed);
    bool now = at == 0 || at <= cache_clock(c);
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        if (now)
            store_flush_before(c->shards[i].store, horizon);
        else
            store_flush(c->shards[i].store, at);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

size_t cache_sweep(cache_t *c, size_t max_buckets)
{
    shard_t *shard = &c->shards[atomic_fetch_add(&c->sweep_next, 1) % c->nshards];
    pthread_mutex_lock(&shard->lock);
    size_t freed = store_sweep(shard->store, max_buckets);
    store_rehash(shard->store, CACHE_REHASH_STEPS);
    store_trim(shard->store, CACHE_TRIM_ITEMS);
    pthread_mutex_unlock(&shard->lock);
    return freed;
}

void cache_set_clock(cache_t *c, uint32_t now)
{
    /* A read first: every group's tick calls this, and only the first call of a new second writes. */
    if (atomic_load_explicit(&c->clock, memory_order_relaxed) == now || atomic_exchange(&c->clock, now) == now)
        return;
    atomic_fetch_add_explicit(&c->clock_writes, 1, memory_order_relaxed);
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        store_set_clock(c->shards[i].store, now);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

uint64_t cache_clock_writes(const cache_t *c)
{
    return atomic_load_explicit(&c->clock_writes, memory_order_relaxed);
}

uint32_t cache_clock(const cache_t *c)
{
    return atomic_load_explicit(&c->clock, memory_order_relaxed);
}

void cache_get_stats(cache_t *c, store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < c->nshards; i++) {
        store_stats_t st;
        pthread_mutex_lock(&c->shards[i].lock);
        store_get_stats(c->shards[i].store, &st);
        pthread_mutex_unlock(&c->shards[i].lock);
#define X(name) out->name += st.name;
        STORE_GAUGES(X)
        STORE_COUNTERS(X)
#undef X
    }
}

unsigned cache_classes(const cache_t *c)
{
    return store_classes(c->shards[0].store);
}

size_t cache_slots(cache_t *c, unsigned shard)
{
    pthread_mutex_lock(&c->shards[shard].lock);
    size_t n = store_slots(c->shards[shard].store);
    pthread_mutex_unlock(&c->shards[shard].lock);
    return n;
}

void cache_visit(cache_t *c, unsigned shard, size_t n, size_t slot, store_visit_fn fn, void *arg)
{
    pthread_mutex_lock(&c->shards[shard].lock);
    store_visit(c->shards[shard].store, n, slot, fn, arg);
    pthread_mutex_unlock(&c->shards[shard].lock);
}

void cache_get_class_stats(cache_t *c, unsigned cls, slab_class_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < c->nshards; i++) {
        slab_class_stats_t st;
        pthread_mutex_lock(&c->shards[i].lock);
        store_get_class_stats(c->shards[i].store, cls, &st);
        pthread_mutex_unlock(&c->shards[i].lock);
        out->block_size = st.block_size;
        out->per_page = st.per_page;
        out->pages += st.pages;
        out->used += st.used;
    }
}

void cache_get_class_counters(cache_t *c, unsigned cls, store_class_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < c->nshards; i++) {
        store_class_stats_t st;
        pthread_mutex_lock(&c->shards[i].lock);
        store_get_class_counters(c->shards[i].store, cls, &st);
        pthread_mutex_unlock(&c->shards[i].lock);
#define X(name) out->name += st.name;
        STORE_CLASS_COUNTERS(X)
#undef X
        out->mem_requested += st.mem_requested;
        out->age = st.age > out->age ? st.age : out->age;
        out->evicted_time = st.evicted_time > out->evicted_time ? st.evicted_time : out->evicted_time;
    }
}

void cache_stats_reset(cache_t *c)
{
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        store_stats_reset(c->shards[i].store);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

bool cache_too_large(const cache_t *c, size_t nkey, uint32_t flags, size_t nvalue)
{
    return store_too_large(c->shards[0].store, nkey, flags, nvalue);
}

void cache_set_evictions(cache_t *c, bool on)
{
    c->evictions_off = !on;
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        store_set_evictions(c->shards[i].store, on);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

bool cache_evictions(const cache_t *c)
{
    return !c->evictions_off;
}

void cache_on_evict(cache_t *c, store_evict_fn fn, void *arg)
{
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        store_on_evict(c->shards[i].store, fn, arg);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

unsigned cache_class_id(const cache_t *c, size_t nkey, uint32_t flags, size_t nvalue)
{
    return store_class_id(c->shards[0].store, nkey, flags, nvalue);
}

size_t cache_memory_limit(const cache_t *c)
{
    return atomic_load_explicit(&c->memory_limit, memory_order_relaxed);
}

long cache_empty_page(cache_t *c, unsigned cls)
{
    long evicted = -1;
    for (unsigned i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        long n = store_empty_page(c->shards[i].store, cls);
        pthread_mutex_unlock(&c->shards[i].lock);
        if (n >= 0)
            evicted = (evicted < 0 ? 0 : evicted) + n;
    }
    return evicted;
}

int cache_set_memory_limit(cache_t *c, size_t limit)
{
    int rc = 0;
    for (unsigned i = 0; i < c->nshards && rc == 0; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
        rc = store_set_limit(c->shards[i].store, limit / c->nshards);
        pthread_mutex_unlock(&c->shards[i].lock);
    }
    if (rc != 0) { /* put back the shards already changed */
        for (unsigned i = 0; i < c->nshards; i++) {
            pthread_mutex_lock(&c->shards[i].lock);
            store_set_limit(c->shards[i].store, cache_memory_limit(c) / c->nshards);
            pthread_mutex_unlock(&c->shards[i].lock);
        }
        return -1;
    }
    atomic_store_explicit(&c->memory_limit, limit, memory_order_relaxed);
    return 0;
}

size_t cache_max_item_size(const cache_t *c)
{
    return c->max_item_size;
}

unsigned cache_shards(const cache_t *c)
{
    return c->nshards;
}

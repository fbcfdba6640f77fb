/* store: items in a chained hash table that doubles incrementally, an LRU list and a memory limit.
 * Every operation does O(key + value) work plus one bounded rehash step, never a full-table walk. */
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_INITIAL_BUCKETS 4096
#define REHASH_BUCKETS_PER_STEP 4    /* buckets moved per operation while doubling */
#define REHASH_EMPTY_VISITS 40       /* empty buckets skipped per step, so a step is bounded */

typedef struct table {
    item_t **buckets;
    size_t mask;   /* buckets - 1; the size is a power of two */
} table_t;

struct store {
    table_t tables[2];  /* while doubling, items move from tables[0] to tables[1] */
    size_t rehash_next; /* next bucket of tables[0] to move; meaningful while tables[1] exists */
    item_t *lru_head;   /* most recently used */
    item_t *lru_tail;
    uint64_t hash_seed;
    uint64_t next_cas;
    uint32_t now;
    size_t memory_limit;
    size_t max_item_size;
    store_stats_t stats;
};

/* A multiply-xorshift hash over 8-byte words, seeded per store so that chain lengths cannot be
 * predicted by clients. Not cryptographic; its job is spreading keys over buckets cheaply. */
static uint64_t _mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    return h ^ (h >> 32);
}

static uint64_t _hash(uint64_t seed, const char *key, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    uint64_t word;
    while (n >= 8) {
        memcpy(&word, key, 8);
        h = (h ^ word) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
        key += 8;
        n -= 8;
    }
    word = 0;
    memcpy(&word, key, n);
    return _mix(h ^ word);
}

static bool _expired(const store_t *s, const item_t *it)
{
    return it->exptime != 0 && it->exptime <= s->now;
}

static int _table_init(table_t *t, size_t nbuckets)
{
    t->buckets = calloc(nbuckets, sizeof(item_t *));
    if (t->buckets == NULL)
        return -1;
    t->mask = nbuckets - 1;
    return 0;
}

static bool _rehashing(const store_t *s)
{
    return s->tables[1].buckets != NULL;
}

static void _rehash_step(store_t *s)
{
    if (!_rehashing(s))
        return;
    table_t *from = &s->tables[0], *to = &s->tables[1];
    int moved = 0, empty = 0;
    while (s->rehash_next <= from->mask && moved < REHASH_BUCKETS_PER_STEP && empty < REHASH_EMPTY_VISITS) {
        item_t *it = from->buckets[s->rehash_next];
        if (it == NULL) {
            empty++;
        } else {
            moved++;
        }
        while (it != NULL) {
            item_t *next = it->hnext;
            item_t **head = &to->buckets[it->hash & to->mask];
            it->hnext = *head;
            *head = it;
            it = next;
        }
        from->buckets[s->rehash_next++] = NULL;
    }
    if (s->rehash_next > from->mask) {
        free(from->buckets);
        *from = *to;
        to->buckets = NULL;
        to->mask = 0;
    }
}

/* Starts doubling when there are more items than buckets. If the bigger table cannot be
 * allocated the store keeps working with longer chains and tries again later. */
static void _maybe_grow(store_t *s)
{
    table_t *t = &s->tables[0];
    if (_rehashing(s) || s->stats.items <= t->mask + 1)
        return;
    if (_table_init(&s->tables[1], (t->mask + 1) * 2) != 0)
        return;
    s->rehash_next = 0;
}

/* The link that points at the item with this key, or at the NULL ending its chain. */
static item_t **_find_link(store_t *s, uint64_t hash, const char *key, size_t nkey)
{
    for (int i = 0; i < 2; i++) {
        table_t *t = &s->tables[i];
        if (t->buckets == NULL)
            break;
        /* Buckets of tables[0] below rehash_next have already moved to tables[1]. */
        if (i == 0 && _rehashing(s) && (hash & t->mask) < s->rehash_next)
            continue;
        item_t **link = &t->buckets[hash & t->mask];
        for (; *link != NULL; link = &(*link)->hnext) {
            item_t *it = *link;
            if (it->hash == hash && it->nkey == nkey && memcmp(it->data, key, nkey) == 0)
                return link;
        }
    }
    return NULL;
}

static void _lru_unlink(store_t *s, item_t *it)
{
    if (it->lru_prev)
        it->lru_prev->lru_next = it->lru_next;
    else
        s->lru_head = it->lru_next;
    if (it->lru_next)
        it->lru_next->lru_prev = it->lru_prev;
    else
        s->lru_tail = it->lru_prev;
    it->lru_prev = it->lru_next = NULL;
}

static void _lru_push_head(store_t *s, item_t *it)
{
    it->lru_prev = NULL;
    it->lru_next = s->lru_head;
    if (s->lru_head)
        s->lru_head->lru_prev = it;
    else
        s->lru_tail = it;
    s->lru_head = it;
}

static void _item_free(store_t *s, item_t *it)
{
    s->stats.bytes -= store_item_size(it->nkey, it->nvalue);
    free(it);
}

/* Removes the item at *link from the table and the LRU; frees it unless a reader holds it. */
static void _unlink(store_t *s, item_t **link)
{
    item_t *it = *link;
    *link = it->hnext;
    it->hnext = NULL;
    _lru_unlink(s, it);
    it->linked = 0;
    s->stats.items--;
    if (it->refs == 0)
        _item_free(s, it);
}

static void _evict_lru_tail(store_t *s)
{
    item_t *victim = s->lru_tail;
    item_t **link = _find_link(s, victim->hash, victim->data, victim->nkey);
    if (!_expired(s, victim))
        s->stats.evictions++;
    _unlink(s, link);
}

store_t *store_create(size_t memory_limit, size_t max_item_size)
{
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (_table_init(&s->tables[0], STORE_INITIAL_BUCKETS) != 0) {
        free(s);
        return NULL;
    }
    s->memory_limit = memory_limit;
    s->max_item_size = max_item_size;
    s->hash_seed = _mix((uint64_t)(uintptr_t)s ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock());
    s->next_cas = 1;
    return s;
}

void store_destroy(store_t *s)
{
    if (s == NULL)
        return;
    item_t *it = s->lru_head;
    while (it != NULL) {
        item_t *next = it->lru_next;
        free(it);
        it = next;
    }
    free(s->tables[0].buckets);
    free(s->tables[1].buckets);
    free(s);
}

bool store_key_valid(const char *key, size_t nkey)
{
    if (nkey == 0 || nkey > STORE_KEY_MAX)
        return false;
    for (size_t i = 0; i < nkey; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

item_t *store_get(store_t *s, const char *key, size_t nkey)
{
    _rehash_step(s);
    uint64_t hash = _hash(s->hash_seed, key, nkey);
    item_t **link = _find_link(s, hash, key, nkey);
    if (link == NULL)
        return NULL;
    item_t *it = *link;
    if (_expired(s, it)) {
        _unlink(s, link);
        return NULL;
    }
    if (s->lru_head != it) {
        _lru_unlink(s, it);
        _lru_push_head(s, it);
    }
    it->refs++;
    return it;
}

void store_release(store_t *s, item_t *it)
{
    if (--it->refs == 0 && !it->linked)
        _item_free(s, it);
}

store_status_t store_set(store_t *s, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime)
{
    size_t size = store_item_size(nkey, nvalue);
    if (nvalue > s->max_item_size || size > s->memory_limit)
        return STORE_TOO_LARGE;
    _rehash_step(s);
    while (s->stats.bytes + size > s->memory_limit && s->lru_tail != NULL)
        _evict_lru_tail(s);

    item_t *it = malloc(size);
    if (it == NULL)
        return STORE_NO_MEMORY;
    memset(it, 0, sizeof(*it));
    memcpy(it->data, key, nkey);
    memcpy(it->data + nkey, value, nvalue);
    it->nkey = (uint8_t)nkey;
    it->nvalue = (uint32_t)nvalue;
    it->flags = flags;
    it->exptime = exptime;
    it->cas = s->next_cas++;
    it->hash = _hash(s->hash_seed, key, nkey);
    it->linked = 1;
    s->stats.bytes += size;

    item_t **link = _find_link(s, it->hash, key, nkey);
    if (link != NULL) {
        _unlink(s, link);
    } else {
        table_t *t = &s->tables[_rehashing(s) ? 1 : 0];
        link = &t->buckets[it->hash & t->mask];
    }
    /* Insert where the old item was (or at the chain head): the chain stays intact either way. */
    it->hnext = *link;
    *link = it;
    _lru_push_head(s, it);
    s->stats.items++;
    s->stats.total_items++;
    _maybe_grow(s);
    return STORE_OK;
}

store_status_t store_delete(store_t *s, const char *key, size_t nkey)
{
    _rehash_step(s);
    item_t **link = _find_link(s, _hash(s->hash_seed, key, nkey), key, nkey);
    if (link == NULL)
        return STORE_NOT_FOUND;
    bool expired = _expired(s, *link);
    _unlink(s, link);
    return expired ? STORE_NOT_FOUND : STORE_OK;
}

void store_set_clock(store_t *s, uint32_t now)
{
    s->now = now;
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    *out = s->stats;
    out->buckets = s->tables[0].mask + 1 + (_rehashing(s) ? s->tables[1].mask + 1 : 0);
}

size_t store_memory_limit(const store_t *s)
{
    return s->memory_limit;
}

size_t store_max_item_size(const store_t *s)
{
    return s->max_item_size;
}

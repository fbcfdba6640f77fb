/* table: a chained hash table that doubles by moving a few buckets per call, as Redis's dict does,
 * so the worst call is bounded; an item is found in the old half or, past rehash_next, the new. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define REHASH_BUCKETS_PER_STEP 4    /* buckets moved per step while doubling */
#define REHASH_EMPTY_VISITS 40       /* empty buckets skipped per step, so a step is bounded */

static int _half_init(table_half_t *h, size_t nbuckets)
{
    h->buckets = calloc(nbuckets, sizeof(item_t *));
    if (h->buckets == NULL)
        return -1;
    h->mask = nbuckets - 1;
    return 0;
}

static bool _doubling(const table_t *t)
{
    return t->halves[1].buckets != NULL;
}

int table_init(table_t *t, size_t nbuckets, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->seed = seed;
    return _half_init(&t->halves[0], nbuckets);
}

void table_free(table_t *t)
{
    free(t->halves[0].buckets);
    free(t->halves[1].buckets);
    memset(t->halves, 0, sizeof(t->halves));
}

uint64_t table_hash(const table_t *t, const char *key, size_t nkey)
{
    return hash_key(t->seed, key, nkey);
}

void table_step(table_t *t)
{
    if (!_doubling(t))
        return;
    table_half_t *from = &t->halves[0], *to = &t->halves[1];
    int moved = 0, empty = 0;
    while (t->rehash_next <= from->mask && moved < REHASH_BUCKETS_PER_STEP && empty < REHASH_EMPTY_VISITS) {
        item_t *it = from->buckets[t->rehash_next];
        if (it == NULL)
            empty++;
        else
            moved++;
        while (it != NULL) {
            item_t *next = it->hnext;
            item_t **head = &to->buckets[table_hash(t, it->data, it->nkey) & to->mask];
            it->hnext = *head;
            *head = it;
            it = next;
        }
        from->buckets[t->rehash_next++] = NULL;
    }
    if (t->rehash_next > from->mask) {
        free(from->buckets);
        *from = *to;
        to->buckets = NULL;
        to->mask = 0;
        t->sweep_next = 0;
    }
}

bool table_rehash(table_t *t, size_t steps)
{
    for (size_t i = 0; i < steps && _doubling(t); i++)
        table_step(t);
    return _doubling(t);
}

void table_maybe_grow(table_t *t, size_t items)
{
    table_half_t *h = &t->halves[0];
    if (_doubling(t) || items <= h->mask + 1)
        return;
    if (_half_init(&t->halves[1], (h->mask + 1) * 2) != 0)
        return;
    t->rehash_next = 0;
}

item_t **table_find(table_t *t, uint64_t hash, const char *key, size_t nkey)
{
    for (int i = 0; i < 2; i++) {
        table_half_t *h = &t->halves[i];
        if (h->buckets == NULL)
            break;
        /* Buckets of halves[0] below rehash_next have already moved to halves[1]. */
        if (i == 0 && _doubling(t) && (hash & h->mask) < t->rehash_next)
            continue;
        item_t **link = &h->buckets[hash & h->mask];
        for (; *link != NULL; link = &(*link)->hnext) {
            item_t *it = *link;
            if (it->nkey == nkey && memcmp(it->data, key, nkey) == 0)
                return link;
        }
    }
    return NULL;
}

item_t **table_head(table_t *t, uint64_t hash)
{
    table_half_t *h = &t->halves[_doubling(t) ? 1 : 0];
    return &h->buckets[hash & h->mask];
}

size_t table_sweep_heads(table_t *t, item_t **heads[2])
{
    /* While doubling the sweep walks the new half; an item not moved yet sits in the old half's
     * bucket that the new bucket's index names modulo the old size, visited with its lower twin. */
    table_half_t *h = &t->halves[_doubling(t) ? 1 : 0];
    size_t b = t->sweep_next & h->mask;
    size_t n = 0;
    heads[n++] = &h->buckets[b];
    if (_doubling(t) && b <= t->halves[0].mask && b >= t->rehash_next)
        heads[n++] = &t->halves[0].buckets[b];
    t->sweep_next = (b + 1) & h->mask;
    return n;
}

size_t table_slots(const table_t *t)
{
    return t->halves[0].mask + 1;
}

void table_visit(table_t *t, size_t n, size_t slot, void (*fn)(item_t *it, void *arg), void *arg)
{
    /* An item sits in bucket hash % size of its half, and n divides every half's size, so its
     * bucket is congruent to slot modulo n in either half. (Moved buckets are empty.) */
    for (int i = 0; i < 2; i++) {
        const table_half_t *h = &t->halves[i];
        if (h->buckets == NULL)
            break;
        for (size_t b = slot; b <= h->mask; b += n)
            for (item_t *it = h->buckets[b]; it != NULL; it = it->hnext)
                fn(it, arg);
    }
}

size_t table_buckets(const table_t *t)
{
    return t->halves[0].mask + 1 + (_doubling(t) ? t->halves[1].mask + 1 : 0);
}

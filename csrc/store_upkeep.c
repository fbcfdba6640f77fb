/* store_upkeep: what the store does besides storing and reading — the sweep of expired items,
 * eviction down to a lowered limit, pages emptied on request, walks by slot, and its figures. */
#include "store.h"
#include "store_impl.h"

#include <string.h>

/* A pass over the whole table ended: what it found becomes each class's oldest access. */
static void _sweep_pass_begins(store_t *s)
{
    s->stats.sweeps++;
    memcpy(s->oldest_atime, s->pass_oldest_atime, sizeof(s->oldest_atime));
    memset(s->pass_oldest_atime, 0xff, sizeof(s->pass_oldest_atime));
}

/* Frees the dead items of one chain; returns how many. */
static size_t _sweep_chain(store_t *s, item_t **link)
{
    size_t freed = 0;
    while (*link != NULL) {
        item_t *it = *link;
        unsigned cls = slab_class_of(s->slab, item_size(it));
        s->classes[cls].crawler_items_checked++;
        if (store_dead(s, it)) {
            s->classes[cls].crawler_reclaimed++;
            store_unlink_dead(s, link);
            freed++;
        } else {
            if (it->atime < s->pass_oldest_atime[cls])
                s->pass_oldest_atime[cls] = it->atime;
            link = &it->hnext;
        }
    }
    return freed;
}

size_t store_sweep(store_t *s, size_t max_buckets)
{
    size_t freed = 0;
    size_t buckets = table_buckets(&s->table);
    for (size_t visited = 0; visited < max_buckets && visited < buckets; visited++) {
        if (s->table.sweep_next == 0)
            _sweep_pass_begins(s);
        item_t **heads[2];
        size_t n = table_sweep_heads(&s->table, heads);
        for (size_t i = 0; i < n; i++)
            freed += _sweep_chain(s, heads[i]);
    }
    return freed;
}

bool store_rehash(store_t *s, size_t steps)
{
    return table_rehash(&s->table, steps);
}

long store_empty_page(store_t *s, unsigned cls)
{
    void *blocks[SLAB_PAGE_MAX / SLAB_BLOCK_MIN];
    size_t n = slab_page_blocks(s->slab, cls, 2, blocks, sizeof(blocks) / sizeof(blocks[0]));
    if (n == 0)
        return -1;
    long evicted = 0;
    for (size_t i = 0; i < n; i++) {
        item_t *it = blocks[i];
        if (!(it->state & ITEM_LINKED) || it->refs > 0)
            continue;
        store_class_stats_t *cs = store_class_of(s, it);
        cs->evicted++;
        s->stats.evictions++;
        store_unlink(s, table_find(&s->table, table_hash(&s->table, it->data, it->nkey), it->data, it->nkey));
        evicted++;
    }
    s->stats.slabs_moved++;
    return evicted;
}

int store_set_limit(store_t *s, size_t limit)
{
    return slab_set_limit(s->slab, limit);
}

size_t store_trim(store_t *s, size_t max_items)
{
    size_t chances = EVICT_CHANCES_MAX; /* no second chances: memory is owed */
    size_t steps = 0;
    /* A lowered limit is kept even with evictions off, as memcached's page mover keeps it. */
    while (steps < max_items && slab_over_limit(s->slab) && store_hand_step(s, &chances, true))
        steps++;
    return steps;
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    *out = s->stats;
    out->buckets = table_buckets(&s->table);
    slab_stats_t ss;
    slab_get_stats(s->slab, &ss);
    out->malloced = ss.malloced;
    out->spare_pages = ss.spares;
    out->expanding = table_buckets(&s->table) != s->table.halves[0].mask + 1;
}

/* Public class ids are the allocator's 0..n-1, then n for items too big for a page; the arrays
 * here index those by slab_class_of(), which says SLAB_CLASSES_MAX for them. */
static unsigned _index_of_class(const store_t *s, unsigned cls)
{
    return cls < slab_classes(s->slab) ? cls : SLAB_CLASSES_MAX;
}

void store_get_class_counters(const store_t *s, unsigned cls, store_class_stats_t *out)
{
    if (cls >= store_classes(s)) {
        memset(out, 0, sizeof(*out));
        return;
    }
    unsigned i = _index_of_class(s, cls);
    *out = s->classes[i];
    uint32_t oldest = s->oldest_atime[i];
    out->age = oldest != UINT32_MAX && oldest <= s->now ? s->now - oldest : 0;
}

unsigned store_item_class(const store_t *s, const item_t *it)
{
    unsigned cls = slab_class_of(s->slab, item_size(it));
    return cls == SLAB_CLASSES_MAX ? slab_classes(s->slab) : cls;
}

typedef struct visit {
    const store_t *s;
    store_visit_fn fn;
    void *arg;
} visit_t;

static void _visit_live(item_t *it, void *arg)
{
    visit_t *v = arg;
    if (!store_dead(v->s, it))
        v->fn(it, store_item_class(v->s, it), v->arg);
}

void store_visit(store_t *s, size_t n, size_t slot, store_visit_fn fn, void *arg)
{
    visit_t v = {s, fn, arg};
    table_visit(&s->table, n, slot, _visit_live, &v);
}

size_t store_slots(const store_t *s)
{
    return table_slots(&s->table);
}

void store_stats_reset(store_t *s)
{
#define X(name) s->stats.name = 0;
    STORE_COUNTERS(X)
#undef X
    for (unsigned i = 0; i <= SLAB_CLASSES_MAX; i++) {
#define X(name) s->classes[i].name = 0;
        STORE_CLASS_COUNTERS(X)
#undef X
        s->classes[i].evicted_time = 0;
    }
}

unsigned store_classes(const store_t *s)
{
    return slab_classes(s->slab) + 1;
}

void store_get_class_stats(const store_t *s, unsigned cls, slab_class_stats_t *out)
{
    slab_get_class_stats(s->slab, cls, out);
    if (cls == slab_classes(s->slab)) {
        slab_stats_t ss;
        slab_get_stats(s->slab, &ss);
        out->used = ss.big_blocks;
    }
}

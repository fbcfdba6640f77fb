/* store: items in a chained hash table that doubles incrementally, in slab.c's memory, evicted by
 * its clock hand (sweeps, limits and figures: store_upkeep.c). Every operation does O(key + value)
 * work plus bounded steps, never a full walk. */
#include "store.h"

#include "buf.h"
#include "hash.h"
#include "mcnum.h"
#include "store_impl.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_INITIAL_BUCKETS 4096

_Static_assert(sizeof(item_t) == 32, "item_t is a 32-byte header: a 10-byte key and 100-byte value fit a 144-byte slot");
_Static_assert(sizeof(((store_write_t *)0)->flags) == 4, "client flags take 4 bytes after the key");

static uint64_t _next_cas(store_t *s)
{
    return atomic_fetch_add_explicit(s->cas_source, 1, memory_order_relaxed);
}

/* A use: the clock hand spares the item on its next visit. */
static void _mark_used(item_t *it)
{
    item_mark(it, ITEM_USED);
}

static void _item_free(store_t *s, item_t *it)
{
    size_t size = item_size(it);
    s->stats.bytes -= size;
    store_class_for(s, size)->mem_requested -= size;
    s->blocks--;
    slab_free(s->slab, it);
}

/* Removes the item at *link from the table; frees it unless a reader holds it. */
void store_unlink(store_t *s, item_t **link)
{
    item_t *it = *link;
    *link = it->hnext;
    it->hnext = NULL;
    item_unmark(it, ITEM_LINKED);
    s->stats.items--;
    if (it->refs == 0)
        _item_free(s, it);
}

void store_unlink_dead(store_t *s, item_t **link)
{
    store_class_stats_t *cs = store_class_of(s, *link);
    cs->reclaimed++;
    if (!((*link)->state & ITEM_FETCHED))
        cs->expired_unfetched++;
    s->stats.reclaimed++;
    store_unlink(s, link);
}

/* The link to the live item with this key, or NULL; a dead item met on the way is freed. */
static item_t **_find_live(store_t *s, uint64_t hash, const char *key, size_t nkey)
{
    item_t **link = table_find(&s->table, hash, key, nkey);
    if (link != NULL && store_dead(s, *link)) {
        store_unlink_dead(s, link);
        return NULL;
    }
    return link;
}

/* One step of the clock hand: the item under it is freed if it is dead; given a second chance (its
 * mark cleared) if it was used since the last visit and *chances < EVICT_CHANCES_MAX; else evicted,
 * or left alone when it may not be. Items a reader holds are passed over: freeing them gains nothing
 * now. False when there is no item at all. O(key). */
bool store_hand_step(store_t *s, size_t *chances, bool may_evict)
{
    item_t *it = slab_hand_next(s->slab);
    if (it == NULL)
        return false;
    if (!(it->state & ITEM_LINKED))
        return true;
    if (it->refs > 0) {
        s->stats.passed_referenced++;
        return true;
    }
    bool dead = store_dead(s, it);
    if (!dead && !may_evict)
        return true;
    store_class_stats_t *cs = store_class_of(s, it);
    if (!dead && (it->state & ITEM_USED) && *chances < EVICT_CHANCES_MAX) {
        item_unmark(it, ITEM_USED);
        cs->moves_to_warm++;
        (*chances)++;
        return true;
    }
    item_t **link = table_find(&s->table, table_hash(&s->table, it->data, it->nkey), it->data, it->nkey);
    if (dead) {
        store_unlink_dead(s, link);
    } else {
        s->stats.evictions++;
        cs->evicted++;
        cs->evicted_nonzero += it->exptime != 0;
        cs->evicted_unfetched += !(it->state & ITEM_FETCHED);
        cs->evicted_active += (it->state & ITEM_USED) != 0;
        cs->evicted_time = s->now - it->atime;
        if (s->on_evict)
            s->on_evict(it, store_item_class(s, it) + 1, s->now, s->on_evict_arg);
        store_unlink(s, link);
    }
    return true;
}

/* Memory for an item of `size` bytes (header, key, value), made by the clock hand while the limit
 * leaves no room. Room comes at the latest once the hand has freed a whole page (16 KiB: at most 512
 * items, after the rest of the page it starts in), or for a big item the pages or big items its bytes
 * need, plus EVICT_CHANCES_MAX second chances; a full revolution without room (every item held by
 * a reader) gives up, as does NO_EVICT_VISITS with evictions off. NULL: no room, or no memory. */
static item_t *_item_alloc(store_t *s, size_t size)
{
    size_t chances = 0;
    size_t revolution = s->blocks + EVICT_CHANCES_MAX; /* fixed now: evictions lower s->blocks */
    if (s->no_evictions && revolution > NO_EVICT_VISITS)
        revolution = NO_EVICT_VISITS;
    for (size_t visits = 0; visits <= revolution; visits++) {
        bool full;
        item_t *it = slab_alloc(s->slab, size, &full);
        s->stats.direct_reclaims += visits == 1;
        if (it != NULL)
            return it;
        if (!full) {
            s->stats.malloc_fails++;
            return NULL;
        }
        if (!store_hand_step(s, &chances, !s->no_evictions))
            break;
    }
    return NULL;
}

static item_t *_item_new(store_t *s, const char *key, size_t nkey, uint32_t flags, size_t nvalue)
{
    size_t size = store_item_size(nkey, flags, nvalue);
    item_t *it = _item_alloc(s, size);
    if (it == NULL)
        return NULL;
    memset(it, 0, sizeof(*it));
    memcpy(it->data, key, nkey);
    it->nkey = (uint8_t)nkey;
    it->nvalue = (uint32_t)nvalue;
    it->atime = s->now;
    /* Where the hand passed lately it comes back late; where it comes soon the mark buys a revolution. */
    it->state = slab_behind_hand(s->slab, it) ? 0 : ITEM_USED;
    if (flags != 0) {
        it->state |= ITEM_HAS_FLAGS;
        memcpy(it->data + nkey, &flags, sizeof(flags));
    }
    s->stats.bytes += size;
    store_class_for(s, size)->mem_requested += size;
    s->blocks++;
    return it;
}

/* Links a new item in place of any item with the same key (whose memory goes once unreferenced). */
static void _link(store_t *s, item_t *it, uint64_t hash)
{
    item_t **link = table_find(&s->table, hash, it->data, it->nkey);
    if (link != NULL) {
        store_unlink(s, link);
    } else {
        link = table_head(&s->table, hash);
    }
    /* Insert where the old item was (or at the chain head): the chain stays intact either way. */
    it->hnext = *link;
    *link = it;
    item_mark(it, ITEM_LINKED);
    s->stats.items++;
    s->stats.total_items++;
    table_maybe_grow(&s->table, s->stats.items);
}

/* Links a new item as a write's outcome: the unique is given now, as memcached gives it when it
 * stores, so a reservation given up takes no unique. */
static void _link_new(store_t *s, item_t *it, uint64_t hash, uint64_t *cas_out)
{
    it->cas = _next_cas(s);
    _link(s, it, hash);
    if (cas_out)
        *cas_out = it->cas;
}

/* Links a reserved item that a whole-value write commits; the writer's reference stays. */
static store_status_t _write_reserved(store_t *s, const store_write_t *w, uint64_t hash, uint64_t *cas_out)
{
    item_t *it = w->reserved;
    it->exptime = w->exptime;
    it->atime = s->now;
    _link_new(s, it, hash, cas_out);
    return STORE_OK;
}

/* Allocates, fills and links the item a write asks for; `old` is the live item it replaces, or NULL. */
static store_status_t _write_new(store_t *s, const store_write_t *w, uint64_t hash, item_t *old, uint64_t *cas_out)
{
    bool concat = w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND;
    if (w->reserved != NULL && !concat)
        return _write_reserved(s, w, hash, cas_out);
    size_t nvalue = w->nvalue + (concat ? old->nvalue : 0);
    uint32_t flags = concat ? item_flags(old) : w->flags;
    size_t size = store_item_size(w->nkey, flags, nvalue);
    /* Only the memcached protocol appends, and there memcached's own measure of an item applies;
     * otherwise the limit is on the value, which is what a user of the seed protocol expects. */
    bool too_large = concat ? store_too_large(s, w->nkey, flags, nvalue) : nvalue > s->max_item_size;
    if (too_large || !slab_fits(s->slab, size))
        return STORE_TOO_LARGE;
    item_t *it = _item_new(s, w->key, w->nkey, flags, nvalue);
    if (it == NULL) {
        store_class_for(s, size)->outofmemory++;
        return STORE_NO_MEMORY;
    }
    it->exptime = concat ? old->exptime : w->exptime;
    /* An empty value may come as a NULL pointer (an empty Buffer), which memcpy must not see. */
    char *value = (char *)item_value(it);
    const char *added = w->nvalue ? w->value : "";
    if (w->mode == STORE_MODE_APPEND) {
        memcpy(value, item_value(old), old->nvalue);
        memcpy(value + old->nvalue, added, w->nvalue);
    } else if (w->mode == STORE_MODE_PREPEND) {
        memcpy(value, added, w->nvalue);
        memcpy(value + w->nvalue, item_value(old), old->nvalue);
    } else {
        memcpy(value, added, w->nvalue);
    }
    _link_new(s, it, hash, cas_out);
    return STORE_OK;
}

item_t *store_reserve(store_t *s, const char *key, size_t nkey, uint32_t flags, size_t nvalue,
                      store_status_t *status)
{
    size_t size = store_item_size(nkey, flags, nvalue);
    if (nvalue > s->max_item_size || !slab_fits(s->slab, size)) {
        *status = STORE_TOO_LARGE;
        return NULL;
    }
    item_t *it = _item_new(s, key, nkey, flags, nvalue);
    if (it == NULL) {
        /* memcached counts a storage command in its class once the data is in (the commit),
         * and an allocation that failed as outofmemory. */
        store_class_for(s, size)->outofmemory++;
        *status = STORE_NO_MEMORY;
        return NULL;
    }
    it->refs = 1;
    *status = STORE_OK;
    return it;
}

static store_status_t _write(store_t *s, const store_write_t *w, uint64_t *cas_out);

store_status_t store_write(store_t *s, const store_write_t *w, uint64_t *cas_out)
{
    store_status_t st = _write(s, w, cas_out);
    /* A linked reservation only loses the writer's reference; any other is freed. */
    if (w->reserved != NULL)
        store_release(s, w->reserved);
    return st;
}

static store_status_t _write(store_t *s, const store_write_t *w, uint64_t *cas_out)
{
    table_step(&s->table);
    uint64_t hash = table_hash(&s->table, w->key, w->nkey);
    item_t **link = _find_live(s, hash, w->key, w->nkey);
    item_t *old = link ? *link : NULL;
    size_t size = store_item_size(w->nkey, w->flags, w->nvalue);
    /* memcached counts a storage command in the class of the item it allocates for the data. */
    if (w->nvalue <= s->max_item_size && slab_fits(s->slab, size))
        store_class_for(s, size)->cmd_set++;
    switch (w->mode) {
    case STORE_MODE_SET:
        break;
    case STORE_MODE_ADD:
        if (old) {
            _mark_used(old);
            old->atime = s->now; /* memcached bumps the item an add finds */
            return STORE_NOT_STORED;
        }
        break;
    case STORE_MODE_REPLACE:
        if (!old)
            return STORE_NOT_STORED;
        break;
    case STORE_MODE_APPEND:
    case STORE_MODE_PREPEND:
        if (!old)
            return STORE_NOT_STORED;
        /* The binary protocol may name the unique it expects; the text protocol passes 0. */
        if (w->cas != 0 && old->cas != w->cas)
            return STORE_EXISTS;
        break;
    case STORE_MODE_CAS:
        if (!old)
            return STORE_NOT_FOUND;
        if (old->cas != w->cas) {
            store_class_of(s, old)->cas_badval++;
            return STORE_EXISTS;
        }
        store_class_of(s, old)->cas_hits++;
        break;
    }
    /* Only append and prepend read the old item while room is made for the new one, so only they
     * hold it: any other write lets the hand evict it like any item (under a tiny limit the old
     * value may be the only room there is). */
    if (w->mode != STORE_MODE_APPEND && w->mode != STORE_MODE_PREPEND)
        return _write_new(s, w, hash, NULL, cas_out);
    old->refs++;
    store_status_t st = _write_new(s, w, hash, old, cas_out);
    store_release(s, old);
    return st;
}

store_status_t store_restore(store_t *s, const store_write_t *w, uint64_t cas, uint32_t atime, uint8_t marks)
{
    table_step(&s->table);
    uint64_t hash = table_hash(&s->table, w->key, w->nkey);
    store_write_t plain = *w; /* a set, whatever w says: restoring replaces nothing */
    plain.mode = STORE_MODE_SET;
    plain.reserved = NULL;
    store_status_t st = _write_new(s, &plain, hash, NULL, NULL);
    if (st != STORE_OK)
        return st;
    item_t **link = _find_live(s, hash, w->key, w->nkey);
    if (link == NULL)
        return STORE_NO_MEMORY;
    item_t *it = *link;
    it->cas = cas;
    it->atime = atime < s->now ? atime : s->now;
    item_mark(it, marks & STORE_RESTORED_MARKS);
    return STORE_OK;
}

size_t store_footprint(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue)
{
    return slab_block_size(s->slab, store_item_size(nkey, flags, nvalue));
}

store_status_t store_set(store_t *s, const char *key, size_t nkey, const char *value, size_t nvalue,
                         uint32_t flags, uint32_t exptime)
{
    store_write_t w = {STORE_MODE_SET, key, nkey, value, nvalue, flags, exptime, 0, NULL};
    return store_write(s, &w, NULL);
}

static item_t *_get(store_t *s, const char *key, size_t nkey, bool touch, uint32_t exptime)
{
    table_step(&s->table);
    item_t **link = table_find(&s->table, table_hash(&s->table, key, nkey), key, nkey);
    if (link == NULL)
        return NULL;
    item_t *it = *link;
    if (store_dead(s, it)) {
        if (it->cas < s->flush_cas)
            s->stats.get_flushed++;
        else
            s->stats.get_expired++;
        store_unlink_dead(s, link);
        return NULL;
    }
    if (touch)
        it->exptime = exptime;
    store_bump(s, it);
    store_count_hit(s, it, touch);
    it->refs++;
    return it;
}

item_t *store_find(store_t *s, const char *key, size_t nkey)
{
    table_step(&s->table);
    item_t **link = _find_live(s, table_hash(&s->table, key, nkey), key, nkey);
    return link ? *link : NULL;
}

void store_bump(store_t *s, item_t *it)
{
    _mark_used(it);
    item_mark(it, ITEM_FETCHED);
    it->atime = s->now;
}

void store_count_hit(store_t *s, const item_t *it, bool touch)
{
    store_class_stats_t *cs = store_class_of(s, it);
    if (touch)
        cs->touch_hits++;
    else
        cs->get_hits++;
}

void store_recas(store_t *s, item_t *it)
{
    it->cas = _next_cas(s);
}

item_t *store_get(store_t *s, const char *key, size_t nkey)
{
    return _get(s, key, nkey, false, 0);
}

item_t *store_get_touch(store_t *s, const char *key, size_t nkey, uint32_t exptime)
{
    return _get(s, key, nkey, true, exptime);
}

/* Long-lived references (replies being sent) stop here; the rest of the range is left to the
 * short ones every command takes for a moment, at most a few per thread. */
#define STORE_HOLD_MAX (UINT16_MAX / 2)

bool store_hold(store_t *s, item_t *it)
{
    (void)s;
    if (it->refs >= STORE_HOLD_MAX)
        return false;
    it->refs++;
    return true;
}

void store_release(store_t *s, item_t *it)
{
    if (--it->refs == 0 && !(it->state & ITEM_LINKED))
        _item_free(s, it);
}

store_status_t store_touch(store_t *s, const char *key, size_t nkey, uint32_t exptime)
{
    item_t *it = store_get_touch(s, key, nkey, exptime);
    if (it == NULL)
        return STORE_NOT_FOUND;
    store_release(s, it);
    return STORE_OK;
}

store_status_t store_delete(store_t *s, const char *key, size_t nkey)
{
    return store_delete_cas(s, key, nkey, 0);
}

store_status_t store_delete_cas(store_t *s, const char *key, size_t nkey, uint64_t cas)
{
    table_step(&s->table);
    item_t **link = _find_live(s, table_hash(&s->table, key, nkey), key, nkey);
    if (link == NULL)
        return STORE_NOT_FOUND;
    if (cas != 0 && (*link)->cas != cas)
        return STORE_EXISTS;
    store_class_of(s, *link)->delete_hits++;
    store_unlink(s, link);
    return STORE_OK;
}

store_status_t store_arith(store_t *s, const char *key, size_t nkey, bool incr, uint64_t delta,
                           uint64_t *result)
{
    uint64_t cas = 0;
    return store_arith_cas(s, key, nkey, incr, delta, result, &cas);
}

store_status_t store_arith_cas(store_t *s, const char *key, size_t nkey, bool incr, uint64_t delta,
                               uint64_t *result, uint64_t *cas)
{
    table_step(&s->table);
    uint64_t hash = table_hash(&s->table, key, nkey);
    item_t **link = _find_live(s, hash, key, nkey);
    if (link == NULL)
        return STORE_NOT_FOUND;
    item_t *it = *link;
    uint64_t value;
    /* memcached's order: an empty value, then the unique, then the number. */
    if (it->nvalue == 0)
        return STORE_NON_NUMERIC;
    if (*cas != 0 && it->cas != *cas)
        return STORE_EXISTS;
    /* memcached reads the data as it reads arguments; the CRLF after its data ends the number. */
    if (!mcnum_u64(item_value(it), it->nvalue, &value))
        return STORE_NON_NUMERIC;
    value = incr ? value + delta : (delta > value ? 0 : value - delta);
    *result = value;
    store_class_stats_t *cs = store_class_of(s, it);
    if (incr)
        cs->incr_hits++;
    else
        cs->decr_hits++;

    char text[20];
    size_t n = buf_format_u64(text, value);

    if (n <= it->nvalue && it->refs == 0) {
        /* memcached rewrites in place and pads with spaces: clients see "9 " after 10 - 1. */
        char *data = (char *)item_value(it);
        memcpy(data, text, n);
        memset(data + n, ' ', it->nvalue - n);
        it->cas = _next_cas(s);
        *cas = it->cas;
        _mark_used(it);
        it->atime = s->now;
        return STORE_OK;
    }
    store_write_t w = {STORE_MODE_SET, key, nkey, text, n, item_flags(it), it->exptime, 0, NULL};
    return _write_new(s, &w, hash, NULL, cas);
}

void store_flush(store_t *s, uint32_t at)
{
    if (at == 0 || at <= s->now)
        store_flush_before(s, atomic_load_explicit(s->cas_source, memory_order_relaxed));
    else
        s->flush_at = at;
}

void store_flush_before(store_t *s, uint64_t cas)
{
    s->flush_cas = cas;
    s->flush_at = 0;
}

store_t *store_create(const store_config_t *config)
{
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->slab = slab_create(config->memory_limit, config->limit_growth);
    uint64_t seed = config->hash_seed ? config->hash_seed : store_random_seed(s);
    if (s->slab == NULL || table_init(&s->table, STORE_INITIAL_BUCKETS, seed) != 0) {
        slab_destroy(s->slab);
        free(s);
        return NULL;
    }
    s->max_item_size = config->max_item_size;
    atomic_init(&s->own_cas, 1);
    memset(s->oldest_atime, 0xff, sizeof(s->oldest_atime));
    memset(s->pass_oldest_atime, 0xff, sizeof(s->pass_oldest_atime));
    s->cas_source = config->cas_source ? config->cas_source : &s->own_cas;
    return s;
}

void store_destroy(store_t *s)
{
    if (s == NULL)
        return;
    slab_destroy(s->slab); /* every item's memory */
    table_free(&s->table);
    free(s);
}

uint64_t store_random_seed(const void *salt)
{
    return hash_mix((uint64_t)(uintptr_t)salt ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock()) | 1;
}

const char *store_status_name(store_status_t status)
{
    static const char *const names[] = {
#define X(name) #name,
        STORE_STATUSES(X)
#undef X
    };
    return (size_t)status < sizeof(names) / sizeof(names[0]) ? names[status] : "UNKNOWN";
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

bool store_too_large(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue)
{
    return nvalue > s->max_item_size || store_memcached_size(nkey, flags, nvalue) > s->max_item_size;
}

void store_set_evictions(store_t *s, bool on)
{
    s->no_evictions = !on;
}

void store_on_evict(store_t *s, store_evict_fn fn, void *arg)
{
    s->on_evict = fn;
    s->on_evict_arg = arg;
}

unsigned store_class_id(const store_t *s, size_t nkey, uint32_t flags, size_t nvalue)
{
    /* Numbered as store_item_class() numbers them: big items after the allocator's classes. */
    unsigned cls = slab_class_of(s->slab, store_item_size(nkey, flags, nvalue));
    return (cls == SLAB_CLASSES_MAX ? slab_classes(s->slab) : cls) + 1;
}

void store_set_clock(store_t *s, uint32_t now)
{
    s->now = now;
    if (s->flush_at != 0 && now >= s->flush_at)
        store_flush(s, 0);
}

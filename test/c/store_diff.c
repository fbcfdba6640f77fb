/* store_diff: a differential check of store.c against a reference model of what its operations
 * mean, driven by decoded bytes so that a fuzzer or a seeded generator can steer it. */
#include "store_diff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcnum.h"
#include "store.h"

/* Byte 0 of the input. With a small memory limit only a few items fit, so writes evict; the
 * model then accepts that a key vanished, but only after the store counted an eviction. */
#define CONFIG_SMALL_MEMORY 0x01
#define CONFIG_SMALL_ITEMS 0x02
#define CONFIG_NO_EVICTIONS 0x04 /* with CONFIG_SMALL_MEMORY: memcached's -M, a full store refuses */

#define SMALL_MEMORY_LIMIT 4096
#define LARGE_MEMORY_LIMIT ((size_t)64 << 20)
#define SMALL_MAX_ITEM 256
#define LARGE_MAX_ITEM ((size_t)1 << 20)

#define NKEYS 8
#define MAX_HELD 8           /* references a run keeps at once, as readers sending an item do */
#define MAX_FILLERS 5000     /* enough for the 4096-bucket table to double; bounds one input's work */
#define OP_BYTE_FILL 0xff    /* filling is costly, so only this one operation byte asks for it */
#define VALUE_MAX 2048       /* longest value one operation writes; appends make longer ones */
#define FINAL_STEPS_MAX (1u << 22)

typedef enum op {
    OP_SET, OP_ADD, OP_REPLACE, OP_APPEND, OP_PREPEND, OP_CAS,
    OP_DELETE, OP_INCR, OP_DECR, OP_TOUCH, OP_GET, OP_GET_TOUCH,
    OP_FLUSH, OP_ADVANCE, OP_SWEEP, OP_HOLD, OP_RELEASE,
    OP_COUNT,
    OP_FILL = OP_COUNT
} op_t;

/* What the model believes about one key. */
typedef struct model_item {
    bool present;         /* written and not deleted, flushed or known evicted; may have expired */
    char *value;
    size_t nvalue;
    uint32_t flags;
    uint32_t exptime;
    uint64_t cas;
    uint64_t evict_mark;  /* the store's eviction count when this item was written */
    unsigned gen;         /* changes whenever the key's current item is replaced or goes */
} model_item_t;

/* A reference held across operations, with a copy of what the item held when it was taken. */
typedef struct held {
    item_t *it;
    int key;
    unsigned gen;
    char *copy;
    size_t ncopy;
} held_t;

typedef struct diff {
    store_t *store;
    size_t memory_limit;
    size_t max_item_size;
    bool may_evict;
    bool no_evictions;   /* the limit may be reached, and then writes fail: nothing is evicted */
    uint32_t now;
    uint32_t flush_at;   /* a delayed flush the model expects, 0 = none */
    model_item_t keys[NKEYS];
    held_t held[MAX_HELD];
    unsigned nheld;
    size_t fillers;      /* filler keys f0.. that the model holds live */
    size_t filled_total;
    uint64_t max_cas;
    const uint8_t *in;
    size_t left;
    size_t op_index;
    bool failed;
} diff_t;

static char long_key[STORE_KEY_MAX];

static const char *_key(int k, size_t *nkey)
{
    static const char *const names[NKEYS - 1] = {"a", "b", "key:2", "k3", "a-longer-key-number-4", "k:5", "kk6"};
    if (k == NKEYS - 1) {
        memset(long_key, 'x', sizeof(long_key));
        *nkey = sizeof(long_key);
        return long_key;
    }
    *nkey = strlen(names[k]);
    return names[k];
}

static bool _fail(diff_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool _fail(diff_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "store_diff: operation %zu: ", d->op_index);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    d->failed = true;
    return false;
}

/* The harness cannot go on without memory; a store bug cannot cause this. */
static void *_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "store_diff: out of memory\n");
        abort();
    }
    return q;
}

static uint8_t _byte(diff_t *d)
{
    if (d->left == 0)
        return 0;
    d->left--;
    return *d->in++;
}

static uint64_t _u64(diff_t *d)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)_byte(d) << (8 * i);
    return v;
}

static store_stats_t _stats(const diff_t *d)
{
    store_stats_t st;
    store_get_stats(d->store, &st);
    return st;
}

static bool _live(const diff_t *d, const model_item_t *m)
{
    return m->present && !(m->exptime != 0 && m->exptime <= d->now);
}

static void _forget(model_item_t *m)
{
    m->present = false;
    m->gen++;
}

static void _set_model_value(model_item_t *m, const char *value, size_t n)
{
    m->value = _xrealloc(m->value, n);
    memcpy(m->value, value, n);
    m->nvalue = n;
}

static bool _check_new_cas(diff_t *d, uint64_t cas)
{
    if (cas <= d->max_cas)
        return _fail(d, "cas %llu is not above the last one, %llu", (unsigned long long)cas,
                     (unsigned long long)d->max_cas);
    d->max_cas = cas;
    return true;
}

/* The model learns a new item for key k, written just now. */
static void _stored(diff_t *d, int k, const char *value, size_t n, uint32_t flags, uint32_t exptime, uint64_t cas)
{
    model_item_t *m = &d->keys[k];
    _set_model_value(m, value, n);
    m->present = true;
    m->flags = flags;
    m->exptime = exptime;
    m->cas = cas;
    m->evict_mark = _stats(d).evictions;
    m->gen++;
}

/* Reconciles the model with what an answer of the store implies about key k being there. A key
 * may vanish only by eviction, after the store counted one; it may never come back. */
static bool _observe(diff_t *d, int k, bool in_store)
{
    model_item_t *m = &d->keys[k];
    bool live = _live(d, m);
    if (in_store && !live)
        return _fail(d, "key %d is in the store; the model has it %s", k, m->present ? "expired" : "absent");
    if (!in_store && live && (!d->may_evict || _stats(d).evictions <= m->evict_mark))
        return _fail(d, "key %d vanished without an eviction", k);
    if (!in_store && m->present)
        _forget(m);
    return true;
}

/* References to key k's current item: while there are any, incr cannot rewrite it in place. */
static unsigned _held_current(const diff_t *d, int k)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->nheld; i++)
        n += d->held[i].key == k && d->held[i].gen == d->keys[k].gen;
    return n;
}

/* Bytes of the distinct items held: they may be unlinked yet still counted. */
static size_t _held_bytes(const diff_t *d)
{
    size_t total = 0;
    for (unsigned i = 0; i < d->nheld; i++) {
        bool seen = false;
        for (unsigned j = 0; j < i; j++)
            seen |= d->held[j].it == d->held[i].it;
        if (!seen)
            total += item_size(d->held[i].it);
    }
    return total;
}

static bool _check_item(diff_t *d, int k, const item_t *it)
{
    const model_item_t *m = &d->keys[k];
    size_t nkey;
    const char *key = _key(k, &nkey);
    if (it->nkey != nkey || memcmp(item_key(it), key, nkey) != 0)
        return _fail(d, "key %d: the item found holds another key", k);
    if (it->nvalue != m->nvalue || memcmp(item_value(it), m->value, m->nvalue) != 0)
        return _fail(d, "key %d: the value (%u bytes) differs from the model's (%zu bytes)", k, (unsigned)it->nvalue,
                     m->nvalue);
    if (item_flags(it) != m->flags || it->cas != m->cas)
        return _fail(d, "key %d: flags %u cas %llu, the model has %u and %llu", k, (unsigned)item_flags(it),
                     (unsigned long long)it->cas, (unsigned)m->flags, (unsigned long long)m->cas);
    return true;
}

/* ---- decoding of arguments ---- */

/* A value: raw input bytes, a decimal number (with trailing spaces, as incr leaves them), a long
 * run of letters, or nothing. */
static size_t _value(diff_t *d, char *out)
{
    uint8_t kind = _byte(d);
    size_t n = 0;
    switch (kind % 4) {
    case 0:
        n = _byte(d) % 64;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)_byte(d);
        break;
    case 1: {
        uint64_t v = (kind & 0x80) ? _u64(d) : _byte(d);
        n = (size_t)snprintf(out, 24, "%llu", (unsigned long long)v);
        for (unsigned pad = (kind >> 2) & 3; pad > 0; pad--)
            out[n++] = ' ';
        break;
    }
    case 2:
        n = (size_t)_byte(d) * 8;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)('a' + i % 26);
        break;
    default:
        break;
    }
    return n;
}

static uint32_t _flags(diff_t *d)
{
    uint8_t f = _byte(d);
    static const uint32_t common[] = {0, 1, UINT32_MAX};
    return (f & 3) < 3 ? common[f & 3] : (uint32_t)f << 8;
}

/* 0 (never), or a few seconds from now; "now" itself means already expired. */
static uint32_t _exptime(diff_t *d)
{
    uint8_t e = _byte(d);
    return e % 4 == 0 ? 0 : d->now + (uint32_t)(e >> 2) % 8;
}

static int _key_index(diff_t *d)
{
    return _byte(d) % NKEYS;
}

/* ---- operations ---- */

static store_status_t _expected_write(diff_t *d, const store_write_t *w, const model_item_t *m)
{
    bool live = _live(d, m);
    switch (w->mode) {
    case STORE_MODE_ADD:
        if (live)
            return STORE_NOT_STORED;
        break;
    case STORE_MODE_REPLACE:
    case STORE_MODE_APPEND:
    case STORE_MODE_PREPEND:
        if (!live)
            return STORE_NOT_STORED;
        break;
    case STORE_MODE_CAS:
        if (!live)
            return STORE_NOT_FOUND;
        if (w->cas != m->cas)
            return STORE_EXISTS;
        break;
    case STORE_MODE_SET:
        break;
    }
    bool concat = w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND;
    size_t nvalue = w->nvalue + (concat ? m->nvalue : 0);
    bool too_large = concat ? store_too_large(d->store, w->nkey, m->flags, nvalue) : nvalue > d->max_item_size;
    uint32_t flags = concat ? m->flags : w->flags;
    if (too_large || store_item_size(w->nkey, flags, nvalue) > d->memory_limit)
        return STORE_TOO_LARGE;
    return STORE_OK;
}

/* Whether a write's answer says the key was there (1), was not (0), or says nothing (-1). */
static int _write_implies(store_mode_t mode, store_status_t st)
{
    switch (mode) {
    case STORE_MODE_SET:
        return -1;
    case STORE_MODE_ADD:
        return st == STORE_NOT_STORED;
    case STORE_MODE_REPLACE:
    case STORE_MODE_APPEND:
    case STORE_MODE_PREPEND:
        return st != STORE_NOT_STORED;
    case STORE_MODE_CAS:
        return st != STORE_NOT_FOUND;
    }
    return -1;
}

/* What an allocation may count beyond the item's own bytes: a big block's header and malloc's rounding. */
#define ALLOCATION_ROUNDING 64

/* The bytes of the item a write makes. */
static size_t _new_size(const store_write_t *w, const model_item_t *m)
{
    bool concat = w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND;
    return store_item_size(w->nkey, concat ? m->flags : w->flags, w->nvalue + (concat ? m->nvalue : 0));
}

/* Append and prepend keep the old item while the new one is made: under a small limit the two may
 * not fit at once (each counted with room for its allocation's rounding). */
static bool _cannot_coexist(const diff_t *d, const store_write_t *w, const model_item_t *m)
{
    if (w->mode != STORE_MODE_APPEND && w->mode != STORE_MODE_PREPEND)
        return false;
    size_t old_size = store_item_size(w->nkey, m->flags, m->nvalue) + ALLOCATION_ROUNDING;
    return old_size + _new_size(w, m) + ALLOCATION_ROUNDING > d->memory_limit;
}

static bool _op_write(diff_t *d, store_mode_t mode)
{
    static char value[VALUE_MAX];
    int k = _key_index(d);
    model_item_t *m = &d->keys[k];
    store_write_t w = {.mode = mode};
    w.key = _key(k, &w.nkey);
    w.nvalue = _value(d, value);
    w.value = value;
    w.flags = _flags(d);
    w.exptime = _exptime(d);
    if (mode == STORE_MODE_CAS) {
        uint8_t pick = _byte(d);
        w.cas = pick % 3 == 0 ? m->cas : pick % 3 == 1 ? m->cas + 1 : _u64(d);
    }
    uint64_t cas = 0;
    store_status_t st = store_write(d->store, &w, &cas);
    int implied = _write_implies(mode, st);
    if (implied >= 0 && !_observe(d, k, implied == 1))
        return false;
    store_status_t want = _expected_write(d, &w, m);
    /* Items held by readers pin their memory: with a small limit there may be no room left, and
     * the store then refuses, as memcached answers "out of memory" when all it could evict is in use.
     * The key keeps its old item, unless the search for room evicted it (which _observe allows). */
    if (st == STORE_NO_MEMORY && want == STORE_OK && d->may_evict && (d->nheld > 0 || _cannot_coexist(d, &w, m)))
        return true;
    /* With evictions off a full store refuses any write that needs memory; the key keeps its item. */
    if (st == STORE_NO_MEMORY && want == STORE_OK && d->no_evictions)
        return true;
    /* An item larger than a slab class is malloc'd and counted with its allocation's overhead. */
    if (st == STORE_TOO_LARGE && want == STORE_OK && _new_size(&w, m) + ALLOCATION_ROUNDING > d->memory_limit)
        return true;
    if (st != want)
        return _fail(d, "write mode %d of key %d: %s, the model expects %s", (int)mode, k, store_status_name(st),
                     store_status_name(want));
    if (st != STORE_OK)
        return true;
    if (!_check_new_cas(d, cas))
        return false;
    if (mode == STORE_MODE_APPEND || mode == STORE_MODE_PREPEND) {
        size_t n = m->nvalue + w.nvalue;
        char *joined = _xrealloc(NULL, n);
        const char *first = mode == STORE_MODE_APPEND ? m->value : w.value;
        size_t nfirst = mode == STORE_MODE_APPEND ? m->nvalue : w.nvalue;
        memcpy(joined, first, nfirst);
        memcpy(joined + nfirst, mode == STORE_MODE_APPEND ? w.value : m->value, n - nfirst);
        _stored(d, k, joined, n, m->flags, m->exptime, cas);
        free(joined);
    } else {
        _stored(d, k, w.value, w.nvalue, w.flags, w.exptime, cas);
    }
    return true;
}

static bool _op_delete(diff_t *d)
{
    int k = _key_index(d);
    size_t nkey;
    const char *key = _key(k, &nkey);
    store_status_t st = store_delete(d->store, key, nkey);
    if (st != STORE_OK && st != STORE_NOT_FOUND)
        return _fail(d, "delete: %s", store_status_name(st));
    if (!_observe(d, k, st == STORE_OK))
        return false;
    if (st == STORE_OK)
        _forget(&d->keys[k]);
    return true;
}

/* incr/decr: memcached's arithmetic, the result padded with spaces when rewritten in place. */
static bool _op_arith(diff_t *d, bool incr)
{
    int k = _key_index(d);
    uint8_t b = _byte(d);
    uint64_t delta = (b & 0x80) ? _u64(d) : (uint64_t)(b & 0x7f);
    model_item_t *m = &d->keys[k];
    size_t nkey;
    const char *key = _key(k, &nkey);
    bool in_place_possible = _held_current(d, k) == 0;
    uint64_t result = 0;
    store_status_t st = store_arith(d->store, key, nkey, incr, delta, &result);
    if (!_observe(d, k, st != STORE_NOT_FOUND))
        return false;
    if (!_live(d, m))
        return st == STORE_NOT_FOUND ? true : _fail(d, "arith of absent key %d: %s", k, store_status_name(st));
    uint64_t old;
    if (m->nvalue == 0 || !mcnum_u64(m->value, m->nvalue, &old))
        return st == STORE_NON_NUMERIC ? true : _fail(d, "arith of non-numeric key %d: %s", k, store_status_name(st));
    uint64_t want = incr ? old + delta : delta > old ? 0 : old - delta;
    /* A result that needs a new item may find no room with evictions off; the old one stays. */
    if (st == STORE_NO_MEMORY && d->no_evictions)
        return true;
    if (st != STORE_OK || result != want)
        return _fail(d, "arith of key %d: %s %llu, the model expects %llu", k, store_status_name(st),
                     (unsigned long long)result, (unsigned long long)want);
    /* In place, the digits are padded to the old length, which appends can make any size. */
    char digits[24];
    size_t n = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)want);
    bool in_place = in_place_possible && n <= m->nvalue;
    size_t nvalue = in_place ? m->nvalue : n;
    char *text = _xrealloc(NULL, nvalue);
    memcpy(text, digits, n);
    memset(text + n, ' ', nvalue - n);
    /* The store does not say the new cas; read it back, which also checks the new value. */
    item_t *it = store_get(d->store, key, nkey);
    if (it == NULL) {
        free(text);
        return _fail(d, "key %d vanished right after arith", k);
    }
    if (in_place) {
        _set_model_value(m, text, nvalue);
        m->cas = it->cas;
    } else {
        _stored(d, k, text, nvalue, m->flags, m->exptime, it->cas);
    }
    free(text);
    bool ok = _check_new_cas(d, it->cas) && _check_item(d, k, it);
    store_release(d->store, it);
    return ok;
}

static bool _op_touch(diff_t *d)
{
    int k = _key_index(d);
    uint32_t exptime = _exptime(d);
    size_t nkey;
    const char *key = _key(k, &nkey);
    store_status_t st = store_touch(d->store, key, nkey, exptime);
    if (st != STORE_OK && st != STORE_NOT_FOUND)
        return _fail(d, "touch: %s", store_status_name(st));
    if (!_observe(d, k, st == STORE_OK))
        return false;
    if (st == STORE_OK)
        d->keys[k].exptime = exptime;
    return true;
}

/* get, gat (touch) or a get whose reference is kept (hold). */
static bool _op_get(diff_t *d, int k, bool touch, bool hold)
{
    uint32_t exptime = touch ? _exptime(d) : 0;
    size_t nkey;
    const char *key = _key(k, &nkey);
    item_t *it = touch ? store_get_touch(d->store, key, nkey, exptime) : store_get(d->store, key, nkey);
    if (!_observe(d, k, it != NULL))
        return false;
    if (it == NULL)
        return true;
    if (touch)
        d->keys[k].exptime = exptime;
    if (!_check_item(d, k, it)) {
        store_release(d->store, it);
        return false;
    }
    if (!hold) {
        store_release(d->store, it);
        return true;
    }
    held_t *h = &d->held[d->nheld++];
    h->it = it;
    h->key = k;
    h->gen = d->keys[k].gen;
    h->ncopy = it->nvalue;
    h->copy = _xrealloc(NULL, it->nvalue);
    memcpy(h->copy, item_value(it), it->nvalue);
    return true;
}

/* A held item must be exactly as it was taken, whatever happened to its key since. */
static bool _release(diff_t *d, unsigned i)
{
    held_t h = d->held[i];
    d->held[i] = d->held[--d->nheld];
    size_t nkey;
    const char *key = _key(h.key, &nkey);
    bool same = h.it->nkey == nkey && memcmp(item_key(h.it), key, nkey) == 0 && h.it->nvalue == h.ncopy &&
                memcmp(item_value(h.it), h.copy, h.ncopy) == 0;
    store_release(d->store, h.it);
    free(h.copy);
    return same ? true : _fail(d, "a held item of key %d changed", h.key);
}

static bool _op_hold(diff_t *d)
{
    int k = _key_index(d);
    if (d->nheld == MAX_HELD && !_release(d, 0))
        return false;
    return _op_get(d, k, false, true);
}

static bool _op_release(diff_t *d)
{
    uint8_t b = _byte(d);
    return d->nheld == 0 ? true : _release(d, b % d->nheld);
}

static void _flush_model(diff_t *d)
{
    for (int k = 0; k < NKEYS; k++)
        if (d->keys[k].present)
            _forget(&d->keys[k]);
    d->fillers = 0;
    d->flush_at = 0;
}

static bool _op_flush(diff_t *d)
{
    uint8_t b = _byte(d);
    uint32_t at = (b & 1) ? d->now + (uint32_t)(b >> 1) % 8 : 0;
    store_flush(d->store, at);
    if (at == 0 || at <= d->now)
        _flush_model(d);
    else
        d->flush_at = at;
    return true;
}

static bool _op_advance(diff_t *d)
{
    uint8_t b = _byte(d);
    d->now += b < 200 ? b % 4 : (uint32_t)(b - 199) * 60;
    store_set_clock(d->store, d->now);
    if (d->flush_at != 0 && d->now >= d->flush_at)
        _flush_model(d);
    return true;
}

static bool _op_sweep(diff_t *d)
{
    store_sweep(d->store, _byte(d));
    return true;
}

/* Many small items at once, so that the hash table doubles while the named keys are in use. */
static bool _op_fill(diff_t *d)
{
    size_t n = (size_t)(_byte(d) % 11) * 512;
    if (n > MAX_FILLERS - d->filled_total)
        n = MAX_FILLERS - d->filled_total;
    d->filled_total += n;
    char key[32];
    for (size_t i = 0; i < n; i++) {
        size_t nkey = (size_t)snprintf(key, sizeof(key), "f%zu", i);
        store_status_t st = store_set(d->store, key, nkey, "v", 1, 0, 0);
        if (st == STORE_NO_MEMORY && d->no_evictions) {
            /* Full: the fillers stored so far stay live (f0.. are always set in order). */
            n = i > d->fillers ? i : d->fillers;
            break;
        }
        if (st != STORE_OK)
            return _fail(d, "filler %zu: %s", i, store_status_name(st));
    }
    if (n > d->fillers)
        d->fillers = n;
    return true;
}

static bool _op(diff_t *d, op_t op)
{
    switch (op) {
    case OP_SET: return _op_write(d, STORE_MODE_SET);
    case OP_ADD: return _op_write(d, STORE_MODE_ADD);
    case OP_REPLACE: return _op_write(d, STORE_MODE_REPLACE);
    case OP_APPEND: return _op_write(d, STORE_MODE_APPEND);
    case OP_PREPEND: return _op_write(d, STORE_MODE_PREPEND);
    case OP_CAS: return _op_write(d, STORE_MODE_CAS);
    case OP_DELETE: return _op_delete(d);
    case OP_INCR: return _op_arith(d, true);
    case OP_DECR: return _op_arith(d, false);
    case OP_TOUCH: return _op_touch(d);
    case OP_GET: return _op_get(d, _key_index(d), false, false);
    case OP_GET_TOUCH: return _op_get(d, _key_index(d), true, false);
    case OP_FLUSH: return _op_flush(d);
    case OP_ADVANCE: return _op_advance(d);
    case OP_SWEEP: return _op_sweep(d);
    case OP_HOLD: return _op_hold(d);
    case OP_RELEASE: return _op_release(d);
    case OP_FILL: return _op_fill(d);
    }
    return true;
}

static size_t _live_named(const diff_t *d)
{
    size_t n = 0;
    for (int k = 0; k < NKEYS; k++)
        n += _live(d, &d->keys[k]);
    return n;
}

/* After every operation: memory stays under the limit (items held by readers aside), nothing is
 * evicted without need, and every live key of the model is counted. */
static bool _check_totals(diff_t *d)
{
    store_stats_t st = _stats(d);
    if (st.bytes > d->memory_limit + _held_bytes(d))
        return _fail(d, "%llu bytes over the limit of %zu", (unsigned long long)st.bytes, d->memory_limit);
    if (!d->may_evict && st.evictions != 0)
        return _fail(d, "%llu evictions under a limit never reached", (unsigned long long)st.evictions);
    if (!d->may_evict && st.items < _live_named(d) + d->fillers)
        return _fail(d, "%llu items, the model has %zu live", (unsigned long long)st.items, _live_named(d) + d->fillers);
    return true;
}

/* Lookups each move part of a doubling table; the sweep skips a table being doubled. Then one
 * sweep of every bucket frees every dead item. */
static bool _sweep_all(diff_t *d)
{
    store_stats_t st = _stats(d);
    for (unsigned step = 0; (st.buckets & (st.buckets - 1)) != 0; step++) {
        if (step == FINAL_STEPS_MAX)
            return _fail(d, "the table never finished doubling");
        item_t *it = store_get(d->store, "\x01", 1);
        if (it != NULL)
            store_release(d->store, it);
        st = _stats(d);
    }
    store_sweep(d->store, st.buckets);
    return true;
}

static bool _finish(diff_t *d)
{
    if (!_sweep_all(d))
        return false;
    store_stats_t st = _stats(d);
    size_t live = _live_named(d) + d->fillers;
    if (d->may_evict ? st.items > live : st.items != live)
        return _fail(d, "after a full sweep %llu items, the model has %zu", (unsigned long long)st.items, live);
    for (int k = 0; k < NKEYS; k++)
        if (!_op_get(d, k, false, false))
            return false;
    while (d->nheld > 0)
        if (!_release(d, d->nheld - 1))
            return false;
    store_flush(d->store, 0);
    if (!_sweep_all(d))
        return false;
    st = _stats(d);
    if (st.items != 0 || st.bytes != 0)
        return _fail(d, "after flush and sweep: %llu items, %llu bytes", (unsigned long long)st.items,
                     (unsigned long long)st.bytes);
    return true;
}

bool store_diff_run(const uint8_t *data, size_t size)
{
    diff_t *d = _xrealloc(NULL, sizeof(*d));
    memset(d, 0, sizeof(*d));
    d->in = data;
    d->left = size;
    uint8_t config = _byte(d);
    bool small = config & CONFIG_SMALL_MEMORY;
    d->no_evictions = small && (config & CONFIG_NO_EVICTIONS);
    d->may_evict = small && !d->no_evictions;
    d->memory_limit = small ? SMALL_MEMORY_LIMIT : LARGE_MEMORY_LIMIT;
    d->max_item_size = (config & CONFIG_SMALL_ITEMS) ? SMALL_MAX_ITEM : LARGE_MAX_ITEM;
    store_config_t store_config = {d->memory_limit, d->max_item_size, 0, NULL, 1};
    d->store = store_create(&store_config);
    if (d->store == NULL) {
        fprintf(stderr, "store_diff: store_create failed\n");
        abort();
    }
    store_set_evictions(d->store, !d->no_evictions);
    d->now = 1;
    store_set_clock(d->store, d->now);
    bool ok = true;
    while (ok && d->left > 0) {
        d->op_index++;
        uint8_t op = _byte(d);
        ok = _op(d, op == OP_BYTE_FILL ? OP_FILL : (op_t)(op % OP_COUNT)) && _check_totals(d);
    }
    if (ok)
        ok = _finish(d);
    while (d->nheld > 0) {
        held_t *h = &d->held[--d->nheld];
        store_release(d->store, h->it);
        free(h->copy);
    }
    for (int k = 0; k < NKEYS; k++)
        free(d->keys[k].value);
    store_destroy(d->store);
    free(d);
    return ok;
}

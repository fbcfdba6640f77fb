/* proto_meta: memcached 1.6.18's meta commands mg, ms, md, ma, mn and me, one handler each. Every
 * handler runs under its key's shard lock (cache_locked) so that it acts on the store as one step. */
#include "proto_meta.h"
#include "proto_meta_req.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "mcnum.h"
#include "replies.h"
#include "value_out.h"

/* ---- mg ---- */

typedef struct meta_get {
    meta_req_t *r;
    uint32_t now;
    meta_outcome_t outcome;
    bool ttl_set;
    meta_line_t line;
} meta_get_t;

/* Creates the empty item "mg <key> N<ttl>" asks for on a miss. */
static item_t *_vivify(store_t *store, meta_req_t *r)
{
    store_write_t w = {STORE_MODE_SET, r->key, r->nkey, "", 0, 0, 0, 0, NULL};
    return store_write(store, &w, NULL) == STORE_OK ? store_find(store, r->key, r->nkey) : NULL;
}

/* The hit's flags, in the order given; false on an opaque too long. */
static bool _mg_flags(meta_get_t *g, item_t *it, bool created, bool *won)
{
    meta_req_t *r = g->r;
    meta_line_t *l = &g->line;
    for (size_t i = 2; i + 1 < r->c->nt; i++) {
        const token_t *t = &r->c->t[i];
        switch (t->p[0]) {
        case 'T': g->ttl_set = true; it->exptime = r->exptime; break;
        case 'N':
            if (created) {
                it->exptime = r->vivify_exptime;
                *won = true;
            }
            break;
        case 'R':
            if (!(it->state & ITEM_TOKEN_SENT) && !created && it->exptime != 0 && it->exptime < r->recache_time)
                *won = true;
            break;
        case 's': meta_put_u64(l, 's', it->nvalue); break;
        case 't': meta_put_ttl(l, it->exptime, g->now); break;
        case 'c': meta_put_u64(l, 'c', it->cas); break;
        case 'f': meta_put_u64(l, 'f', item_flags(it)); break;
        case 'l': meta_put_u64(l, 'l', g->now - it->atime); break;
        case 'h': meta_put(l, it->state & ITEM_FETCHED ? " h1" : " h0", 3); break;
        case 'O':
            if (!meta_put_opaque(r, l, t))
                return false;
            break;
        case 'k': meta_put_key(l, item_key(it), it->nkey, it->state & ITEM_KEY_BINARY); break;
        default: break;
        }
    }
    return true;
}

static void _mg_locked(store_t *store, void *arg)
{
    meta_get_t *g = arg;
    meta_req_t *r = g->r;
    item_t *it = store_find(store, r->key, r->nkey);
    bool created = false;
    if (it == NULL && r->vivify)
        created = (it = _vivify(store, r)) != NULL;
    if (it == NULL) {
        g->outcome = META_MISS;
        return;
    }
    /* A plain mg marks the item read as it finds it; one asking for h, l, N, R or T reads the
     * marks first and sets them after a success, as memcached's delayed bump does. */
    if (!r->locked && !r->no_update)
        store_bump(store, it);
    meta_line_t *l = &g->line;
    if (r->value) {
        meta_put_va(l, it->nvalue);
    } else {
        meta_put(l, "HD", 2);
    }
    bool won = false;
    if (!_mg_flags(g, it, created, &won)) {
        g->outcome = META_ERROR;
        return;
    }
    if (it->state & ITEM_TOKEN_SENT)
        meta_put_flag(l, 'Z');
    if (it->state & ITEM_STALE) {
        meta_put_flag(l, 'X');
        won |= !(it->state & ITEM_TOKEN_SENT);
    }
    if (won) {
        meta_put_flag(l, 'W');
        item_mark(it, ITEM_TOKEN_SENT);
    }
    if (r->locked && !r->no_update)
        store_bump(store, it);
    store_count_hit(store, it, g->ttl_set);
    g->outcome = META_HIT;
    cmd_t *c = r->c;
    size_t copied = value_out_refers(c->out, it->nvalue) ? 0 : it->nvalue;
    if (buf_reserve(c->out, l->n + 2 + (r->value ? copied + 2 : 0)) != 0) {
        c->s->state = SESSION_BROKEN;
        return;
    }
    buf_append(c->out, l->b, l->n);
    buf_append(c->out, "\r\n", 2);
    if (r->value) {
        if (value_out(c->out, c->s->engine->cache, store, it) != 0 || buf_append(c->out, "\r\n", 2) != 0)
            c->s->state = SESSION_BROKEN;
    }
}

static void _mg(cmd_t *c)
{
    meta_req_t r = {.c = c};
    if (!meta_start(&r, META_FLAGS_ARE_TOO_LONG))
        return;
    if (!meta_parse(&r, 2)) {
        meta_error(c, r.errstr);
        return;
    }
    session_t *s = c->s;
    meta_get_t g = {.r = &r, .now = cache_clock(s->engine->cache)};
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, r.key, r.nkey);
    cache_locked(s->engine->cache, r.key, r.nkey, _mg_locked, &g);
    if (g.outcome == META_HIT) {
        engine_count_get(s->stats, g.ttl_set, true);
        return;
    }
    if (g.outcome == META_ERROR) {
        meta_error(c, r.errstr);
        return;
    }
    engine_count_get(s->stats, false, false);  /* a miss is a get miss even with T, as in memcached */
    meta_line_t *l = &g.line;
    l->n = 0;
    meta_put(l, "EN", 2);
    if (!meta_put_echo(&r, l))
        meta_error(c, r.errstr);
    else
        meta_send(c, l, r.quiet);
}

/* ---- ms ---- */

typedef struct meta_set {
    meta_req_t *r;
    store_write_t w;
    store_status_t status;
    uint64_t cas;        /* the stored item's, else 0 */
} meta_set_t;

static void _ms_locked(store_t *store, void *arg)
{
    meta_set_t *m = arg;
    meta_req_t *r = m->r;
    store_write_t w = m->w;
    item_t *old = store_find(store, w.key, w.nkey);
    uint8_t marks = r->key_binary && w.mode != STORE_MODE_APPEND && w.mode != STORE_MODE_PREPEND ? ITEM_KEY_BINARY : 0;
    if (old != NULL && w.mode == STORE_MODE_CAS && r->stale && w.cas != 0 && w.cas < old->cas) {
        /* An invalidating set with an older cas stores the value, still stale, keeping the ttl. */
        marks |= (uint8_t)(ITEM_STALE | (old->state & ITEM_TOKEN_SENT));
        w.exptime = old->exptime;
        w.mode = STORE_MODE_SET;
    } else if (old != NULL && (w.mode == STORE_MODE_APPEND || w.mode == STORE_MODE_PREPEND) && w.cas != 0 && w.cas != old->cas) {
        m->status = STORE_EXISTS;
        if (w.reserved)
            store_release(store, w.reserved);
        return;
    }
    m->status = store_write(store, &w, &m->cas);
    if (m->status != STORE_OK) {
        m->cas = 0;
        return;
    }
    item_t *it = store_find(store, r->key, r->nkey);
    if (it != NULL)
        item_mark(it, marks);
}

static void _ms_count(session_t *s, const meta_set_t *m)
{
    if (m->w.mode == STORE_MODE_CAS)
        engine_count_cas(s->stats, m->status);
}

/* The flags an ms reply echoes, in the line's order, kept past the line: 'O' with its token's
 * length and bytes (at most META_MAX_OPAQUE: _ms_mode refuses longer), 'k', 'c'. */
typedef struct ms_echo {
    size_t n;
    char b[META_MAX_TOKENS * (META_MAX_OPAQUE + 2)];
} ms_echo_t;

static void _ms_echo_keep(ms_echo_t *e, const cmd_t *c)
{
    e->n = 0;
    for (size_t i = 2; i + 1 < c->nt; i++) {
        const token_t *t = &c->t[i];
        if (t->p[0] == 'O' && t->n <= META_MAX_OPAQUE) {
            e->b[e->n++] = 'O';
            e->b[e->n++] = (char)t->n;
            memcpy(e->b + e->n, t->p, t->n);
            e->n += t->n;
        } else if (t->p[0] == 'k' || t->p[0] == 'c') {
            e->b[e->n++] = t->p[0];
        }
    }
}

/* The data block has arrived and ends in "\r\n": store it and reply. */
static void _ms_store(meta_req_t *r, meta_set_t *m, const ms_echo_t *e)
{
    cmd_t *c = r->c;
    session_t *s = c->s;
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, r->key, r->nkey);
    cache_locked(s->engine->cache, r->key, r->nkey, _ms_locked, m);
    if (text_watched(s, LOG_MUTATIONS))
        text_log_store(s, &m->w, m->status);
    _ms_count(s, m);
    meta_line_t l = {0};
    bool concat = m->w.mode == STORE_MODE_APPEND || m->w.mode == STORE_MODE_PREPEND;
    switch (m->status) {
    case STORE_OK: meta_put(&l, "HD", 2); break;
    case STORE_EXISTS: meta_put(&l, "EX", 2); break;
    case STORE_NOT_FOUND: meta_put(&l, "NF", 2); break;
    case STORE_TOO_LARGE:
    case STORE_NO_MEMORY:
        if (concat) {
            meta_put(&l, "NS", 2);
            break;
        }
        stat_add(&s->stats->store_no_memory, 1);
        meta_error(c, TEXT_NO_MEMORY_STORING);
        return;
    default: meta_put(&l, "NS", 2); break;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (e->b[i] == 'O') {
            token_t t = {e->b + i + 2, (size_t)(unsigned char)e->b[i + 1]};
            meta_put_opaque(r, &l, &t);
            i += 1 + t.n;
        } else if (e->b[i] == 'k') {
            meta_put_key(&l, r->key, r->nkey, r->key_binary);
        } else {
            meta_put_u64(&l, 'c', m->cas);
        }
    }
    meta_send(c, &l, r->quiet && m->status == STORE_OK);
}

/* What the flags ask the write to be; false (errstr set) for what memcached refuses before the data. */
static bool _ms_mode(meta_req_t *r, store_mode_t *mode)
{
    bool ok = true;
    for (size_t i = 3; i + 1 < r->c->nt; i++) {
        const token_t *t = &r->c->t[i];
        if (t->p[0] == 'O' && t->n > META_MAX_OPAQUE) {
            r->errstr = META_OPAQUE_TOO_LONG;
            ok = false;
        }
    }
    switch (r->mode) {
    case 0: case 'S': *mode = STORE_MODE_SET; break;
    case 'E': *mode = STORE_MODE_ADD; break;
    case 'A': *mode = STORE_MODE_APPEND; break;
    case 'P': *mode = STORE_MODE_PREPEND; break;
    case 'R': *mode = STORE_MODE_REPLACE; break;
    default:
        r->errstr = META_BAD_MS_MODE;
        return false;
    }
    if (r->has_cas && (*mode == STORE_MODE_SET || *mode == STORE_MODE_REPLACE))
        *mode = STORE_MODE_CAS;
    return ok;
}

/* Refuses an ms whose data block follows: the error now, the block discarded as it comes. */
static void _ms_refuse(cmd_t *c, const char *errstr, uint32_t swallow)
{
    meta_error(c, errstr);
    c->s->proto.text.state = TEXT_SWALLOW;
    c->s->proto.text.swallow_left = swallow;
}

/* An ms whose data block is still arriving into its reserved item: what its commit needs. */
typedef struct ms_pending {
    meta_req_t r;         /* r.c is set again at the commit */
    ms_echo_t echo;
    store_mode_t mode;
    uint32_t exptime;
} ms_pending_t;

/* Commits the reserved item holding the data block ("\r\n" after it, or not: ok) and replies. */
static void _ms_finish(cmd_t *c, ms_pending_t *p, item_t *it, bool ok)
{
    session_t *s = c->s;
    p->r.c = c;
    stat_add(&s->stats->cmd_set, 1);
    if (!ok) {
        cache_release(s->engine->cache, it);
        meta_error(c, TEXT_BAD_DATA_CHUNK);
        return;
    }
    meta_set_t m = {&p->r, {.mode = p->mode, .exptime = p->exptime, .cas = p->r.cas}, STORE_OK, 0};
    store_write_reserved(&m.w, it);
    m.w.key = p->r.key; /* the same bytes, still there once the write has given the item up */
    _ms_store(&p->r, &m, &p->echo);
}

static void _ms_commit(session_t *s, session_value_t *v, buf_t *out)
{
    cmd_t c = {.s = s, .out = out};
    _ms_finish(&c, (ms_pending_t *)v->cmd, v->item, v->trailer[0] == '\r' && v->trailer[1] == '\n');
}

static void _ms(cmd_t *c)
{
    meta_req_t r = {.c = c};
    if (!meta_start(&r, META_FLAGS_TOO_LONG))
        return;
    int32_t vlen;
    if (c->nt == 3 || !mcnum_i32(c->t[2].p, c->t[2].n, &vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
        meta_error(c, TEXT_BAD_FORMAT);
        return;
    }
    uint32_t need = (uint32_t)vlen + 2;
    store_mode_t mode = STORE_MODE_SET;
    if (!meta_parse(&r, 3) || !_ms_mode(&r, &mode)) {
        _ms_refuse(c, r.errstr, need);
        return;
    }
    session_t *s = c->s;
    cache_t *cache = s->engine->cache;
    if (cache_too_large(cache, r.nkey, r.client_flags, (size_t)vlen)) {
        stat_add(&s->stats->store_too_large, 1);
        /* A failed store must not leave the old value readable, as in memcached (whatever the mode). */
        cache_delete(cache, r.key, r.nkey);
        _ms_refuse(c, TEXT_TOO_LARGE, need);
        return;
    }
    /* The item is reserved at the line, as memcached allocates it (see proto_text.c's _reserve). */
    store_status_t st;
    item_t *it = cache_reserve(cache, r.key, r.nkey, r.client_flags, (size_t)vlen, &st);
    if (it == NULL) {
        stat_add(&s->stats->store_no_memory, 1);
        cache_delete(cache, r.key, r.nkey);
        _ms_refuse(c, TEXT_NO_MEMORY_STORING, need);
        return;
    }
    ms_pending_t p = {.r = r, .mode = mode, .exptime = r.new_ttl ? r.exptime : 0};
    _ms_echo_keep(&p.echo, c);
    if (c->nafter < need) {
        /* Only the line is consumed: the session places the bytes after it, then runs _ms_commit. */
        ms_pending_t *kept = session_value_begin(s, it, 2, _ms_commit, sizeof(*kept));
        if (kept == NULL) {
            s->state = SESSION_BROKEN;
            return;
        }
        *kept = p;
        kept->r.c = NULL;
        return;
    }
    c->used_after = need;
    memcpy((char *)item_value(it), c->after, (size_t)vlen);
    _ms_finish(c, &p, it, c->after[vlen] == '\r' && c->after[vlen + 1] == '\n');
}

/* ---- md ---- */

typedef struct meta_delete {
    meta_req_t *r;
    meta_outcome_t outcome;
    bool deleted;
} meta_delete_t;

static void _md_locked(store_t *store, void *arg)
{
    meta_delete_t *d = arg;
    meta_req_t *r = d->r;
    item_t *it = store_find(store, r->key, r->nkey);
    if (it == NULL) {
        d->outcome = META_MISS;
    } else if (r->has_cas && it->cas != r->cas) {
        d->outcome = META_EXISTS;
    } else if (r->stale) {
        /* Invalidated, not removed: served as stale until replaced, and the next mg wins a token. */
        if (r->new_ttl)
            it->exptime = r->exptime;
        item_set_state(it, (uint8_t)((item_state(it) | ITEM_STALE) & ~ITEM_TOKEN_SENT));
        store_recas(store, it);
        d->outcome = META_HIT;
    } else {
        store_delete(store, r->key, r->nkey);
        d->outcome = META_HIT;
        d->deleted = true;
    }
}

static void _md(cmd_t *c)
{
    meta_req_t r = {.c = c};
    if (!meta_start(&r, META_FLAGS_TOO_LONG))
        return;
    if (!meta_parse(&r, 2)) {
        meta_error(c, META_BAD_OR_DUPLICATE_FLAG);
        return;
    }
    meta_line_t echo = {0};
    if (!meta_put_echo(&r, &echo)) {
        meta_error(c, r.errstr);
        return;
    }
    session_t *s = c->s;
    meta_delete_t d = {.r = &r};
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, r.key, r.nkey);
    cache_locked(s->engine->cache, r.key, r.nkey, _md_locked, &d);
    if (d.deleted)
        stat_add(&s->stats->delete_hits, 1);
    else if (d.outcome != META_HIT)
        stat_add(&s->stats->delete_misses, 1);
    meta_line_t l = {0};
    meta_put(&l, d.outcome == META_HIT ? "HD" : d.outcome == META_EXISTS ? "EX" : "NF", 2);
    meta_put(&l, echo.b, echo.n);
    meta_send(c, &l, r.quiet && d.outcome == META_HIT);
}

/* ---- ma ---- */

typedef struct meta_arith {
    meta_req_t *r;
    bool incr;
    uint32_t now;
    meta_outcome_t outcome;
    const char *errstr;  /* META_ERROR: the error line */
    bool counted;        /* the delta was applied: an incr or decr hit */
    bool missed;         /* no item, none created: an incr or decr miss */
    bool created;
    bool replaced;       /* the result did not fit in place: a new item holds it (see _ma_reply) */
    uint64_t value;
    meta_line_t line;
} meta_arith_t;

/* Applies the delta, or creates the item with the initial value; returns the resulting item. */
static item_t *_ma_apply(store_t *store, meta_arith_t *a)
{
    meta_req_t *r = a->r;
    item_t *it = store_find(store, r->key, r->nkey);
    store_status_t st;
    if (it == NULL && r->vivify) {
        char digits[20];
        store_write_t w = {STORE_MODE_ADD, r->key, r->nkey, digits, buf_format_u64(digits, r->initial), 0, 0, 0, NULL};
        a->value = r->initial;
        a->created = store_write(store, &w, NULL) == STORE_OK;
        a->errstr = META_NO_MEMORY_NEW_ITEM;
    } else if (it == NULL) {
        a->outcome = META_MISS;
        a->missed = true;
        return NULL;
    } else if (it->nvalue > 0 && r->cas != 0 && it->cas != r->cas) {
        a->outcome = META_EXISTS;
        return NULL;
    } else {
        /* store_arith rewrites in place only what fits in the old value and no reader holds. */
        size_t old_len = it->nvalue;
        bool held = it->refs != 0;
        if ((st = store_arith(store, r->key, r->nkey, a->incr, r->delta, &a->value)) != STORE_OK) {
            a->errstr = st == STORE_NON_NUMERIC ? TEXT_NON_NUMERIC
                                                : TEXT_NO_MEMORY;
        } else {
            char digits[20];
            a->counted = true;
            a->replaced = held || buf_format_u64(digits, a->value) > old_len;
        }
    }
    it = a->counted || a->created ? store_find(store, r->key, r->nkey) : NULL;
    a->outcome = it ? META_HIT : META_ERROR;
    return it;
}

/* The reply line of a hit, applying T and N in the order given; false on an opaque too long. */
static bool _ma_reply(meta_arith_t *a, item_t *it)
{
    meta_req_t *r = a->r;
    meta_line_t *l = &a->line;
    char digits[20];
    size_t ndigits = buf_format_u64(digits, a->value);
    /* memcached 1.6.18 answers a replaced item's ma from the old item (given the new cas): T
     * changes the old one's expiry, which t then shows, and the stored item keeps its own. */
    uint32_t exptime = it->exptime;
    if (r->value)
        meta_put_va(l, ndigits);
    else
        meta_put(l, "HD", 2);
    for (size_t i = 2; i + 1 < r->c->nt; i++) {
        const token_t *t = &r->c->t[i];
        switch (t->p[0]) {
        case 'c': meta_put_u64(l, 'c', it->cas); break;
        case 't': meta_put_ttl(l, exptime, a->now); break;
        case 'T':
            exptime = r->exptime;
            if (!a->replaced)
                it->exptime = exptime;
            break;
        case 'N':
            if (a->created)
                it->exptime = exptime = r->vivify_exptime;
            break;
        case 'O':
            if (!meta_put_opaque(r, l, t))
                return false;
            break;
        case 'k': meta_put_key(l, r->key, r->nkey, r->key_binary); break;
        default: break;
        }
    }
    if (r->value) {
        meta_put(l, "\r\n", 2);
        meta_put(l, digits, ndigits);
    }
    return true;
}

static void _ma_locked(store_t *store, void *arg)
{
    meta_arith_t *a = arg;
    item_t *it = _ma_apply(store, a);
    if (a->outcome == META_ERROR)
        return;
    bool ok = it ? _ma_reply(a, it) : (meta_put(&a->line, a->outcome == META_MISS ? "NF" : "EX", 2), meta_put_echo(a->r, &a->line));
    if (!ok) {
        a->outcome = META_ERROR;
        a->errstr = a->r->errstr;
    }
}

static void _ma(cmd_t *c)
{
    meta_req_t r = {.c = c, .delta = 1};
    if (!meta_start(&r, META_FLAGS_TOO_LONG))
        return;
    if (!meta_parse(&r, 2)) {
        meta_error(c, META_BAD_OR_DUPLICATE_FLAG);
        return;
    }
    session_t *s = c->s;
    meta_arith_t a = {.r = &r, .incr = true, .now = cache_clock(s->engine->cache)};
    switch (r.mode) {
    case 0: case 'I': case '+': break;
    case 'D': case '-': a.incr = false; break;
    default:
        meta_error(c, META_BAD_MA_MODE);
        return;
    }
    cache_locked(s->engine->cache, r.key, r.nkey, _ma_locked, &a);
    if (a.counted)
        stat_add(a.incr ? &s->stats->incr_hits : &s->stats->decr_hits, 1);
    if (a.missed)
        stat_add(a.incr ? &s->stats->incr_misses : &s->stats->decr_misses, 1);
    if (a.outcome == META_ERROR)
        meta_error(c, a.errstr);
    else
        meta_send(c, &a.line, r.quiet && a.counted);
}

/* ---- me: memcached's debug dump of one item ---- */

/* The slab class memcached 1.6.18 (default -n 48 -f 1.25, 1 MiB pages) puts an item of `size`
 * bytes in: classes start at 96 bytes, grow by 1.25 rounded up to 8, and stop at 512 KiB. */
static unsigned _memcached_class(size_t size)
{
    unsigned cls = 1;
    double chunk = 96;
    for (;;) {
        size_t rounded = ((size_t)chunk + 7) / 8 * 8;
        if (chunk >= 524288 / 1.25)
            return cls;
        if (size <= rounded)
            return cls;
        chunk = (double)rounded * 1.25;
        cls++;
    }
}

typedef struct meta_dump {
    meta_req_t *r;
    uint32_t now;
    meta_line_t line;
} meta_dump_t;

static void _me_locked(store_t *store, void *arg)
{
    meta_dump_t *d = arg;
    item_t *it = store_find(store, d->r->key, d->r->nkey);
    meta_line_t *l = &d->line;
    if (it == NULL) {
        meta_put(l, "EN", 2);
        return;
    }
    meta_put(l, "ME ", 3);
    if (it->state & ITEM_KEY_BINARY) {
        char encoded[4 * ((STORE_KEY_MAX + 2) / 3)];
        meta_put(l, encoded, meta_b64_encode((const unsigned char *)item_key(it), it->nkey, encoded));
    } else {
        meta_put(l, item_key(it), it->nkey);
    }
    size_t size = store_memcached_size(it->nkey, item_flags(it), it->nvalue);
    char text[160];
    int32_t exp = it->exptime == 0 ? -1 : (int32_t)(d->now - it->exptime);
    int n = snprintf(text, sizeof(text), " exp=%d la=%u cas=%llu fetch=%s cls=%u size=%zu", (int)exp,
                     (unsigned)(d->now - it->atime), (unsigned long long)it->cas,
                     it->state & ITEM_FETCHED ? "yes" : "no", _memcached_class(size), size);
    if (n > 0)
        meta_put(l, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

static void _me(cmd_t *c)
{
    meta_req_t r = {.c = c};
    if (c->nt < 3 || c->t[1].n > STORE_KEY_MAX) {
        REPLY(c, TEXT_BAD_FORMAT);
        return;
    }
    memcpy(r.key, c->t[1].p, c->t[1].n);
    r.nkey = c->t[1].n;
    if (c->nt >= 4 && text_token_is(&c->t[2], "b") && (r.nkey = meta_b64_decode(c->t[1].p, c->t[1].n, r.key)) == 0) {
        REPLY(c, TEXT_BAD_FORMAT);
        return;
    }
    meta_dump_t d = {.r = &r, .now = cache_clock(c->s->engine->cache)};
    cache_locked(c->s->engine->cache, r.key, r.nkey, _me_locked, &d);
    meta_send(c, &d.line, false);
    stat_add(&c->s->stats->cmd_meta, 1); /* memcached 1.6.18 counts only "me" in cmd_meta */
}

void proto_meta_command(cmd_t *c)
{
    switch (c->t[0].p[1]) {
    case 'g': c->s->command = LATENCY_MG; _mg(c); break;
    case 's': c->s->command = LATENCY_MS; _ms(c); break;
    case 'd': c->s->command = LATENCY_MD; _md(c); break;
    case 'a': c->s->command = LATENCY_MA; _ma(c); break;
    case 'e': _me(c); break;
    case 'n': REPLY(c, TEXT_META_NOOP); break;
    default: REPLY(c, TEXT_ERROR); break;
    }
}

/* proto_text: memcached's classic text commands, one handler each: it checks the tokens in
 * memcached's order, acts on the store and appends the reply, as 1.6.18 does byte for byte. */
#include "proto_text.h"
#include "proto_meta.h"
#include "proto_text_cmd.h"

#include "mcnum.h"
#include "replies.h"
#include "value_out.h"

#include <stdint.h>
#include <string.h>

#define MAX_VERBOSITY 2
#define HTTP_PREFIX "HTTP/"

static bool _u64(const token_t *t, uint64_t *out)
{
    return mcnum_u64(t->p, t->n, out);
}

static bool _u32(const token_t *t, uint32_t *out)
{
    return mcnum_u32(t->p, t->n, out);
}

static bool _i32(const token_t *t, int32_t *out)
{
    return mcnum_i32(t->p, t->n, out);
}

/* memcached's set_noreply_maybe: a last argument "noreply" silences this command's reply. */
static bool _noreply_maybe(cmd_t *c)
{
    if (text_token_is(&c->t[c->nt - 2], "noreply"))
        c->noreply = true;
    return c->noreply;
}

static bool _key_ok(cmd_t *c, const token_t *key)
{
    if (key->n <= STORE_KEY_MAX)
        return true;
    REPLY(c, TEXT_BAD_FORMAT);
    return false;
}

/* ---- storage commands: the line now, the data block once it has arrived ---- */

/* The storage command's data block has arrived, its "\r\n" (ok) or not: w->value points at the
 * value, in the input or in the item reserved for it (w->reserved, committed or given up here). */
static void _complete_data(cmd_t *c, const store_write_t *w, bool ok)
{
    session_t *s = c->s;
    stat_add(&s->stats->cmd_set, 1);
    prefix_record(s->engine->prefixes, w->key, w->nkey, PREFIX_SET, false);
    if (!ok) {
        if (w->reserved)
            cache_release(s->engine->cache, w->reserved);
        REPLY(c, TEXT_BAD_DATA_CHUNK);
        return;
    }
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, w->key, w->nkey);
    store_status_t st = cache_write(s->engine->cache, w, NULL);
    if (text_watched(s, LOG_MUTATIONS))
        text_log_store(s, w, st);
    if (w->mode == STORE_MODE_CAS)
        engine_count_cas(s->stats, st);
    switch (st) {
    case STORE_OK:
        REPLY(c, TEXT_STORED);
        break;
    case STORE_EXISTS:
        REPLY(c, TEXT_EXISTS);
        break;
    case STORE_NOT_FOUND:
        REPLY(c, TEXT_NOT_FOUND);
        break;
    case STORE_TOO_LARGE:
    case STORE_NO_MEMORY:
        /* memcached fails to allocate an append's or prepend's joined item (too large, or no
         * room: with -M) and answers "not stored", uncounted. */
        if (w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND) {
            REPLY(c, TEXT_NOT_STORED);
            break;
        }
        stat_add(&s->stats->store_no_memory, 1);
        REPLY(c, TEXT_NO_MEMORY_STORING);
        break;
    default:
        REPLY(c, TEXT_NOT_STORED);
        break;
    }
}

/* What a storage command's commit needs of its line once the data block has come in. */
typedef struct text_pending {
    store_mode_t mode;
    uint32_t exptime;   /* store clock */
    uint64_t cas;
    bool noreply;
} text_pending_t;

/* Commits the reserved item holding the data block ("\r\n" after it, or not: ok) and replies. */
static void _commit_item(cmd_t *c, const text_pending_t *p, item_t *it, bool ok)
{
    store_write_t w = {.mode = p->mode, .exptime = p->exptime, .cas = p->cas};
    store_write_reserved(&w, it);
    /* The write gives the item up (and another thread may then evict it): the logs after it read
     * the key from here. */
    char key[STORE_KEY_MAX];
    memcpy(key, w.key, w.nkey);
    w.key = key;
    _complete_data(c, &w, ok);
}

static void _commit(session_t *s, session_value_t *v, buf_t *out)
{
    const text_pending_t *p = (const text_pending_t *)v->cmd;
    cmd_t c = {.s = s, .out = out, .noreply = p->noreply};
    _commit_item(&c, p, v->item, v->trailer[0] == '\r' && v->trailer[1] == '\n');
}

/* The item for the data block, reserved at the line as memcached allocates it, so that a value is
 * stored the same way whether it came with its line or later. Refused for want of memory: answered
 * now, the block discarded as it comes, and a set drops the old value (memcached's stale data
 * rule); NULL then. */
static item_t *_reserve(cmd_t *c, store_mode_t mode, const token_t *key, uint32_t flags, size_t vlen)
{
    session_t *s = c->s;
    cache_t *cache = s->engine->cache;
    store_status_t st;
    item_t *it = cache_reserve(cache, key->p, key->n, flags, vlen, &st);
    if (it != NULL)
        return it;
    stat_add(&s->stats->store_no_memory, 1);
    REPLY(c, TEXT_NO_MEMORY_STORING);
    s->proto.text.state = TEXT_SWALLOW;
    s->proto.text.swallow_left = (uint32_t)vlen + 2;
    if (mode == STORE_MODE_SET)
        cache_delete(cache, key->p, key->n);
    return NULL;
}

/* The data block is still to come: the session reads it into the item, then runs _commit. */
static void _receive(cmd_t *c, const text_pending_t *pending, item_t *it)
{
    text_pending_t *p = session_value_begin(c->s, it, 2, _commit, sizeof(*p));
    if (p == NULL) {
        c->s->state = SESSION_BROKEN;
        return;
    }
    *p = *pending;
}

static void _update(cmd_t *c, store_mode_t mode)
{
    session_t *s = c->s;
    _noreply_maybe(c);
    const token_t *key = &c->t[1];
    if (!_key_ok(c, key))
        return;
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;
    if (!_u32(&c->t[2], &flags) || !_i32(&c->t[3], &exptime) || !_i32(&c->t[4], &vlen) ||
        (mode == STORE_MODE_CAS && !_u64(&c->t[5], &cas)) || vlen < 0 || vlen > INT32_MAX - 2) {
        REPLY(c, TEXT_BAD_FORMAT);
        return;
    }
    if (cache_too_large(s->engine->cache, key->n, flags, (size_t)vlen)) {
        stat_add(&s->stats->store_too_large, 1);
        prefix_record(s->engine->prefixes, key->p, key->n, PREFIX_SET, false);
        REPLY(c, TEXT_TOO_LARGE);
        if (text_watched(s, LOG_MUTATIONS))
            text_log_too_large(s, key->p, key->n, mode);
        if (mode == STORE_MODE_SET && text_watched(s, LOG_FETCHERS))
            text_log_lookup(s, key->p, key->n);
        s->proto.text.state = TEXT_SWALLOW;
        s->proto.text.swallow_left = (uint32_t)vlen + 2;
        /* A failed set must not leave the old value readable, as in memcached. */
        if (mode == STORE_MODE_SET)
            cache_delete(s->engine->cache, key->p, key->n);
        return;
    }
    item_t *it = _reserve(c, mode, key, flags, (size_t)vlen);
    if (it == NULL)
        return;
    text_pending_t p = {mode, engine_exptime(s->engine, exptime), cas, c->noreply};
    /* Only the line is consumed now: the session places the bytes after it in the item. */
    if (c->nafter < (size_t)vlen + 2) {
        _receive(c, &p, it);
        return;
    }
    /* The whole data block came with its line: copied from the input, no session state. */
    c->used_after = (size_t)vlen + 2;
    const char *v = c->after;
    memcpy((char *)item_value(it), v, (size_t)vlen);
    _commit_item(c, &p, it, v[vlen] == '\r' && v[vlen + 1] == '\n');
}

/* ---- retrieval ---- */

int text_append_value(buf_t *out, cache_t *cache, item_t *it, bool with_cas)
{
    size_t copied = value_out_refers(out, it->nvalue) ? 0 : it->nvalue;
    size_t need = 6 + it->nkey + 1 + 10 + 1 + 10 + (with_cas ? 21 : 0) + 2 + copied + 2;
    if (buf_reserve(out, need) != 0)
        return -1;
    buf_append_lit(out, "VALUE ");
    buf_append(out, item_key(it), it->nkey);
    buf_append_lit(out, " ");
    buf_append_u64(out, item_flags(it));
    buf_append_lit(out, " ");
    buf_append_u64(out, it->nvalue);
    if (with_cas) {
        buf_append_lit(out, " ");
        buf_append_u64(out, it->cas);
    }
    buf_append_lit(out, "\r\n");
    if (value_out(out, cache, NULL, it) != 0)
        return -1;
    return buf_append_lit(out, "\r\n");
}

item_t *text_get_lookup(session_t *s, const char *key, size_t nkey, uint32_t exptime)
{
    cache_t *store = s->engine->cache;
    item_t *it = s->proto.text.get_touch ? cache_get_touch(store, key, nkey, exptime) : cache_get(store, key, nkey);
    engine_count_get(s->stats, s->proto.text.get_touch, it != NULL);
    prefix_record(s->engine->prefixes, key, nkey, PREFIX_GET, it != NULL);
    if (text_watched(s, LOG_FETCHERS))
        text_log_get(s, key, nkey, it);
    return it;
}

/* Looks one key up (touching it for gat), counts it, and appends its VALUE block unless out is NULL. */
static void _get_one(session_t *s, const char *key, size_t nkey, buf_t *out)
{
    item_t *it = text_get_lookup(s, key, nkey, s->proto.text.get_exptime);
    if (it == NULL)
        return;
    if (out != NULL && text_verbose(s))
        logger_stderr(&s->engine->logger, ">%d sending key %.*s", (int)s->fd, (int)nkey, key);
    if (out != NULL && text_append_value(out, s->engine->cache, it, s->proto.text.get_with_cas) != 0)
        s->state = SESSION_BROKEN;
    cache_release(s->engine->cache, it);
}

/* Serves the keys in [p, end) of a get line. Returns the offset of the first key left for later
 * when output passed the high-water mark, or 0 when every key was served and END appended. */
static size_t _get_keys(session_t *s, const char *p, const char *end, buf_t *out)
{
    const char *start = p;
    for (;;) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        if (p != start && buf_pending(out) >= s->out_high_water && s->state == SESSION_OPEN)
            return (size_t)(p - start);
        const char *key = p;
        while (p < end && *p != ' ')
            p++;
        _get_one(s, key, (size_t)(p - key), out);
    }
    if (text_verbose(s))
        logger_stderr(&s->engine->logger, ">%d END", (int)s->fd);
    if (buf_append_lit(out, TEXT_END "\r\n") != 0)
        s->state = SESSION_BROKEN;
    return 0;
}

/* Where the first key longer than memcached allows starts, or NULL. */
static const char *_long_key(const char *p, const char *end)
{
    while (p < end) {
        const char *space = memchr(p, ' ', (size_t)(end - p));
        const char *stop = space ? space : end;
        if (stop - p > STORE_KEY_MAX)
            return p;
        p = stop + 1;
    }
    return NULL;
}

/* get/gets/gat/gats. Returns the bytes of the line served when it pauses, else 0. */
static size_t _get(cmd_t *c, const char *line, const char *end, bool with_cas, bool touch)
{
    session_t *s = c->s;
    size_t first_key = 1;
    s->proto.text.get_with_cas = with_cas;
    s->proto.text.get_touch = touch;
    s->proto.text.get_exptime = 0;
    if (touch) {
        int32_t exptime;
        if (!_i32(&c->t[1], &exptime)) {
            REPLY(c, TEXT_BAD_EXPTIME);
            return 0;
        }
        s->proto.text.get_exptime = engine_exptime(s->engine, exptime);
        first_key = 2;
    }
    const char *keys = c->t[first_key].p ? c->t[first_key].p : end;
    /* A key too long fails the command with no value sent, but memcached has looked up (and for
     * gat touched) the keys before it; so do we, without queueing their values. (memcached also
     * culls the unsent replies of earlier pipelined commands here, depending on when it last
     * flushed; we keep them: losing replies desynchronises every pipelining client.) */
    const char *too_long = _long_key(keys, end);
    if (too_long != NULL) {
        for (const char *p = keys; p < too_long;) {
            const char *space = memchr(p, ' ', (size_t)(too_long - p));
            const char *stop = space ? space : too_long;
            if (stop > p)
                _get_one(s, p, (size_t)(stop - p), NULL);
            p = stop + 1;
        }
        REPLY(c, TEXT_BAD_FORMAT);
        return 0;
    }
    size_t paused = _get_keys(s, keys, end, c->out);
    if (paused == 0)
        return 0;
    s->proto.text.state = TEXT_GET_MORE;
    return (size_t)(keys - line) + paused;
}

/* ---- other commands ---- */

static void _arith(cmd_t *c, bool incr)
{
    session_t *s = c->s;
    _noreply_maybe(c);
    if (!_key_ok(c, &c->t[1]))
        return;
    uint64_t delta, value;
    if (!_u64(&c->t[2], &delta)) {
        REPLY(c, TEXT_BAD_DELTA);
        return;
    }
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, c->t[1].p, c->t[1].n);
    switch (cache_arith(s->engine->cache, c->t[1].p, c->t[1].n, incr, delta, &value)) {
    case STORE_OK: {
        stat_add(incr ? &s->stats->incr_hits : &s->stats->decr_hits, 1);
        char digits[20];
        text_reply(c, digits, buf_format_u64(digits, value));
        break;
    }
    case STORE_NON_NUMERIC:
        REPLY(c, TEXT_NON_NUMERIC);
        break;
    case STORE_NOT_FOUND:
        stat_add(incr ? &s->stats->incr_misses : &s->stats->decr_misses, 1);
        REPLY(c, TEXT_NOT_FOUND);
        break;
    default:
        REPLY(c, TEXT_NO_MEMORY);
        break;
    }
}

static void _delete(cmd_t *c)
{
    session_t *s = c->s;
    if (c->nt > 3) {
        bool hold_is_zero = text_token_is(&c->t[2], "0");
        bool noreply = _noreply_maybe(c);
        bool valid = (c->nt == 4 && (hold_is_zero || noreply)) || (c->nt == 5 && hold_is_zero && noreply);
        if (!valid) {
            REPLY(c, TEXT_BAD_DELETE_FORMAT);
            return;
        }
    }
    if (!_key_ok(c, &c->t[1]))
        return;
    prefix_record(s->engine->prefixes, c->t[1].p, c->t[1].n, PREFIX_DELETE, false);
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, c->t[1].p, c->t[1].n);
    if (cache_delete(s->engine->cache, c->t[1].p, c->t[1].n) == STORE_OK) {
        stat_add(&s->stats->delete_hits, 1);
        REPLY(c, TEXT_DELETED);
    } else {
        stat_add(&s->stats->delete_misses, 1);
        REPLY(c, TEXT_NOT_FOUND);
    }
}

static void _touch(cmd_t *c)
{
    session_t *s = c->s;
    _noreply_maybe(c);
    if (!_key_ok(c, &c->t[1]))
        return;
    int32_t exptime;
    if (!_i32(&c->t[2], &exptime)) {
        REPLY(c, TEXT_BAD_EXPTIME);
        return;
    }
    if (text_watched(s, LOG_FETCHERS))
        text_log_lookup(s, c->t[1].p, c->t[1].n);
    bool hit = cache_touch(s->engine->cache, c->t[1].p, c->t[1].n, engine_exptime(s->engine, exptime)) == STORE_OK;
    engine_count_get(s->stats, true, hit);
    if (hit)
        REPLY(c, TEXT_TOUCHED);
    else
        REPLY(c, TEXT_NOT_FOUND);
}

static void _verbosity(cmd_t *c)
{
    _noreply_maybe(c);
    uint32_t level;
    if (!_u32(&c->t[1], &level)) {
        REPLY(c, TEXT_BAD_FORMAT);
        return;
    }
    __atomic_store_n(&c->s->engine->verbosity, level > MAX_VERBOSITY ? MAX_VERBOSITY : level, __ATOMIC_RELAXED);
    REPLY(c, TEXT_OK);
}

/* Lazy: the store only records from when items count as flushed. memcached makes a delayed flush
 * take effect one second before the delay ends; so do we. */
static void _flush_all(cmd_t *c)
{
    session_t *s = c->s;
    _noreply_maybe(c);
    stat_add(&s->stats->cmd_flush, 1);
    /* -F: refused before its argument is looked at, and counted all the same, as memcached does. */
    if (s->engine->flush_disabled) {
        REPLY(c, TEXT_FLUSH_DISABLED);
        return;
    }
    int32_t delay = 0;
    if (c->nt != (c->noreply ? 3u : 2u) && !_i32(&c->t[1], &delay)) {
        REPLY(c, TEXT_BAD_EXPTIME);
        return;
    }
    cache_flush(s->engine->cache, delay > 0 ? engine_exptime(s->engine, delay) - 1 : 0);
    REPLY(c, TEXT_OK);
}

static bool _want(cmd_t *c, size_t a, size_t b)
{
    if (c->nt == a || c->nt == b)
        return true;
    REPLY(c, TEXT_ERROR);
    return false;
}

/* Runs one command line [line, end). Returns how much of it a paused get served (0 otherwise). */
static size_t _dispatch(cmd_t *c, const char *line, const char *end)
{
    c->nt = text_tokenize(line, end, c->t);
    const token_t *w = &c->t[0];
    c->s->command = LATENCY_OTHER;
    if (c->nt < 2 || w->n < 2) {
        REPLY(c, TEXT_ERROR);
        return 0;
    }
    if (w->n == 2 && w->p[0] == 'm') {
        proto_meta_command(c);
        return 0;
    }
    if (w->p[0] == 'g' && (text_token_is(w, "get") || text_token_is(w, "gets") || text_token_is(w, "gat") || text_token_is(w, "gats"))) {
        if (c->nt < 3) {
            REPLY(c, TEXT_ERROR);
            return 0;
        }
        c->s->command = w->p[1] == 'a' ? LATENCY_GAT : LATENCY_GET;
        return _get(c, line, end, w->n == 4, w->p[1] == 'a');
    }
    if (text_token_is(w, "bget") && c->nt >= 3) {
        c->s->command = LATENCY_GET;
        return _get(c, line, end, false, false);
    }

    static const struct { const char *name; store_mode_t mode; uint8_t command; } updates[] = {
        {"set", STORE_MODE_SET, LATENCY_SET},
        {"add", STORE_MODE_ADD, LATENCY_ADD},
        {"replace", STORE_MODE_REPLACE, LATENCY_REPLACE},
        {"append", STORE_MODE_APPEND, LATENCY_APPEND},
        {"prepend", STORE_MODE_PREPEND, LATENCY_PREPEND},
        {"cas", STORE_MODE_CAS, LATENCY_CAS},
    };
    for (size_t i = 0; i < sizeof(updates) / sizeof(updates[0]); i++) {
        if (text_token_is(w, updates[i].name)) {
            c->s->command = updates[i].command;
            size_t base = updates[i].mode == STORE_MODE_CAS ? 7 : 6;
            if (_want(c, base, base + 1))
                _update(c, updates[i].mode);
            return 0;
        }
    }
    if (text_token_is(w, "incr") || text_token_is(w, "decr")) {
        c->s->command = w->p[0] == 'i' ? LATENCY_INCR : LATENCY_DECR;
        if (_want(c, 4, 5))
            _arith(c, w->p[0] == 'i');
    } else if (text_token_is(w, "delete")) {
        c->s->command = LATENCY_DELETE;
        if (c->nt >= 3 && c->nt <= 5)
            _delete(c);
        else
            REPLY(c, TEXT_ERROR);
    } else if (text_token_is(w, "touch")) {
        c->s->command = LATENCY_TOUCH;
        if (_want(c, 4, 5))
            _touch(c);
    } else if (text_token_is(w, "flush_all")) {
        c->s->command = LATENCY_FLUSH;
        if (c->nt <= 4)
            _flush_all(c);
        else
            REPLY(c, TEXT_ERROR);
    } else if (text_token_is(w, "verbosity")) {
        if (_want(c, 3, 4))
            _verbosity(c);
    } else if (text_token_is(w, "watch")) {
        text_watch(c);
    } else if (text_token_is(w, "stats")) {
        text_stats(c);
    } else if (text_token_is(w, "lru_crawler")) {
        text_lru_crawler(c);
    } else if (text_token_is(w, "slabs")) {
        text_slabs(c);
    } else if (text_token_is(w, "cache_memlimit")) {
        if (_want(c, 3, 4))
            text_cache_memlimit(c);
    } else if (text_token_is(w, "version")) {
        REPLY(c, "VERSION " ENGINE_VERSION);
    } else if (text_token_is(w, "quit")) {
        c->s->state = SESSION_QUIT;
    } else if (text_token_is(w, "shutdown")) {
        text_shutdown(c);
    } else if (text_token_is(w, "lru")) {
        text_lru(c);
    } else {
        /* memcached hangs up on what looks like an HTTP request. */
        const token_t *last = &c->t[c->nt - 2];
        if (last->n >= 5 && memcmp(last->p, HTTP_PREFIX, 5) == 0)
            c->s->state = SESSION_BROKEN;
        else
            REPLY(c, TEXT_ERROR);
    }
    return 0;
}

/* The command line in [in, nl): memcached drops one "\r" before the "\n" (unless the line is that
 * "\r" alone) and reads the line as a C string, so a NUL byte ends it early. */
static const char *_line_end(const char *in, const char *nl)
{
    const char *end = nl;
    if (end - in > 1 && end[-1] == '\r')
        end--;
    const char *nul = memchr(in, '\0', (size_t)(end - in));
    return nul ? nul : end;
}

static bool _is_get_line(const char *in, size_t len)
{
    size_t i = 0;
    while (i < len && in[i] == ' ')
        i++;
    if (i > 100)
        return false;
    return (len - i >= 4 && memcmp(in + i, "get ", 4) == 0) || (len - i >= 5 && memcmp(in + i, "gets ", 5) == 0);
}

/* Handles what the input holds in the current state; returns bytes consumed, 0 = need more. */
size_t proto_text_step(session_t *s, const char *in, size_t len, buf_t *out)
{
    text_session_t *t = &s->proto.text;
    if (!t->authenticated)
        return proto_text_auth_step(s, in, len, out);
    switch (t->state) {
    case TEXT_SWALLOW: {
        size_t n = t->swallow_left < len ? (size_t)t->swallow_left : len;
        t->swallow_left -= (uint32_t)n;
        if (t->swallow_left == 0)
            t->state = TEXT_LINE;
        return n;
    }
    case TEXT_DUMPING:
        return text_dump_continue(s, out);
    case TEXT_GET_STREAM:
    case TEXT_GET_DISCARD:
    case TEXT_GET_SEND:
        return text_getline_step(s, in, len, out);
    case TEXT_GET_MORE:
    case TEXT_LINE:
        break;
    }
    size_t from = s->scanned < len ? s->scanned : len;
    const char *nl = memchr(in + from, '\n', len - from);
    if (nl == NULL) {
        s->scanned = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
        /* memcached closes a connection whose line has no end in 2 KiB, unless it is a get (or
         * gets), whose keys are then served as they arrive. */
        if (t->state == TEXT_LINE && len > TEXT_MAX_LINE) {
            if (_is_get_line(in, len))
                return text_getline_begin(s, in, len, out);
            s->state = SESSION_BROKEN;
        }
        return 0;
    }
    s->scanned = 0;
    const char *end = _line_end(in, nl);
    size_t line_len = (size_t)(nl - in) + 1;
    if (t->state == TEXT_GET_MORE) {
        t->state = TEXT_LINE;
        size_t paused = _get_keys(s, in, end, out);
        if (paused) {
            t->state = TEXT_GET_MORE;
            return paused;
        }
        return line_len;
    }
    if (text_verbose(s) && !t->line_logged)
        text_log_line(s, in, (size_t)(end - in));
    cmd_t c = {.s = s, .out = out, .after = nl + 1, .nafter = len - line_len, .line_len = line_len};
    size_t paused = _dispatch(&c, in, end);
    /* A storage line waits for its data block and runs again: -vv prints it once. */
    t->line_logged = c.need_more;
    if (c.need_more)
        return 0;
    return paused ? paused : line_len + c.used_after;
}

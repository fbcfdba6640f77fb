/* proto_text_getline: a get or gets line with no line end in TEXT_MAX_LINE bytes (memcached buffers
 * such a line whole, however long), served as its keys arrive so that the input held stays small. */
#include "proto_text.h"
#include "bufref.h"
#include "proto_text_cmd.h"

#include "replies.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Hits are held back (by reference) until the line ends, so that a key too long later in it gets
 * what memcached answers: the error alone, no value. Past either bound the hits held go out and
 * later ones go out as found; a bad key after that can only end the values sent with the error. */
#define GETLINE_HOLD_ITEMS 65536
#define GETLINE_HOLD_BYTES (4u << 20)
/* What a VALUE line adds to a value: "VALUE " key " " flags " " bytes " " cas "\r\n" ... "\r\n". */
#define GETLINE_VALUE_OVERHEAD 60

typedef struct text_getline {
    item_t **held;       /* hits not sent yet, in the order asked; an item may recur */
    size_t nheld, cap, sent;
    size_t held_bytes;   /* about what the held hits' replies take */
    /* The distinct items held, an open-addressed set of nslots (a power of two, at most half
     * full): the line owns one reference to each, however often it names it, so that no line can
     * run an item's 16-bit reference count over. */
    item_t **owned;
    size_t nslots, nowned;
    size_t keys;         /* keys looked up: a line with none is an ERROR, as a short one is */
    bool committed;      /* hits go out as found: nothing sent can be taken back */
    bool bad_key;        /* a key too long: the line's answer is CLIENT_ERROR */
} text_getline_t;

static size_t _slot_of(const item_t *it, size_t nslots)
{
    return (size_t)(((uintptr_t)it >> 4) * 0x9E3779B97F4A7C15ull) & (nslots - 1);
}

/* Adds it to the owned set; false if it was there already. -1 when the set cannot grow. */
static int _own(text_getline_t *g, item_t *it)
{
    if ((g->nowned + 1) * 2 > g->nslots) {
        size_t nslots = g->nslots ? g->nslots * 2 : 128;
        item_t **slots = calloc(nslots, sizeof(*slots));
        if (slots == NULL)
            return -1;
        for (size_t i = 0; i < g->nslots; i++) {
            if (g->owned[i] == NULL)
                continue;
            size_t j = _slot_of(g->owned[i], nslots);
            while (slots[j] != NULL)
                j = (j + 1) & (nslots - 1);
            slots[j] = g->owned[i];
        }
        free(g->owned);
        g->owned = slots;
        g->nslots = nslots;
    }
    size_t j = _slot_of(it, g->nslots);
    for (; g->owned[j] != NULL; j = (j + 1) & (g->nslots - 1))
        if (g->owned[j] == it)
            return 0;
    g->owned[j] = it;
    g->nowned++;
    return 1;
}

/* Gives back the line's reference to every item it holds. */
static void _release_owned(session_t *s, text_getline_t *g)
{
    for (size_t i = 0; i < g->nslots && g->nowned > 0; i++) {
        if (g->owned[i] != NULL) {
            cache_release(s->engine->cache, g->owned[i]);
            g->owned[i] = NULL;
            g->nowned--;
        }
    }
}

static void _end_state(session_t *s)
{
    text_session_t *t = &s->proto.text;
    text_getline_t *g = t->getline;
    _release_owned(s, g);
    free(g->owned);
    free(g->held);
    free(g);
    t->getline = NULL;
    t->state = TEXT_LINE;
    s->producing = false;
}

void text_getline_end(session_t *s)
{
    uint8_t state = s->proto.text.state;
    if (state == TEXT_GET_STREAM || state == TEXT_GET_DISCARD || state == TEXT_GET_SEND)
        _end_state(s);
}

static void _append(session_t *s, item_t *it, buf_t *out)
{
    if (text_append_value(out, s->engine->cache, it, s->proto.text.get_with_cas) != 0)
        s->state = SESSION_BROKEN;
}

/* Sends held hits, all of them or until out reaches the mark. Returns whether none is left. */
static bool _send_held(session_t *s, text_getline_t *g, buf_t *out, bool all)
{
    while (g->sent < g->nheld) {
        if (!all && g->sent > 0 && buf_pending(out) >= s->out_high_water)
            return false;
        _append(s, g->held[g->sent++], out);
    }
    _release_owned(s, g);
    g->nheld = g->sent = 0;
    g->held_bytes = 0;
    return true;
}

/* No room to hold more: what is held goes out now, as past the bounds, and so does it. */
static void _commit_with(session_t *s, text_getline_t *g, item_t *it, buf_t *out)
{
    g->committed = true;
    _send_held(s, g, out, true);
    _append(s, it, out);
    cache_release(s->engine->cache, it);
}

static void _hold(session_t *s, text_getline_t *g, item_t *it, buf_t *out)
{
    if (g->nheld == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        item_t **grown = realloc(g->held, cap * sizeof(*grown));
        if (grown == NULL) {
            _commit_with(s, g, it, out);
            return;
        }
        g->held = grown;
        g->cap = cap;
    }
    int owned = _own(g, it);
    if (owned < 0) {
        _commit_with(s, g, it, out);
        return;
    }
    /* Held already: the reference it holds keeps this one alive too. */
    if (owned == 0)
        cache_release(s->engine->cache, it);
    g->held[g->nheld++] = it;
    g->held_bytes += it->nkey + it->nvalue + GETLINE_VALUE_OVERHEAD;
    if (g->nheld >= GETLINE_HOLD_ITEMS || g->held_bytes >= GETLINE_HOLD_BYTES) {
        g->committed = true;
        _send_held(s, g, out, true);
    }
}

/* One whole key of the line, looked up in turn as memcached does; false if it is too long. */
static bool _key(session_t *s, text_getline_t *g, const char *key, size_t nkey, buf_t *out)
{
    if (nkey > STORE_KEY_MAX) {
        g->bad_key = true;
        return false;
    }
    g->keys++;
    item_t *it = text_get_lookup(s, key, nkey, 0);
    if (it == NULL)
        return true;
    if (text_verbose(s))
        logger_stderr(&s->engine->logger, ">%d sending key %.*s", (int)s->fd, (int)nkey, key);
    if (g->committed) {
        _append(s, it, out);
        cache_release(s->engine->cache, it);
    } else
        _hold(s, g, it, out);
    return true;
}

/* Serves the keys in [p, end): the whole ones, and the last one too once the line has ended there.
 * Returns where it stopped (a key not whole yet, a key the output mark leaves for later, or end),
 * or NULL at a key too long. */
static const char *_keys(session_t *s, text_getline_t *g, const char *p, const char *end, bool ended, buf_t *out)
{
    const char *first = p;
    for (;;) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            return p;
        const char *space = memchr(p, ' ', (size_t)(end - p));
        if (space == NULL && !ended) {
            /* Not whole yet; but past the key limit (and a "\r" that may end the line) it is bad
             * already, and waiting for its end would hold unbounded input. */
            if ((size_t)(end - p) > STORE_KEY_MAX + 1) {
                g->bad_key = true;
                return NULL;
            }
            return p;
        }
        if (g->committed && p != first && buf_pending(out) >= s->out_high_water)
            return p;
        const char *stop = space ? space : end;
        if (!_key(s, g, p, (size_t)(stop - p), out))
            return NULL;
        p = stop;
    }
}

static void _append_end(session_t *s, buf_t *out)
{
    if (text_verbose(s))
        logger_stderr(&s->engine->logger, ">%d END", (int)s->fd);
    if (buf_append_lit(out, TEXT_END "\r\n") != 0)
        s->state = SESSION_BROKEN;
}

/* The line has ended at nl: its answer. Held hits that do not fit under the mark keep the "\n"
 * unconsumed and go out in TEXT_GET_SEND. */
static size_t _line_ended(session_t *s, const char *in, const char *nl, buf_t *out)
{
    text_getline_t *g = s->proto.text.getline;
    cmd_t c = {.s = s, .out = out};
    size_t line_rest = (size_t)(nl - in) + 1;
    if (g->bad_key) {
        /* memcached logs the END it does not send, and drops the values of this command. */
        if (text_verbose(s))
            logger_stderr(&s->engine->logger, ">%d END", (int)s->fd);
        _end_state(s);
        REPLY(&c, TEXT_BAD_FORMAT);
        return line_rest;
    }
    if (g->keys == 0) {
        _end_state(s);
        REPLY(&c, TEXT_ERROR);
        return line_rest;
    }
    if (!_send_held(s, g, out, false)) {
        s->proto.text.state = TEXT_GET_SEND;
        s->producing = true;
        return line_rest - 1;
    }
    _end_state(s);
    _append_end(s, out);
    return line_rest;
}

size_t text_getline_begin(session_t *s, const char *in, size_t len, buf_t *out)
{
    (void)out;
    text_session_t *t = &s->proto.text;
    text_getline_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        s->state = SESSION_BROKEN;
        return 0;
    }
    /* The caller has seen "get " or "gets " after at most 100 spaces. */
    const char *p = in;
    while (*p == ' ')
        p++;
    bool with_cas = p[3] == 's';
    p += with_cas ? 5 : 4;
    /* -vv shows the line as it starts: the logger cuts a long line anyway. */
    if (text_verbose(s))
        text_log_line(s, in, len);
    t->get_with_cas = with_cas;
    t->get_touch = false;
    t->getline = g;
    t->state = TEXT_GET_STREAM;
    s->command = LATENCY_GET;
    s->scanned = 0;
    return (size_t)(p - in);
}

size_t text_getline_step(session_t *s, const char *in, size_t len, buf_t *out)
{
    text_session_t *t = &s->proto.text;
    s->command = LATENCY_GET;
    const char *nl = memchr(in, '\n', len);
    if (t->state == TEXT_GET_SEND) {
        /* in[0] is the line's "\n", kept until every held hit has gone. */
        if (!_send_held(s, t->getline, out, false))
            return 0;
        _end_state(s);
        _append_end(s, out);
        return 1;
    }
    if (t->state == TEXT_GET_DISCARD)
        return nl ? _line_ended(s, in, nl, out) : len;
    /* memcached drops the "\r" before the "\n", and a NUL ends the line it reads as a C string. */
    const char *end = nl ? nl : in + len;
    if (nl && nl > in && nl[-1] == '\r')
        end--;
    const char *nul = memchr(in, '\0', (size_t)(end - in));
    if (nul != NULL)
        end = nul;
    const char *stop = _keys(s, t->getline, in, end, nl != NULL || nul != NULL, out);
    if (stop == NULL || (nul != NULL && stop == end)) {
        /* A bad key, or a NUL ended the line: the rest of it is dropped up to its "\n". */
        if (nl == NULL) {
            t->state = TEXT_GET_DISCARD;
            return len;
        }
        return _line_ended(s, in, nl, out);
    }
    if (nl == NULL || stop < end)
        return (size_t)(stop - in);
    return _line_ended(s, in, nl, out);
}

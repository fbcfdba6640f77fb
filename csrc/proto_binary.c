/* proto_binary: memcached's binary protocol — header parsing and one handler per command, following
 * memcached 1.6.18's proto_bin.c in every status, body and quiet rule (packets: proto_binary_compose.c). */
#include "proto_binary.h"
#include "proto_binary_cmd.h"
#include "proto_binary_sasl.h"

#include <stdint.h>
#include <string.h>

#include "stats.h"

/* memcached's incr/decr "do not create" expiration. */
#define BINARY_NO_CREATE 0xffffffffu

/* memcached counts what it discards in an int: a count past INT32_MAX discards nothing. */
static void _swallow(binary_req_t *r, uint32_t n)
{
    if (n <= INT32_MAX)
        r->s->proto.binary.swallow_left = n;
}

/* A request memcached finds malformed: "Invalid arguments", then it hangs up. */
static void _protocol_error(binary_req_t *r)
{
    binary_error(r, BINARY_ST_EINVAL, NULL);
    r->s->state = SESSION_BROKEN;
}

/* ---- storage ---- */

static void _write_failed(binary_req_t *r, store_mode_t mode, store_status_t st)
{
    bool concat = mode == STORE_MODE_APPEND || mode == STORE_MODE_PREPEND;
    switch (st) {
    case STORE_EXISTS:
        binary_error(r, BINARY_ST_KEY_EEXISTS, NULL);
        break;
    case STORE_NOT_FOUND:
        binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
        break;
    case STORE_TOO_LARGE:
    case STORE_NO_MEMORY:
        /* memcached fails to allocate: a new item is "out of memory" (and a set drops the old
         * value), an append or prepend "not stored". */
        if (!concat) {
            binary_error(r, BINARY_ST_ENOMEM, "Out of memory allocating item");
            if (r->cmd == BINARY_OP_SET)
                cache_delete(r->s->engine->cache, r->key, r->keylen);
            break;
        }
        /* fall through */
    default:
        if (mode == STORE_MODE_ADD)
            binary_error(r, BINARY_ST_KEY_EEXISTS, NULL);
        else if (mode == STORE_MODE_REPLACE)
            binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
        else
            binary_error(r, BINARY_ST_NOT_STORED, NULL);
        break;
    }
}

/* Stores a value that has arrived (in the input, or in its reserved item: w->reserved) and replies. */
static void _store_write(binary_req_t *r, const store_write_t *w)
{
    session_t *s = r->s;
    stat_add(&s->stats->cmd_set, 1);
    uint64_t cas = 0;
    store_status_t st = cache_write(s->engine->cache, w, &cas);
    if (w->mode == STORE_MODE_CAS)
        engine_count_cas(s->stats, st);
    if (st == STORE_OK)
        binary_success(r, NULL, 0, cas);
    else
        _write_failed(r, w->mode, st);
}

/* A storage request whose value is still arriving into its reserved item: what its commit needs.
 * The key is kept apart, since the write gives the item up before the reply is composed. */
typedef struct binary_pending {
    binary_req_t r;
    store_mode_t mode;
    uint32_t exptime;
    char key[STORE_KEY_MAX];
} binary_pending_t;

static void _store_commit(session_t *s, session_value_t *v, buf_t *out)
{
    binary_pending_t *p = (binary_pending_t *)v->cmd;
    p->r.s = s;
    p->r.out = out;
    p->r.key = p->key;
    store_write_t w = {.mode = p->mode, .exptime = p->exptime, .cas = p->r.cas};
    store_write_reserved(&w, v->item);
    w.key = p->key;
    _store_write(&p->r, &w);
}

/* The value is still to come: the session reads it into the item, then runs _store_commit. */
static void _receive(binary_req_t *r, item_t *it, store_mode_t mode, uint32_t exptime)
{
    binary_pending_t *p = session_value_begin(r->s, it, 0, _store_commit, sizeof(*p));
    if (p == NULL) {
        r->s->state = SESSION_BROKEN;
        return;
    }
    p->r = *r;
    p->r.extras = NULL;
    p->r.rest = NULL;
    p->mode = mode;
    p->exptime = exptime;
    memcpy(p->key, r->key, r->keylen);
    /* Only the header, extras and key are consumed: the session places the value bytes. */
}

/* set/add/replace/append/prepend of a value of vlen bytes following the key. A cas other than 0
 * turns set, add and replace into a cas; append and prepend then check it too. */
static void _store(binary_req_t *r, store_mode_t mode, uint32_t flags, uint32_t exptime, uint32_t vlen)
{
    session_t *s = r->s;
    cache_t *cache = s->engine->cache;
    if (vlen > INT32_MAX - 2 || cache_too_large(cache, r->keylen, flags, vlen)) {
        binary_error(r, BINARY_ST_E2BIG, NULL);
        _swallow(r, vlen);
        /* A failed set must not leave the old value readable, as in memcached. */
        if (r->cmd == BINARY_OP_SET)
            cache_delete(cache, r->key, r->keylen);
        return;
    }
    if (r->cas != 0 && (mode == STORE_MODE_SET || mode == STORE_MODE_ADD || mode == STORE_MODE_REPLACE))
        mode = STORE_MODE_CAS;
    uint32_t when = engine_exptime(s->engine, exptime);
    /* The item is reserved at the header, as memcached allocates it, whether the value came with
     * it or comes later; refused, it is answered now and the value discarded as it comes. */
    store_status_t st;
    item_t *it = cache_reserve(cache, r->key, r->keylen, flags, vlen, &st);
    if (it == NULL) {
        _write_failed(r, STORE_MODE_SET, st);
        _swallow(r, vlen);
        return;
    }
    if (r->nrest < vlen) {
        _receive(r, it, mode, when);
        return;
    }
    r->consumed += vlen;
    memcpy((char *)item_value(it), r->rest, vlen);
    store_write_t w = {.mode = mode, .exptime = when, .cas = r->cas};
    store_write_reserved(&w, it);
    w.key = r->key; /* the same bytes, still there once the write has given the item up */
    _store_write(r, &w);
}

static bool _update(binary_req_t *r, store_mode_t mode)
{
    if (r->extlen != 8 || r->keylen == 0 || r->bodylen < (uint32_t)r->keylen + 8)
        return false;
    _store(r, mode, binary_get32(r->extras), binary_get32(r->extras + 4), r->bodylen - r->keylen - 8);
    return true;
}

static bool _concat(binary_req_t *r, store_mode_t mode)
{
    if (r->keylen == 0 || r->extlen != 0)
        return false;
    _store(r, mode, 0, 0, r->bodylen - r->keylen);
    return true;
}

/* ---- retrieval ---- */

/* get/getk/touch/gat/gatk and their quiet forms. A hit always answers; a quiet miss does not. */
static void _retrieve(binary_req_t *r, bool touch, uint32_t exptime)
{
    session_t *s = r->s;
    cache_t *cache = s->engine->cache;
    bool with_key = r->cmd == BINARY_OP_GETK || r->cmd == BINARY_OP_GATK;
    bool with_value = r->cmd != BINARY_OP_TOUCH;
    item_t *it = touch ? cache_get_touch(cache, r->key, r->keylen, engine_exptime(s->engine, exptime))
                       : cache_get(cache, r->key, r->keylen);
    engine_count_get(s->stats, touch, it != NULL);
    if (it != NULL) {
        unsigned char flags[4];
        binary_put32(flags, item_flags(it));
        binary_rsp_t p = {.opcode = r->opcode, .status = BINARY_ST_SUCCESS, .extras = flags, .extlen = 4,
                          .key = with_key ? item_key(it) : NULL, .keylen = with_key ? r->keylen : 0,
                          .value = with_value ? item_value(it) : NULL, .nvalue = with_value ? it->nvalue : 0,
                          .cas = it->cas, .value_item = with_value ? it : NULL};
        binary_compose(r, &p);
        cache_release(cache, it);
    } else if (r->quiet) {
        /* a quiet miss is silent */
    } else if (with_key) {
        binary_rsp_t p = {.opcode = r->opcode, .status = BINARY_ST_KEY_ENOENT, .key = r->key, .keylen = r->keylen};
        binary_compose(r, &p);
    } else {
        binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
    }
}

/* ---- other commands ---- */

static bool _delete(binary_req_t *r)
{
    if (r->keylen == 0 || r->extlen != 0 || r->bodylen != r->keylen)
        return false;
    session_t *s = r->s;
    switch (cache_delete_cas(s->engine->cache, r->key, r->keylen, r->cas)) {
    case STORE_OK:
        stat_add(&s->stats->delete_hits, 1);
        binary_success(r, NULL, 0, 0);
        break;
    case STORE_EXISTS:
        binary_error(r, BINARY_ST_KEY_EEXISTS, NULL);
        break;
    default:
        stat_add(&s->stats->delete_misses, 1);
        binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
        break;
    }
    return true;
}

/* A missing counter is created from the initial value unless the expiration says not to. */
static void _arith_create(binary_req_t *r, bool incr, uint64_t initial, uint32_t exptime)
{
    session_t *s = r->s;
    if (exptime == BINARY_NO_CREATE) {
        stat_add(incr ? &s->stats->incr_misses : &s->stats->decr_misses, 1);
        binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
        return;
    }
    char digits[20];
    size_t n = buf_format_u64(digits, initial);
    store_write_t w = {STORE_MODE_ADD, r->key, r->keylen, digits, n, 0, engine_exptime(s->engine, exptime), 0, NULL};
    uint64_t cas = 0;
    store_status_t st = cache_write(s->engine->cache, &w, &cas);
    if (st == STORE_OK) {
        unsigned char value[8];
        binary_put64(value, initial);
        binary_success(r, value, sizeof(value), cas);
    } else if (st == STORE_NO_MEMORY || st == STORE_TOO_LARGE) {
        binary_error(r, BINARY_ST_ENOMEM, "Out of memory allocating new item");
    } else {
        binary_error(r, BINARY_ST_NOT_STORED, NULL);
    }
}

static bool _arith(binary_req_t *r, bool incr)
{
    if (r->keylen == 0 || r->extlen != 20 || r->bodylen != (uint32_t)r->keylen + 20)
        return false;
    session_t *s = r->s;
    uint64_t delta = binary_get64(r->extras), initial = binary_get64(r->extras + 8), result = 0, cas = r->cas;
    uint32_t exptime = binary_get32(r->extras + 16);
    switch (cache_arith_cas(s->engine->cache, r->key, r->keylen, incr, delta, &result, &cas)) {
    case STORE_OK: {
        stat_add(incr ? &s->stats->incr_hits : &s->stats->decr_hits, 1);
        unsigned char value[8];
        binary_put64(value, result);
        binary_success(r, value, sizeof(value), cas);
        break;
    }
    case STORE_NON_NUMERIC:
        binary_error(r, BINARY_ST_DELTA_BADVAL, NULL);
        break;
    case STORE_EXISTS:
        binary_error(r, BINARY_ST_KEY_EEXISTS, NULL);
        break;
    case STORE_NOT_FOUND:
        _arith_create(r, incr, initial, exptime);
        break;
    default:
        binary_error(r, BINARY_ST_ENOMEM, "Out of memory incrementing value");
        break;
    }
    return true;
}

/* Lazy, as the text protocol's flush_all: a delay takes effect one second before it ends. */
static bool _flush(binary_req_t *r)
{
    if (r->keylen != 0 || r->bodylen != r->extlen || (r->extlen != 0 && r->extlen != 4))
        return false;
    session_t *s = r->s;
    /* -F: memcached refuses a well-formed flush with an auth error, and does not count it. */
    if (s->engine->flush_disabled) {
        binary_error(r, BINARY_ST_AUTH_ERROR, NULL);
        return true;
    }
    uint32_t delay = r->extlen == 4 ? binary_get32(r->extras) : 0;
    stat_add(&s->stats->cmd_flush, 1);
    cache_flush(s->engine->cache, delay > 0 ? engine_exptime(s->engine, delay) - 1 : 0);
    binary_success(r, NULL, 0, 0);
    return true;
}

static bool _has_prefix(const binary_req_t *r, const char *word)
{
    size_t n = strlen(word);
    return r->keylen >= n && memcmp(r->key, word, n) == 0;
}


static bool _stat(binary_req_t *r)
{
    if (r->extlen != 0)
        return false;
    session_t *s = r->s;
    int rc = 0;
    if (r->keylen == 0) {
        rc = stats_report(s->engine, "", 0, binary_stat_packet, r);
    } else if (_has_prefix(r, "reset")) {
        engine_stats_reset(s->engine);
    } else if (_has_prefix(r, "settings")) {
        rc = stats_report(s->engine, "settings", 8, binary_stat_packet, r);
    } else if (_has_prefix(r, "detail")) {
        /* memcached's text dump is the value of one "detailed" packet. */
        const char *sub = r->key + 6;
        size_t nsub = r->keylen - 6u;
        if (nsub >= 5 && memcmp(sub, " dump", 5) == 0) {
            buf_t text;
            buf_init(&text);
            if (prefix_dump(s->engine->prefixes, &text) != 0) {
                s->state = SESSION_BROKEN;
                buf_free(&text);
                return true;
            }
            binary_rsp_t dump = {.opcode = BINARY_OP_STAT, .status = BINARY_ST_SUCCESS, .key = "detailed", .keylen = 8,
                                 .value = buf_head(&text), .nvalue = (uint32_t)buf_len(&text)};
            binary_compose(r, &dump);
            buf_free(&text);
        } else if (nsub >= 3 && memcmp(sub, " on", 3) == 0) {
            prefix_enable(s->engine->prefixes, true);
        } else if (nsub >= 4 && memcmp(sub, " off", 4) == 0) {
            prefix_enable(s->engine->prefixes, false);
        } else {
            rc = 1;
        }
    } else if (r->keylen == 5 && memcmp(r->key, "conns", 5) == 0) {
        rc = 1; /* memcached lists connections to the text protocol only: its binary STAT has no "conns" */
    } else {
        rc = stats_report(s->engine, r->key, r->keylen, binary_stat_packet, r);
    }
    if (rc == 1)
        binary_error(r, BINARY_ST_KEY_ENOENT, NULL);
    else if (rc == 0)
        binary_stat_packet(r, NULL, NULL);
    return true;
}

static bool _no_body(const binary_req_t *r)
{
    return r->extlen == 0 && r->keylen == 0 && r->bodylen == 0;
}

/* The opcode with its quiet variant folded into the base command, as memcached dispatches it. */
static uint8_t _fold_quiet(uint8_t op, bool *quiet)
{
    static const uint8_t quiet_of[][2] = {
        {BINARY_OP_SETQ, BINARY_OP_SET},
        {BINARY_OP_ADDQ, BINARY_OP_ADD},
        {BINARY_OP_REPLACEQ, BINARY_OP_REPLACE},
        {BINARY_OP_DELETEQ, BINARY_OP_DELETE},
        {BINARY_OP_INCREMENTQ, BINARY_OP_INCREMENT},
        {BINARY_OP_DECREMENTQ, BINARY_OP_DECREMENT},
        {BINARY_OP_QUITQ, BINARY_OP_QUIT},
        {BINARY_OP_FLUSHQ, BINARY_OP_FLUSH},
        {BINARY_OP_APPENDQ, BINARY_OP_APPEND},
        {BINARY_OP_PREPENDQ, BINARY_OP_PREPEND},
        {BINARY_OP_GETQ, BINARY_OP_GET},
        {BINARY_OP_GETKQ, BINARY_OP_GETK},
        {BINARY_OP_GATQ, BINARY_OP_GAT},
        {BINARY_OP_GATKQ, BINARY_OP_GATK},
    };
    for (size_t i = 0; i < sizeof(quiet_of) / sizeof(quiet_of[0]); i++) {
        if (quiet_of[i][0] == op) {
            *quiet = true;
            return quiet_of[i][1];
        }
    }
    *quiet = false;
    return op;
}

/* The histogram a request's time goes to (latency.h): its opcode with quiet variants folded, and a
 * set, add or replace with a cas value is a cas, as in the text protocol. */
static uint8_t _latency_command(const binary_req_t *r)
{
    bool cas = r->cas != 0;
    switch (r->cmd) {
    case BINARY_OP_GET:
    case BINARY_OP_GETK: return LATENCY_GET;
    case BINARY_OP_GAT:
    case BINARY_OP_GATK: return LATENCY_GAT;
    case BINARY_OP_SET: return cas ? LATENCY_CAS : LATENCY_SET;
    case BINARY_OP_ADD: return cas ? LATENCY_CAS : LATENCY_ADD;
    case BINARY_OP_REPLACE: return cas ? LATENCY_CAS : LATENCY_REPLACE;
    case BINARY_OP_APPEND: return LATENCY_APPEND;
    case BINARY_OP_PREPEND: return LATENCY_PREPEND;
    case BINARY_OP_INCREMENT: return LATENCY_INCR;
    case BINARY_OP_DECREMENT: return LATENCY_DECR;
    case BINARY_OP_DELETE: return LATENCY_DELETE;
    case BINARY_OP_TOUCH: return LATENCY_TOUCH;
    case BINARY_OP_FLUSH: return LATENCY_FLUSH;
    default: return LATENCY_OTHER;
    }
}

/* Runs one request; returns false when its header's lengths do not fit its command. */
static bool _dispatch(binary_req_t *r)
{
    switch (r->cmd) {
    case BINARY_OP_VERSION:
        if (!_no_body(r))
            return false;
        binary_success(r, ENGINE_VERSION, sizeof(ENGINE_VERSION) - 1, 0);
        return true;
    case BINARY_OP_NOOP:
        if (!_no_body(r))
            return false;
        binary_success(r, NULL, 0, 0);
        return true;
    case BINARY_OP_QUIT:
        if (!_no_body(r))
            return false;
        binary_success(r, NULL, 0, 0);
        r->s->state = SESSION_QUIT;
        return true;
    case BINARY_OP_FLUSH:
        return _flush(r);
    case BINARY_OP_SET:
        return _update(r, STORE_MODE_SET);
    case BINARY_OP_ADD:
        return _update(r, STORE_MODE_ADD);
    case BINARY_OP_REPLACE:
        return _update(r, STORE_MODE_REPLACE);
    case BINARY_OP_APPEND:
        return _concat(r, STORE_MODE_APPEND);
    case BINARY_OP_PREPEND:
        return _concat(r, STORE_MODE_PREPEND);
    case BINARY_OP_GET:
    case BINARY_OP_GETK:
        if (r->extlen != 0 || r->bodylen != r->keylen || r->keylen == 0)
            return false;
        _retrieve(r, false, 0);
        return true;
    case BINARY_OP_TOUCH:
    case BINARY_OP_GAT:
    case BINARY_OP_GATK:
        if (r->extlen != 4 || r->keylen == 0)
            return false;
        _retrieve(r, true, binary_get32(r->extras));
        return true;
    case BINARY_OP_DELETE:
        return _delete(r);
    case BINARY_OP_INCREMENT:
    case BINARY_OP_DECREMENT:
        return _arith(r, r->cmd == BINARY_OP_INCREMENT);
    case BINARY_OP_STAT:
        return _stat(r);
    case BINARY_OP_SASL_LIST_MECHS:
        return binary_sasl_list_mechs(r);
    case BINARY_OP_SASL_AUTH:
    case BINARY_OP_SASL_STEP:
        return binary_sasl_auth(r, _swallow);
    default:
        /* memcached discards a whole body's length after the extras and key it has already read. */
        binary_error(r, BINARY_ST_UNKNOWN_COMMAND, NULL);
        _swallow(r, r->bodylen);
        return true;
    }
}

/* Handles what the input holds: returns bytes consumed, 0 = need more (or the session ended). */
size_t proto_binary_step(session_t *s, const char *in, size_t len, buf_t *out)
{
    binary_session_t *b = &s->proto.binary;
    if (b->swallow_left > 0) {
        size_t n = b->swallow_left < len ? (size_t)b->swallow_left : len;
        b->swallow_left -= (uint32_t)n;
        return n;
    }
    if (len < BINARY_HEADER_LEN)
        return 0;
    const unsigned char *h = (const unsigned char *)in;
    if (h[0] != BINARY_MAGIC_REQUEST) {
        /* The stream cannot be resynchronised; memcached hangs up without a word. */
        s->state = SESSION_BROKEN;
        return 0;
    }
    binary_req_t r = {.s = s, .out = out, .opcode = h[1], .extlen = h[4],
                      .keylen = (uint16_t)(h[2] << 8 | h[3]), .bodylen = binary_get32(h + 8),
                      .opaque = binary_get32(h + 12), .cas = binary_get64(h + 16)};
    /* Like memcached, wait for extras and key (at most 255 + 65535 bytes) before judging them. */
    size_t head = BINARY_HEADER_LEN + (size_t)r.extlen + r.keylen;
    if (len < head)
        return 0;
    r.extras = h + BINARY_HEADER_LEN;
    r.key = in + BINARY_HEADER_LEN + r.extlen;
    r.rest = in + head;
    r.nrest = len - head;
    r.consumed = head;
    if ((uint32_t)r.keylen + r.extlen > r.bodylen) {
        binary_error(&r, BINARY_ST_UNKNOWN_COMMAND, NULL);
        s->state = SESSION_BROKEN;
        return head;
    }
    r.cmd = _fold_quiet(r.opcode, &r.quiet);
    s->command = _latency_command(&r);
    /* With SASL, before the key-length check as in memcached: answered, then the connection closes. */
    if (!binary_sasl_allows(&r)) {
        binary_error(&r, BINARY_ST_AUTH_ERROR, NULL);
        s->state = SESSION_BROKEN;
        return head;
    }
    /* The header allows 16-bit keys; memcached's items hold 250 bytes. */
    if (r.keylen > STORE_KEY_MAX || !_dispatch(&r)) {
        _protocol_error(&r);
        return head;
    }
    return r.need_more ? 0 : r.consumed;
}

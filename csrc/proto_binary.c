/* proto_binary: memcached's binary protocol — header parsing, one handler per command and the
 * response packets, following memcached 1.6.18's proto_bin.c in every status, body and quiet rule. */
#include "proto_binary.h"

#include <stdint.h>
#include <string.h>

#include "proto_text.h"

/* Request opcodes memcached serves; a quiet variant answers only what its base command must. */
enum binary_opcode {
    OP_GET = 0x00, OP_SET = 0x01, OP_ADD = 0x02, OP_REPLACE = 0x03, OP_DELETE = 0x04,
    OP_INCREMENT = 0x05, OP_DECREMENT = 0x06, OP_QUIT = 0x07, OP_FLUSH = 0x08, OP_GETQ = 0x09,
    OP_NOOP = 0x0a, OP_VERSION = 0x0b, OP_GETK = 0x0c, OP_GETKQ = 0x0d, OP_APPEND = 0x0e,
    OP_PREPEND = 0x0f, OP_STAT = 0x10, OP_SETQ = 0x11, OP_ADDQ = 0x12, OP_REPLACEQ = 0x13,
    OP_DELETEQ = 0x14, OP_INCREMENTQ = 0x15, OP_DECREMENTQ = 0x16, OP_QUITQ = 0x17, OP_FLUSHQ = 0x18,
    OP_APPENDQ = 0x19, OP_PREPENDQ = 0x1a, OP_TOUCH = 0x1c, OP_GAT = 0x1d, OP_GATQ = 0x1e,
    OP_SASL_LIST_MECHS = 0x20, OP_SASL_AUTH = 0x21, OP_SASL_STEP = 0x22, OP_GATK = 0x23, OP_GATKQ = 0x24,
};

/* Response statuses and the body memcached sends with each error, defined once. */
#define BINARY_STATUSES(X)                                                      \
    X(SUCCESS, 0x00, "")                                                        \
    X(KEY_ENOENT, 0x01, "Not found")                                            \
    X(KEY_EEXISTS, 0x02, "Data exists for key.")                                \
    X(E2BIG, 0x03, "Too large.")                                                \
    X(EINVAL, 0x04, "Invalid arguments")                                        \
    X(NOT_STORED, 0x05, "Not stored.")                                          \
    X(DELTA_BADVAL, 0x06, "Non-numeric server-side value for incr or decr")     \
    X(UNKNOWN_COMMAND, 0x81, "Unknown command")                                 \
    X(ENOMEM, 0x82, "Out of memory")

typedef enum binary_status {
#define X(name, code, text) ST_##name = code,
    BINARY_STATUSES(X)
#undef X
} binary_status_t;

static const char *_status_text(binary_status_t st)
{
    switch (st) {
#define X(name, code, text) case ST_##name: return text;
    BINARY_STATUSES(X)
#undef X
    }
    return "";
}

/* memcached's incr/decr "do not create" expiration. */
#define BINARY_NO_CREATE 0xffffffffu

/* One request whose header, extras and key are in the input. */
typedef struct binary_req {
    session_t *s;
    buf_t *out;
    uint8_t opcode;       /* as sent: responses echo it */
    uint8_t cmd;          /* the opcode with a quiet variant folded into its base command */
    bool quiet;
    uint8_t extlen;
    uint16_t keylen;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
    const unsigned char *extras;
    const char *key;
    const char *rest;     /* the body after extras and key, as far as it has arrived */
    size_t nrest;
    size_t consumed;      /* bytes of input this request takes */
    bool need_more;       /* its value has not fully arrived: consume nothing, retry later */
} binary_req_t;

static uint32_t _get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t _get64(const unsigned char *p)
{
    return (uint64_t)_get32(p) << 32 | _get32(p + 4);
}

static void _put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void _put32(unsigned char *p, uint32_t v)
{
    _put16(p, (uint16_t)(v >> 16));
    _put16(p + 2, (uint16_t)v);
}

static void _put64(unsigned char *p, uint64_t v)
{
    _put32(p, (uint32_t)(v >> 32));
    _put32(p + 4, (uint32_t)v);
}

/* ---- composing responses ---- */

typedef struct binary_rsp {
    uint8_t opcode;
    binary_status_t status;
    const void *extras;
    uint8_t extlen;
    const void *key;
    uint16_t keylen;
    const void *value;
    uint32_t nvalue;
    uint64_t cas;
} binary_rsp_t;

/* Appends one response packet; out of memory breaks the session. */
static void _compose(binary_req_t *r, const binary_rsp_t *p)
{
    uint32_t bodylen = (uint32_t)p->extlen + p->keylen + p->nvalue;
    if (buf_reserve(r->out, BINARY_HEADER_LEN + (size_t)bodylen) != 0) {
        r->s->state = SESSION_BROKEN;
        return;
    }
    unsigned char *h = (unsigned char *)buf_tail(r->out);
    h[0] = BINARY_MAGIC_RESPONSE;
    h[1] = p->opcode;
    _put16(h + 2, p->keylen);
    h[4] = p->extlen;
    h[5] = 0;  /* data type: raw bytes */
    _put16(h + 6, (uint16_t)p->status);
    _put32(h + 8, bodylen);
    _put32(h + 12, r->opaque);
    _put64(h + 16, p->cas);
    r->out->end += BINARY_HEADER_LEN;
    if (p->extlen)
        buf_append(r->out, p->extras, p->extlen);
    if (p->keylen)
        buf_append(r->out, p->key, p->keylen);
    if (p->nvalue)
        buf_append(r->out, p->value, p->nvalue);
}

/* An error: sent even for a quiet command, with memcached's text unless `text` overrides it. */
static void _error(binary_req_t *r, binary_status_t st, const char *text)
{
    if (text == NULL)
        text = _status_text(st);
    binary_rsp_t p = {.opcode = r->opcode, .status = st, .value = text, .nvalue = (uint32_t)strlen(text)};
    _compose(r, &p);
}

/* A success with an optional body; quiet commands send none. */
static void _success(binary_req_t *r, const void *value, uint32_t nvalue, uint64_t cas)
{
    if (r->quiet)
        return;
    binary_rsp_t p = {.opcode = r->opcode, .status = ST_SUCCESS, .value = value, .nvalue = nvalue, .cas = cas};
    _compose(r, &p);
}

/* memcached counts what it discards in an int: a count past INT32_MAX discards nothing. */
static void _swallow(binary_req_t *r, uint32_t n)
{
    if (n <= INT32_MAX)
        r->s->swallow_left = n;
}

/* A request memcached finds malformed: "Invalid arguments", then it hangs up. */
static void _protocol_error(binary_req_t *r)
{
    _error(r, ST_EINVAL, NULL);
    r->s->state = SESSION_BROKEN;
}

/* ---- storage ---- */

static void _count_cas(session_t *s, store_status_t st)
{
    if (st == STORE_OK)
        stat_add(&s->stats->cas_hits, 1);
    else if (st == STORE_EXISTS)
        stat_add(&s->stats->cas_badval, 1);
    else if (st == STORE_NOT_FOUND)
        stat_add(&s->stats->cas_misses, 1);
}

static void _write_failed(binary_req_t *r, store_mode_t mode, store_status_t st)
{
    bool concat = mode == STORE_MODE_APPEND || mode == STORE_MODE_PREPEND;
    switch (st) {
    case STORE_EXISTS:
        _error(r, ST_KEY_EEXISTS, NULL);
        break;
    case STORE_NOT_FOUND:
        _error(r, ST_KEY_ENOENT, NULL);
        break;
    case STORE_TOO_LARGE:
    case STORE_NO_MEMORY:
        /* memcached fails to allocate: a new item is "out of memory" (and a set drops the old
         * value), an append or prepend "not stored". */
        if (!concat) {
            _error(r, ST_ENOMEM, "Out of memory allocating item");
            if (r->cmd == OP_SET)
                cache_delete(r->s->engine->cache, r->key, r->keylen);
            break;
        }
        /* fall through */
    default:
        _error(r, mode == STORE_MODE_ADD ? ST_KEY_EEXISTS : mode == STORE_MODE_REPLACE ? ST_KEY_ENOENT : ST_NOT_STORED, NULL);
        break;
    }
}

/* set/add/replace/append/prepend of a value of vlen bytes following the key. A cas other than 0
 * turns set, add and replace into a cas; append and prepend then check it too. */
static void _store(binary_req_t *r, store_mode_t mode, uint32_t flags, uint32_t exptime, uint32_t vlen)
{
    session_t *s = r->s;
    cache_t *cache = s->engine->cache;
    if (vlen > INT32_MAX - 2 || cache_too_large(cache, r->keylen, flags, vlen)) {
        _error(r, ST_E2BIG, NULL);
        _swallow(r, vlen);
        /* A failed set must not leave the old value readable, as in memcached. */
        if (r->cmd == OP_SET)
            cache_delete(cache, r->key, r->keylen);
        return;
    }
    if (r->nrest < vlen) {
        r->need_more = true;
        return;
    }
    r->consumed += vlen;
    stat_add(&s->stats->cmd_set, 1);
    if (r->cas != 0 && (mode == STORE_MODE_SET || mode == STORE_MODE_ADD || mode == STORE_MODE_REPLACE))
        mode = STORE_MODE_CAS;
    store_write_t w = {mode, r->key, r->keylen, r->rest, vlen, flags, engine_exptime(s->engine, exptime), r->cas};
    uint64_t cas = 0;
    store_status_t st = cache_write(cache, &w, &cas);
    if (mode == STORE_MODE_CAS)
        _count_cas(s, st);
    if (st == STORE_OK)
        _success(r, NULL, 0, cas);
    else
        _write_failed(r, mode, st);
}

static bool _update(binary_req_t *r, store_mode_t mode)
{
    if (r->extlen != 8 || r->keylen == 0 || r->bodylen < (uint32_t)r->keylen + 8)
        return false;
    _store(r, mode, _get32(r->extras), _get32(r->extras + 4), r->bodylen - r->keylen - 8);
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
    bool with_key = r->cmd == OP_GETK || r->cmd == OP_GATK;
    bool with_value = r->cmd != OP_TOUCH;
    item_t *it = touch ? cache_get_touch(cache, r->key, r->keylen, engine_exptime(s->engine, exptime))
                       : cache_get(cache, r->key, r->keylen);
    if (touch) {
        stat_add(&s->stats->cmd_touch, 1);
        stat_add(it ? &s->stats->touch_hits : &s->stats->touch_misses, 1);
    } else {
        stat_add(&s->stats->cmd_get, 1);
        stat_add(it ? &s->stats->get_hits : &s->stats->get_misses, 1);
    }
    if (it != NULL) {
        unsigned char flags[4];
        _put32(flags, it->flags);
        binary_rsp_t p = {.opcode = r->opcode, .status = ST_SUCCESS, .extras = flags, .extlen = 4,
                          .key = with_key ? item_key(it) : NULL, .keylen = with_key ? r->keylen : 0,
                          .value = with_value ? item_value(it) : NULL, .nvalue = with_value ? it->nvalue : 0,
                          .cas = it->cas};
        _compose(r, &p);
        cache_release(cache, it);
    } else if (r->quiet) {
        /* a quiet miss is silent */
    } else if (with_key) {
        binary_rsp_t p = {.opcode = r->opcode, .status = ST_KEY_ENOENT, .key = r->key, .keylen = r->keylen};
        _compose(r, &p);
    } else {
        _error(r, ST_KEY_ENOENT, NULL);
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
        _success(r, NULL, 0, 0);
        break;
    case STORE_EXISTS:
        _error(r, ST_KEY_EEXISTS, NULL);
        break;
    default:
        stat_add(&s->stats->delete_misses, 1);
        _error(r, ST_KEY_ENOENT, NULL);
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
        _error(r, ST_KEY_ENOENT, NULL);
        return;
    }
    char digits[20];
    size_t n = buf_format_u64(digits, initial);
    store_write_t w = {STORE_MODE_ADD, r->key, r->keylen, digits, n, 0, engine_exptime(s->engine, exptime), 0};
    uint64_t cas = 0;
    store_status_t st = cache_write(s->engine->cache, &w, &cas);
    if (st == STORE_OK) {
        unsigned char value[8];
        _put64(value, initial);
        _success(r, value, sizeof(value), cas);
    } else if (st == STORE_NO_MEMORY || st == STORE_TOO_LARGE) {
        _error(r, ST_ENOMEM, "Out of memory allocating new item");
    } else {
        _error(r, ST_NOT_STORED, NULL);
    }
}

static bool _arith(binary_req_t *r, bool incr)
{
    if (r->keylen == 0 || r->extlen != 20 || r->bodylen != (uint32_t)r->keylen + 20)
        return false;
    session_t *s = r->s;
    uint64_t delta = _get64(r->extras), initial = _get64(r->extras + 8), result = 0, cas = r->cas;
    uint32_t exptime = _get32(r->extras + 16);
    switch (cache_arith_cas(s->engine->cache, r->key, r->keylen, incr, delta, &result, &cas)) {
    case STORE_OK: {
        stat_add(incr ? &s->stats->incr_hits : &s->stats->decr_hits, 1);
        unsigned char value[8];
        _put64(value, result);
        _success(r, value, sizeof(value), cas);
        break;
    }
    case STORE_NON_NUMERIC:
        _error(r, ST_DELTA_BADVAL, NULL);
        break;
    case STORE_EXISTS:
        _error(r, ST_KEY_EEXISTS, NULL);
        break;
    case STORE_NOT_FOUND:
        _arith_create(r, incr, initial, exptime);
        break;
    default:
        _error(r, ST_ENOMEM, "Out of memory incrementing value");
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
    uint32_t delay = r->extlen == 4 ? _get32(r->extras) : 0;
    stat_add(&s->stats->cmd_flush, 1);
    cache_flush(s->engine->cache, delay > 0 ? engine_exptime(s->engine, delay) - 1 : 0);
    _success(r, NULL, 0, 0);
    return true;
}

static bool _has_prefix(const binary_req_t *r, const char *word)
{
    size_t n = strlen(word);
    return r->keylen >= n && memcmp(r->key, word, n) == 0;
}

/* One STAT packet per "STAT <name> <value>" line of the text protocol's report; its "END" (and
 * an empty report) become the empty packet that ends the list. */
static void _stats_packets(binary_req_t *r, const buf_t *text)
{
    const char *p = buf_len(text) ? buf_head(text) : "", *end = p + buf_len(text);
    while (p < end && r->s->state == SESSION_OPEN) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL || (size_t)(eol - p) < 5 || memcmp(p, "STAT ", 5) != 0)
            break;
        const char *name = p + 5;
        const char *space = memchr(name, ' ', (size_t)(eol - name));
        const char *value = space ? space + 1 : eol;
        binary_rsp_t pk = {.opcode = OP_STAT, .status = ST_SUCCESS, .key = name,
                           .keylen = (uint16_t)((space ? space : eol) - name), .value = value,
                           .nvalue = (uint32_t)(eol - value)};
        _compose(r, &pk);
        p = eol + 2;
    }
    binary_rsp_t done = {.opcode = OP_STAT, .status = ST_SUCCESS};
    _compose(r, &done);
}

static bool _stat(binary_req_t *r)
{
    if (r->extlen != 0)
        return false;
    session_t *s = r->s;
    buf_t text;
    buf_init(&text);
    int rc = 0;
    if (r->keylen == 0) {
        rc = proto_text_stats(s, "", 0, &text);
    } else if (_has_prefix(r, "reset")) {
        engine_stats_reset(s->engine);
    } else if (_has_prefix(r, "settings")) {
        rc = proto_text_stats(s, "settings", 8, &text);
    } else if (_has_prefix(r, "detail")) {
        /* There are no per-prefix figures to turn on, off or dump: the dump is empty. */
        const char *sub = r->key + 6;
        size_t nsub = r->keylen - 6u;
        if (nsub >= 5 && memcmp(sub, " dump", 5) == 0) {
            static const char empty_dump[] = "END\r\n";
            binary_rsp_t dump = {.opcode = OP_STAT, .status = ST_SUCCESS, .key = "detailed", .keylen = 8,
                                 .value = empty_dump, .nvalue = sizeof(empty_dump) - 1};
            _compose(r, &dump);
        } else if (!(nsub >= 3 && memcmp(sub, " on", 3) == 0) && !(nsub >= 4 && memcmp(sub, " off", 4) == 0))
            rc = 1;
    } else {
        rc = proto_text_stats(s, r->key, r->keylen, &text);
    }
    if (rc == 1)
        _error(r, ST_KEY_ENOENT, NULL);
    else if (rc != 0)
        _error(r, ST_ENOMEM, "Out of memory generating stats");
    else
        _stats_packets(r, &text);
    buf_free(&text);
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
        {OP_SETQ, OP_SET}, {OP_ADDQ, OP_ADD}, {OP_REPLACEQ, OP_REPLACE}, {OP_DELETEQ, OP_DELETE},
        {OP_INCREMENTQ, OP_INCREMENT}, {OP_DECREMENTQ, OP_DECREMENT}, {OP_QUITQ, OP_QUIT},
        {OP_FLUSHQ, OP_FLUSH}, {OP_APPENDQ, OP_APPEND}, {OP_PREPENDQ, OP_PREPEND}, {OP_GETQ, OP_GET},
        {OP_GETKQ, OP_GETK}, {OP_GATQ, OP_GAT}, {OP_GATKQ, OP_GATK},
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

/* Runs one request; returns false when its header's lengths do not fit its command. */
static bool _dispatch(binary_req_t *r)
{
    switch (r->cmd) {
    case OP_VERSION:
        if (!_no_body(r))
            return false;
        _success(r, ENGINE_VERSION, sizeof(ENGINE_VERSION) - 1, 0);
        return true;
    case OP_NOOP:
        if (!_no_body(r))
            return false;
        _success(r, NULL, 0, 0);
        return true;
    case OP_QUIT:
        if (!_no_body(r))
            return false;
        _success(r, NULL, 0, 0);
        r->s->state = SESSION_QUIT;
        return true;
    case OP_FLUSH:
        return _flush(r);
    case OP_SET:
        return _update(r, STORE_MODE_SET);
    case OP_ADD:
        return _update(r, STORE_MODE_ADD);
    case OP_REPLACE:
        return _update(r, STORE_MODE_REPLACE);
    case OP_APPEND:
        return _concat(r, STORE_MODE_APPEND);
    case OP_PREPEND:
        return _concat(r, STORE_MODE_PREPEND);
    case OP_GET:
    case OP_GETK:
        if (r->extlen != 0 || r->bodylen != r->keylen || r->keylen == 0)
            return false;
        _retrieve(r, false, 0);
        return true;
    case OP_TOUCH:
    case OP_GAT:
    case OP_GATK:
        if (r->extlen != 4 || r->keylen == 0)
            return false;
        _retrieve(r, true, _get32(r->extras));
        return true;
    case OP_DELETE:
        return _delete(r);
    case OP_INCREMENT:
    case OP_DECREMENT:
        return _arith(r, r->cmd == OP_INCREMENT);
    case OP_STAT:
        return _stat(r);
    case OP_SASL_LIST_MECHS:
        if (!_no_body(r))
            return false;
        _error(r, ST_UNKNOWN_COMMAND, NULL);
        return true;
    case OP_SASL_AUTH:
    case OP_SASL_STEP:
        /* Without SASL memcached refuses these as unknown, discarding the rest of the body. */
        if (r->extlen != 0 || r->keylen == 0)
            return false;
        _error(r, ST_UNKNOWN_COMMAND, NULL);
        _swallow(r, r->bodylen - r->keylen);
        return true;
    default:
        /* memcached discards a whole body's length after the extras and key it has already read. */
        _error(r, ST_UNKNOWN_COMMAND, NULL);
        _swallow(r, r->bodylen);
        return true;
    }
}

/* Handles what the input holds: returns bytes consumed, 0 = need more (or the session ended). */
static size_t _step(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->swallow_left > 0) {
        size_t n = s->swallow_left < len ? (size_t)s->swallow_left : len;
        s->swallow_left -= (uint32_t)n;
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
                      .keylen = (uint16_t)(h[2] << 8 | h[3]), .bodylen = _get32(h + 8),
                      .opaque = _get32(h + 12), .cas = _get64(h + 16)};
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
        _error(&r, ST_UNKNOWN_COMMAND, NULL);
        s->state = SESSION_BROKEN;
        return head;
    }
    r.cmd = _fold_quiet(r.opcode, &r.quiet);
    /* The header allows 16-bit keys; memcached's items hold 250 bytes. */
    if (r.keylen > STORE_KEY_MAX || !_dispatch(&r)) {
        _protocol_error(&r);
        return head;
    }
    return r.need_more ? 0 : r.consumed;
}

size_t proto_binary_feed(session_t *s, const char *in, size_t len, buf_t *out)
{
    size_t done = 0;
    while (s->state == SESSION_OPEN && done < len && buf_len(out) < s->out_high_water) {
        size_t used = _step(s, in + done, len - done, out);
        if (used == 0)
            break;
        done += used;
    }
    return done;
}

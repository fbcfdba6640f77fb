/* proto_simple: the seed protocol — `set <key> <value>`, `get <key>`, `delete <key>`, `quit`.
 * Lines end in "\r\n" or "\n"; whatever is not a valid command gets ERROR and the session goes on. */
#include "proto_simple.h"

#include <stdbool.h>
#include <string.h>

#include "replies.h"
#include "value_out.h"

/* Splits "word rest" at the first space; returns 0 when there is no space. */
static int _split(const char *s, size_t n, size_t *word_len)
{
    const char *space = memchr(s, ' ', n);
    if (space == NULL)
        return 0;
    *word_len = (size_t)(space - s);
    return 1;
}

static void _parse_line(const char *line, size_t n, simple_request_t *req)
{
    memset(req, 0, sizeof(*req));
    req->cmd = SIMPLE_INVALID;
    size_t word;
    if (n == 4 && memcmp(line, "quit", 4) == 0) {
        req->cmd = SIMPLE_QUIT;
        return;
    }
    if (!_split(line, n, &word))
        return;
    const char *args = line + word + 1;
    size_t nargs = n - word - 1;
    if (word == 3 && memcmp(line, "get", 3) == 0) {
        req->cmd = SIMPLE_GET;
    } else if (word == 6 && memcmp(line, "delete", 6) == 0) {
        req->cmd = SIMPLE_DELETE;
    } else if (word == 3 && memcmp(line, "set", 3) == 0) {
        size_t nkey;
        if (!_split(args, nargs, &nkey))
            return;
        req->cmd = SIMPLE_SET;
        req->value = args + nkey + 1;
        req->nvalue = nargs - nkey - 1;
        nargs = nkey;
    } else {
        return;
    }
    /* The key is the whole remaining argument; a space or control byte in it makes it invalid. */
    if (!store_key_valid(args, nargs)) {
        req->cmd = SIMPLE_INVALID;
        return;
    }
    req->key = args;
    req->nkey = nargs;
}

/* The seed-port guard: a memcached client pointed at this port must not have its commands read as
 * seed commands (memcached's "set k 0 0 1" + data block would store "0 0 1" under k). What only a
 * memcached client sends gets one CLIENT_ERROR naming the port that speaks memcached, then the
 * connection closes (its stream of data blocks cannot be resynchronised). A real seed client never
 * sends any of it, so its replies stay the seed spec's, byte for byte. */
typedef enum guard_verdict { GUARD_SEED, GUARD_MEMCACHED, GUARD_WAIT } guard_verdict_t;

/* Command words of memcached's text and meta protocols that the seed protocol does not have. */
static const char *const MEMCACHED_ONLY[] = {
    "gets", "add", "replace", "append", "prepend", "cas", "incr", "decr", "touch", "gat", "gats",
    "stats", "version", "flush_all", "verbosity", "mg", "ms", "md", "mn", "ma", "me", "watch",
    "lru_crawler", "lru", "slabs", "cache_memlimit", "shutdown", "misbehave", "debugtime", NULL,
};

/* line: a whole line with its end ("\n" or "\r\n"). */
static bool _memcached_word(const char *line, size_t n)
{
    n--;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    const char *space = memchr(line, ' ', n);
    size_t word = space ? (size_t)(space - line) : n;
    for (const char *const *w = MEMCACHED_ONLY; *w != NULL; w++)
        if (strlen(*w) == word && memcmp(*w, line, word) == 0)
            return true;
    return false;
}

/* Reads one decimal field of at most 10 digits (an optional '-' when signed) ending at a space
 * or at end; returns its end, or NULL. */
static const char *_number(const char *p, const char *end, bool is_signed, size_t *value)
{
    if (is_signed && p < end && *p == '-')
        p++;
    size_t v = 0, digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 10; p++, digits++)
        v = v * 10 + (size_t)(*p - '0');
    if (digits == 0 || (p < end && *p != ' '))
        return NULL;
    *value = v;
    return p;
}

/* A seed value that reads as memcached's "<flags> <exptime> <bytes>[ noreply]": *bytes is set. */
static bool _storage_tail(const char *v, size_t n, size_t *bytes)
{
    const char *end = v + n, *p = v;
    size_t ignored;
    if ((p = _number(p, end, false, &ignored)) == NULL || p == end)
        return false;
    if ((p = _number(p + 1, end, true, &ignored)) == NULL || p == end)
        return false;
    if ((p = _number(p + 1, end, false, bytes)) == NULL)
        return false;
    return p == end || ((size_t)(end - p) == 8 && memcmp(p, " noreply", 8) == 0);
}

/* A complete first line of rest that is a valid seed command (what a pipelining seed client sends
 * after its set). */
static bool _seed_line(const char *rest, size_t nrest)
{
    const char *nl = memchr(rest, '\n', nrest);
    if (nl == NULL)
        return false;
    size_t n = (size_t)(nl - rest);
    if (n > 0 && rest[n - 1] == '\r')
        n--;
    simple_request_t next;
    _parse_line(rest, n, &next);
    return next.cmd != SIMPLE_INVALID;
}

/* A seed "set <key> <value>" whose value reads as "<flags> <exptime> <bytes>" is memcached's set
 * only when the bytes already received after it are its data block: <bytes> bytes then "\r\n",
 * which are not themselves a seed command. A memcached client writes its data block together
 * with its command line, so it is there (or its first bytes are: then wait for the rest); a
 * seed client sends nothing more before it has its reply, or sends further commands. */
static guard_verdict_t _guard_set(session_t *s, const simple_request_t *req, const char *rest, size_t nrest)
{
    size_t bytes;
    if (!_storage_tail(req->value, req->nvalue, &bytes) || bytes > s->engine->max_item_size)
        return GUARD_SEED;
    s->proto.simple.guard_guessed = true;
    if (nrest == 0)
        return GUARD_SEED;
    if (nrest < bytes + 2)
        return memchr(rest, '\n', nrest) == NULL ? GUARD_WAIT : GUARD_SEED;
    if (rest[bytes] != '\r' || rest[bytes + 1] != '\n' || _seed_line(rest, nrest))
        return GUARD_SEED;
    return GUARD_MEMCACHED;
}

static size_t _guard_refuse(session_t *s, size_t consumed, buf_t *out)
{
    s->command = LATENCY_OTHER;
    unsigned port = __atomic_load_n(&s->engine->served.tcp_port, __ATOMIC_RELAXED);
    int rc = buf_append_lit(out, "CLIENT_ERROR this port speaks the simplecached seed protocol (set/get/delete <key>); ");
    if (rc == 0 && port != 0) {
        rc = buf_append_lit(out, "memcached's protocol is on port ");
        if (rc == 0)
            rc = buf_append_u64(out, port);
        if (rc == 0)
            rc = buf_append_lit(out, "\r\n");
    } else if (rc == 0) {
        rc = buf_append_lit(out, "memcached's protocol is not served (--memcached-port)\r\n");
    }
    /* Closing ends the exchange whether or not the line could be queued. */
    (void)rc;
    s->state = SESSION_BROKEN;
    return consumed;
}

parse_status_t proto_simple_parse(const char *in, size_t len, size_t max_line, uint32_t *scanned,
                                  simple_request_t *req, size_t *consumed)
{
    size_t from = *scanned < len ? *scanned : len;
    const char *nl = memchr(in + from, '\n', len - from);
    if (nl == NULL) {
        *scanned = len < UINT32_MAX ? (uint32_t)len : UINT32_MAX;
        *consumed = 0;
        return len > max_line ? PARSE_OVERSIZE : PARSE_UNFINISHED;
    }
    size_t n = (size_t)(nl - in);
    *scanned = 0;
    *consumed = n + 1;
    if (n > max_line)
        return PARSE_OVERSIZE;
    if (n > 0 && in[n - 1] == '\r')
        n--;
    _parse_line(in, n, req);
    return PARSE_OK;
}

static int _reply_get(session_t *s, const simple_request_t *req, buf_t *out)
{
    item_t *it = cache_get(s->engine->cache, req->key, req->nkey);
    engine_count_get(s->stats, false, it != NULL);
    if (it == NULL)
        return buf_append_lit(out, TEXT_END "\r\n");
    int rc = -1;
    if (value_out_refers(out, it->nvalue)) {
        /* "VALUE " key " " value "\r\nEND\r\n" with the value sent from the item. */
        if (buf_append_lit(out, "VALUE ") == 0 && buf_append(out, item_key(it), it->nkey) == 0 &&
            buf_append_lit(out, " ") == 0 && value_out(out, s->engine->cache, NULL, it) == 0)
            rc = buf_append_lit(out, "\r\n" TEXT_END "\r\n");
        cache_release(s->engine->cache, it);
        return rc;
    }
    /* "VALUE " key " " value "\r\nEND\r\n": reserve once, then copy without further checks. */
    size_t need = 6 + it->nkey + 1 + it->nvalue + 7;
    if (buf_reserve(out, need) == 0) {
        char *p = buf_tail(out);
        memcpy(p, "VALUE ", 6);
        memcpy(p + 6, item_key(it), it->nkey);
        p[6 + it->nkey] = ' ';
        memcpy(p + 7 + it->nkey, item_value(it), it->nvalue);
        memcpy(p + 7 + it->nkey + it->nvalue, "\r\nEND\r\n", 7);
        out->end += need;
        rc = 0;
    }
    cache_release(s->engine->cache, it);
    return rc;
}

static int _reply_set(session_t *s, const simple_request_t *req, buf_t *out)
{
    stat_add(&s->stats->cmd_set, 1);
    switch (cache_set(s->engine->cache, req->key, req->nkey, req->value, req->nvalue, 0, 0)) {
    case STORE_OK:
        return buf_append_lit(out, TEXT_STORED "\r\n");
    case STORE_TOO_LARGE:
        return buf_append_lit(out, TEXT_TOO_LARGE "\r\n");
    default:
        return buf_append_lit(out, TEXT_NO_MEMORY_STORING "\r\n");
    }
}

static int _reply_delete(session_t *s, const simple_request_t *req, buf_t *out)
{
    if (cache_delete(s->engine->cache, req->key, req->nkey) == STORE_OK) {
        stat_add(&s->stats->delete_hits, 1);
        return buf_append_lit(out, TEXT_DELETED "\r\n");
    }
    stat_add(&s->stats->delete_misses, 1);
    return buf_append_lit(out, TEXT_NOT_FOUND "\r\n");
}

int proto_simple_execute(session_t *s, const simple_request_t *req, buf_t *out)
{
    switch (req->cmd) {
    case SIMPLE_GET:
        s->command = LATENCY_GET;
        return _reply_get(s, req, out);
    case SIMPLE_SET:
        s->command = LATENCY_SET;
        return _reply_set(s, req, out);
    case SIMPLE_DELETE:
        s->command = LATENCY_DELETE;
        return _reply_delete(s, req, out);
    case SIMPLE_QUIT:
        s->state = SESSION_QUIT;
        return 0;
    case SIMPLE_INVALID:
        break;
    }
    s->command = LATENCY_OTHER;
    return buf_append_lit(out, TEXT_ERROR "\r\n");
}

/* The rest of an overlong line, thrown away as it arrives: up to and including its end. */
static size_t _discard(session_t *s, const char *in, size_t len)
{
    const char *nl = memchr(in, '\n', len);
    if (nl == NULL)
        return len;
    s->proto.simple.discarding = false;
    return (size_t)(nl - in) + 1;
}

/* A line past the limit: a set's value is too large for any item, anything else is too long. The
 * connection goes on once the line ends; until then what arrives is dropped, so memory stays
 * bounded by the limit whatever the client sends. */
static size_t _oversize(session_t *s, const char *in, size_t len, size_t used, buf_t *out)
{
    s->command = LATENCY_OTHER;
    int rc;
    if (len >= 4 && memcmp(in, "set ", 4) == 0) {
        s->command = LATENCY_SET;
        stat_add(&s->stats->store_too_large, 1);
        rc = buf_append_lit(out, TEXT_TOO_LARGE "\r\n");
    } else {
        rc = buf_append_lit(out, SIMPLE_LINE_TOO_LONG "\r\n");
    }
    if (rc != 0)
        s->state = SESSION_BROKEN;
    s->scanned = 0;
    if (used > 0)
        return used;
    s->proto.simple.discarding = true;
    return len;
}

size_t proto_simple_step(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (s->proto.simple.discarding)
        return _discard(s, in, len);
    /* memcached's binary protocol (its magic byte opens every request): no line end may ever come. */
    if (s->scanned == 0 && len > 0 && (unsigned char)in[0] == 0x80)
        return _guard_refuse(s, len, out);
    simple_request_t req;
    size_t used;
    size_t max_line = proto_simple_max_line(s->engine->max_item_size);
    parse_status_t st = proto_simple_parse(in, len, max_line, &s->scanned, &req, &used);
    if (st == PARSE_UNFINISHED)
        return 0;
    if (st == PARSE_OVERSIZE)
        return _oversize(s, in, len, used, out);
    if (req.cmd == SIMPLE_INVALID && _memcached_word(in, used))
        return _guard_refuse(s, used, out);
    if (req.cmd == SIMPLE_SET) {
        guard_verdict_t verdict = _guard_set(s, &req, in + used, len - used);
        if (verdict == GUARD_WAIT)
            return 0;
        if (verdict == GUARD_MEMCACHED)
            return _guard_refuse(s, len, out);
    }
    if (proto_simple_execute(s, &req, out) != 0)
        s->state = SESSION_BROKEN;
    return used;
}

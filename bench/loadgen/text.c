/* text.c - requests and replies of memcached's text protocol and of the seed ("simple") protocol,
 * which shares its set reply and its lines: "set <key> <value>", "VALUE <key> <value>" then "END". */
#define _GNU_SOURCE
#include "codec.h"

/* "get k1 k2 ... kN\r\n" */
void text_encode_get(struct buffer *out, const struct request *req)
{
    buffer_reserve(out, 3 + req->nkeys * (1 + KEY_MAX) + 2);
    char *p = put(out->data + out->end, "get", 3);
    for (unsigned i = 0; i < req->nkeys; i++) {
        *p++ = ' ';
        p += format_key(p, req->keys[i]);
    }
    p = put(p, "\r\n", 2);
    out->end = (size_t)(p - out->data);
}

/* simple: "set <key> <value>\r\n"; text: "set <key> 0 0 <bytes>\r\n<value>\r\n" */
void text_encode_set(const struct bench *b, struct buffer *out, const struct request *req)
{
    size_t vlen = (size_t)b->opt.value_size;
    buffer_reserve(out, KEY_MAX + vlen + 64);
    char *p = put(out->data + out->end, "set ", 4);
    p += format_key(p, req->keys[0]);
    if (b->opt.protocol == PROTO_TEXT)
        p = put(p, b->text_set_suffix, b->text_set_suffix_len);
    else
        p = put(p, " ", 1);
    p = put(p, b->value, vlen);
    p = put(p, "\r\n", 2);
    out->end = (size_t)(p - out->data);
}

/* ---------------------------------------------------------------- lines */

struct line {
    const char *text;
    size_t len;   /* without the line terminator */
    size_t total; /* including the line terminator */
};

static bool next_line(const char *p, size_t avail, struct line *ln)
{
    const char *nl = memchr(p, '\n', avail);
    if (!nl)
        return false;
    ln->text = p;
    ln->total = (size_t)(nl - p) + 1;
    ln->len = ln->total - 1;
    if (ln->len > 0 && p[ln->len - 1] == '\r')
        ln->len--;
    return true;
}

static bool line_is(const struct line *ln, const char *word)
{
    size_t n = strlen(word);
    return ln->len == n && memcmp(ln->text, word, n) == 0;
}

static bool line_starts_with(const struct line *ln, const char *prefix)
{
    size_t n = strlen(prefix);
    return ln->len >= n && memcmp(ln->text, prefix, n) == 0;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* If `text` starts with the key `key_id` followed by a space, returns the bytes after the space. */
static const char *skip_expected_key(const char *text, const char *end, uint32_t key_id)
{
    char key[KEY_MAX];
    size_t klen = format_key(key, key_id);
    if ((size_t)(end - text) <= klen || memcmp(text, key, klen) != 0 || text[klen] != ' ')
        return NULL;
    return text + klen + 1;
}

/* Servers answer a multi-key get in request order and leave misses out, so each VALUE
 * must name a requested key that comes after the previous VALUE's; this also rejects
 * duplicates and keys nobody asked for. */
static const char *skip_requested_key(const struct request *req, unsigned *next_key,
                                      const char *text, const char *end)
{
    for (unsigned k = *next_key; k < req->nkeys; k++) {
        const char *rest = skip_expected_key(text, end, req->keys[k]);
        if (rest) {
            *next_key = k + 1;
            return rest;
        }
    }
    return NULL;
}

/* Reads "<flags> <bytes>[ <cas>]", the part of a text VALUE line after the key. */
static bool parse_flags_and_bytes(const char *s, const char *end, size_t *bytes)
{
    if (s == end || !is_digit(*s))
        return false;
    while (s < end && is_digit(*s))
        s++;
    if (s == end || *s != ' ' || s + 1 == end || !is_digit(s[1]))
        return false;
    size_t n = 0;
    for (s++; s < end && is_digit(*s); s++) {
        n = n * 10 + (size_t)(*s - '0');
        if (n > ((size_t)1 << 40))   /* nonsense; also keeps offsets computed from it from overflowing */
            return false;
    }
    *bytes = n;
    return s == end || *s == ' ';
}

static bool parse_text_value_line(const struct request *req, const struct line *ln,
                                  unsigned *next_key, size_t *bytes)
{
    if (!line_starts_with(ln, "VALUE "))
        return false;
    const char *end = ln->text + ln->len;
    const char *rest = skip_requested_key(req, next_key, ln->text + 6, end);
    return rest && parse_flags_and_bytes(rest, end, bytes);
}

/* ---------------------------------------------------------------- replies */

/* "STORED\r\n" */
enum reply text_parse_set(const char *p, size_t avail, struct parsed *out)
{
    struct line ln;
    if (!next_line(p, avail, &ln))
        return REPLY_INCOMPLETE;
    out->consumed = ln.total;
    return line_is(&ln, "STORED") ? REPLY_OK : REPLY_ERROR;
}

/* simple: "VALUE <key> <value>\r\n" "END\r\n" on a hit, "END\r\n" on a miss */
enum reply text_parse_simple_get(const struct bench *b, const struct request *req,
                                 const char *p, size_t avail, struct parsed *out)
{
    struct line first, end;
    if (!next_line(p, avail, &first))
        return REPLY_INCOMPLETE;
    out->consumed = first.total;
    if (line_is(&first, "END"))
        return REPLY_OK;
    if (!line_starts_with(&first, "VALUE "))
        return REPLY_ERROR;
    if (!next_line(p + first.total, avail - first.total, &end))
        return REPLY_INCOMPLETE;
    out->consumed = first.total + end.total;
    const char *line_end = first.text + first.len;
    const char *value = skip_expected_key(first.text + 6, line_end, req->keys[0]);
    if (!value || !line_is(&end, "END") || (size_t)(line_end - value) != (size_t)b->opt.value_size)
        return REPLY_ERROR;
    out->hits = 1;
    return REPLY_OK;
}

/* text: one "VALUE <key> <flags> <bytes>[ <cas>]\r\n" <data> "\r\n" block per key found,
 * then "END\r\n" */
enum reply text_parse_get(const struct bench *b, const struct request *req,
                          const char *p, size_t avail, struct parsed *out)
{
    size_t at = 0;
    unsigned next_key = 0;
    for (;;) {
        struct line ln;
        if (!next_line(p + at, avail - at, &ln))
            return REPLY_INCOMPLETE;
        out->consumed = at + ln.total;
        if (line_is(&ln, "END"))
            return REPLY_OK;
        size_t bytes;
        if (!parse_text_value_line(req, &ln, &next_key, &bytes))
            return REPLY_ERROR;
        size_t block = ln.total + bytes + 2;
        if (avail - at < block)
            return REPLY_INCOMPLETE;
        out->consumed = at + block;
        if (bytes != (size_t)b->opt.value_size || memcmp(p + at + ln.total + bytes, "\r\n", 2) != 0)
            return REPLY_ERROR;
        out->hits++;
        at += block;
    }
}

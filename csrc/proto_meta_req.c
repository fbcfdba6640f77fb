/* proto_meta_req: what memcached's meta commands share — their flags read as 1.6.18 reads them,
 * base64 keys with its decoder's quirks, and reply lines composed in a bounded buffer. */
#include "proto_meta_req.h"

#include <stdint.h>
#include <string.h>

#include "mcnum.h"
#include "replies.h"

/* ---- base64, with the quirks of memcached's decoder ---- */

static const char BASE64_DIGITS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A digit's value, 0 for '=', -1 for a byte the decoder skips. */
static int _b64_value(unsigned char ch)
{
    if (ch == '=')
        return 0;
    const char *at = ch ? memchr(BASE64_DIGITS, ch, 64) : NULL;
    return at ? (int)(at - BASE64_DIGITS) : -1;
}

/* memcached's decoder: bytes that are not digits are skipped, the digits must come in fours, and
 * decoding stops after the first group holding padding. Returns the decoded length (at most
 * n * 3 / 4, written to out), or 0 for input it refuses. */
size_t meta_b64_decode(const char *in, size_t n, char *out)
{
    size_t digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += _b64_value((unsigned char)in[i]) >= 0;
    if (digits == 0 || digits % 4 != 0)
        return 0;
    size_t len = 0, count = 0;
    int pad = 0;
    unsigned group[4];
    for (size_t i = 0; i < n; i++) {
        int v = _b64_value((unsigned char)in[i]);
        if (v < 0)
            continue;
        pad += in[i] == '=';
        group[count++] = (unsigned)v;
        if (count < 4)
            continue;
        out[len++] = (char)(group[0] << 2 | group[1] >> 4);
        out[len++] = (char)(group[1] << 4 | group[2] >> 2);
        out[len++] = (char)(group[2] << 6 | group[3]);
        count = 0;
        if (pad > 2)
            return 0;
        if (pad > 0) {
            len -= (size_t)pad;
            break;
        }
    }
    return len;
}

/* Standard base64 with padding; out has room for 4 * ((n + 2) / 3) bytes. Returns its length. */
size_t meta_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t len = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        out[len++] = BASE64_DIGITS[in[i] >> 2];
        out[len++] = BASE64_DIGITS[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[len++] = BASE64_DIGITS[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        out[len++] = BASE64_DIGITS[in[i + 2] & 63];
    }
    if (i < n) {
        bool two = n - i == 2;
        out[len++] = BASE64_DIGITS[in[i] >> 2];
        out[len++] = BASE64_DIGITS[(in[i] & 3) << 4 | (two ? in[i + 1] >> 4 : 0)];
        out[len++] = two ? BASE64_DIGITS[(in[i + 1] & 15) << 2] : '=';
        out[len++] = '=';
    }
    return len;
}

/* ---- reply lines ---- */

void meta_put(meta_line_t *l, const char *p, size_t n)
{
    size_t room = sizeof(l->b) - l->n;
    if (n > room)
        n = room;
    memcpy(l->b + l->n, p, n);
    l->n += n;
}

void meta_put_flag(meta_line_t *l, char flag)
{
    char two[2] = {' ', flag};
    meta_put(l, two, 2);
}

void meta_put_u64(meta_line_t *l, char flag, uint64_t v)
{
    char digits[20];
    meta_put_flag(l, flag);
    meta_put(l, digits, buf_format_u64(digits, v));
}

/* "VA <length>", the start of a reply carrying a value. */
void meta_put_va(meta_line_t *l, uint64_t length)
{
    char digits[20];
    meta_put(l, "VA ", 3);
    meta_put(l, digits, buf_format_u64(digits, length));
}

/* " k<key>", or " k<base64 key> b" for a binary key. */
void meta_put_key(meta_line_t *l, const char *key, size_t nkey, bool binary)
{
    meta_put_flag(l, 'k');
    if (!binary) {
        meta_put(l, key, nkey);
        return;
    }
    char encoded[4 * ((STORE_KEY_MAX + 2) / 3)];
    size_t n = meta_b64_encode((const unsigned char *)key, nkey, encoded);
    meta_put(l, encoded, n);
    meta_put(l, " b", 2);
}

/* " O<opaque>"; false when it is too long (the command then fails). */
bool meta_put_opaque(meta_req_t *r, meta_line_t *l, const token_t *t)
{
    if (t->n > META_MAX_OPAQUE) {
        r->errstr = META_OPAQUE_TOO_LONG;
        return false;
    }
    meta_put(l, " ", 1);
    meta_put(l, t->p, t->n);
    return true;
}

/* The remaining ttl as memcached prints it: -1 for none, else exptime - now in 32 bits. */
void meta_put_ttl(meta_line_t *l, uint32_t exptime, uint32_t now)
{
    if (exptime == 0) {
        meta_put(l, " t-1", 4);
        return;
    }
    meta_put_u64(l, 't', (uint32_t)(exptime - now));
}

/* Appends the line plus "\r\n" unless quiet; out of memory breaks the session. */
void meta_send(cmd_t *c, const meta_line_t *l, bool quiet)
{
    if (quiet)
        return;
    if (buf_reserve(c->out, l->n + 2) != 0) {
        c->s->state = SESSION_BROKEN;
        return;
    }
    buf_append(c->out, l->b, l->n);
    buf_append(c->out, "\r\n", 2);
}

/* An error line: always sent, whatever q or noreply asked. */
void meta_error(cmd_t *c, const char *errstr)
{
    c->noreply = false;
    text_reply(c, errstr, strlen(errstr));
}

/* ---- flags ---- */

static bool _i32_after(const token_t *t, int32_t *out)
{
    return mcnum_i32(t->p + 1, t->n - 1, out);
}

/* A flag whose argument is a ttl: N, T, R. */
static bool _ttl_flag(meta_req_t *r, const token_t *t, uint32_t *out)
{
    int32_t v;
    r->locked = true;
    if (!_i32_after(t, &v)) {
        r->errstr = META_BAD_TOKEN;
        return false;
    }
    *out = engine_exptime(r->c->s->engine, v);
    return true;
}

static bool _u64_flag(meta_req_t *r, const token_t *t, uint64_t *out, const char *errstr)
{
    if (mcnum_u64(t->p + 1, t->n - 1, out))
        return true;
    r->errstr = errstr;
    return false;
}

static bool _decode_key(meta_req_t *r)
{
    const token_t *key = &r->c->t[1];
    r->key_binary = true;
    r->nkey = meta_b64_decode(key->p, key->n, r->key);
    if (r->nkey > 0)
        return true;
    r->errstr = META_BAD_KEY;
    return false;
}

/* Reads the flag tokens from `first` on as memcached's _meta_flag_preparse does: a repeated or
 * unknown flag stops at once; a bad argument is remembered and parsing goes on (the last error
 * message set wins). Returns whether every flag was good. */
bool meta_parse(meta_req_t *r, size_t first)
{
    cmd_t *c = r->c;
    memcpy(r->key, c->t[1].p, c->t[1].n);
    r->nkey = c->t[1].n;
    bool ok = true;
    bool seen[127] = {false};
    for (size_t i = first; i + 1 < c->nt; i++) {
        const token_t *t = &c->t[i];
        unsigned char flag = (unsigned char)t->p[0];
        if (flag >= 127 || seen[flag]) {
            r->errstr = META_DUPLICATE_FLAG;
            return false;
        }
        seen[flag] = true;
        switch (flag) {
        case 'b': ok &= _decode_key(r); break;
        case 'N': r->vivify = true; ok &= _ttl_flag(r, t, &r->vivify_exptime); break;
        case 'T': r->new_ttl = _ttl_flag(r, t, &r->exptime); ok &= r->new_ttl; break;
        case 'R': ok &= _ttl_flag(r, t, &r->recache_time); break;
        case 'l': case 'h': r->locked = true; break;
        case 'O': case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f': break;
        case 'v': r->value = true; break;
        case 'u': r->no_update = true; break;
        case 'q': r->quiet = true; break;
        case 'F': ok &= mcnum_u32(t->p + 1, t->n - 1, &r->client_flags); break;
        case 'C':
            r->has_cas = _u64_flag(r, t, &r->cas, META_BAD_TOKEN);
            ok &= r->has_cas;
            break;
        case 'M':
            if (t->n != 2) {
                r->errstr = META_BAD_M_LENGTH;
                ok = false;
            } else {
                r->mode = t->p[1];
            }
            break;
        case 'J': ok &= _u64_flag(r, t, &r->initial, META_BAD_INITIAL); break;
        case 'D': ok &= _u64_flag(r, t, &r->delta, META_BAD_DELTA); break;
        case 'I': r->stale = true; break;
        default:
            r->errstr = META_BAD_FLAG;
            return false;
        }
    }
    return ok;
}

/* The checks every meta command but me starts with. Returns false once it has replied. */
bool meta_start(meta_req_t *r, const char *too_many)
{
    cmd_t *c = r->c;
    r->errstr = TEXT_BAD_FORMAT;
    if (c->nt < 3) {
        REPLY(c, TEXT_ERROR);
        return false;
    }
    if (c->t[1].n > STORE_KEY_MAX) {
        meta_error(c, TEXT_BAD_FORMAT);
        return false;
    }
    if (c->nt > META_MAX_TOKENS) {
        meta_error(c, too_many);
        return false;
    }
    return true;
}

/* " O..." and " k..." of a reply that has no item to describe. */
bool meta_put_echo(meta_req_t *r, meta_line_t *l)
{
    for (size_t i = 2; i + 1 < r->c->nt; i++) {
        const token_t *t = &r->c->t[i];
        if (t->p[0] == 'O' && !meta_put_opaque(r, l, t))
            return false;
        if (t->p[0] == 'k')
            meta_put_key(l, r->key, r->nkey, r->key_binary);
    }
    return true;
}

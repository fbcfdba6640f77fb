/* binary.c - requests and replies of memcached's binary protocol: GET and SET packets, and a multi-get as
 * one GETKQ per key (only hits answer) closed by a NOOP, whose reply ends the answer. */
#define _GNU_SOURCE
#include "codec.h"

#define BIN_HEADER 24
#define BIN_REQUEST 0x80
#define BIN_RESPONSE 0x81
#define BIN_GET 0x00
#define BIN_SET 0x01
#define BIN_NOOP 0x0a
#define BIN_GETKQ 0x0d
#define BIN_SET_EXTRAS 8   /* flags, exptime */
#define BIN_GET_EXTRAS 4   /* flags */
#define BIN_STATUS_NOT_FOUND 0x0001
#define BIN_BODY_MAX ((size_t)1 << 30)   /* a larger length is garbage, not a reply */

static void put_be16(char *p, unsigned v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static uint32_t get_be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static unsigned get_be16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (unsigned)u[0] << 8 | u[1];
}

/* ---------------------------------------------------------------- requests */

/* A request header with zero opaque and cas; returns where the body goes. */
static char *put_bin_header(char *p, unsigned opcode, size_t nkey, unsigned nextras, size_t body)
{
    memset(p, 0, BIN_HEADER);
    p[0] = (char)BIN_REQUEST;
    p[1] = (char)opcode;
    put_be16(p + 2, (unsigned)nkey);
    p[4] = (char)nextras;
    put_be32(p + 8, (uint32_t)body);
    return p + BIN_HEADER;
}

/* One GET, or for a multi-get one GETKQ per key (only hits answer) and a NOOP that ends the reply. */
void binary_encode_get(struct buffer *out, const struct request *req)
{
    buffer_reserve(out, (req->nkeys + 1) * (BIN_HEADER + KEY_MAX));
    char *p = out->data + out->end;
    unsigned opcode = req->nkeys > 1 ? BIN_GETKQ : BIN_GET;
    for (unsigned i = 0; i < req->nkeys; i++) {
        char key[KEY_MAX];
        size_t nkey = format_key(key, req->keys[i]);
        p = put(put_bin_header(p, opcode, nkey, 0, nkey), key, nkey);
    }
    if (req->nkeys > 1)
        p = put_bin_header(p, BIN_NOOP, 0, 0, 0);
    out->end = (size_t)(p - out->data);
}

void binary_encode_set(const struct bench *b, struct buffer *out, const struct request *req)
{
    size_t vlen = (size_t)b->opt.value_size;
    buffer_reserve(out, BIN_HEADER + BIN_SET_EXTRAS + KEY_MAX + vlen);
    char key[KEY_MAX];
    size_t nkey = format_key(key, req->keys[0]);
    char *p = put_bin_header(out->data + out->end, BIN_SET, nkey, BIN_SET_EXTRAS, BIN_SET_EXTRAS + nkey + vlen);
    memset(p, 0, BIN_SET_EXTRAS);
    p = put(put(p + BIN_SET_EXTRAS, key, nkey), b->value, vlen);
    out->end = (size_t)(p - out->data);
}

/* ---------------------------------------------------------------- replies */

/* One binary response packet, whole; nothing when it has not all arrived yet. */
struct bin_packet {
    unsigned magic, opcode, status, nextras;
    const char *key;
    size_t nkey, nvalue, total;
};

static enum reply next_bin_packet(const char *p, size_t avail, struct bin_packet *pk)
{
    if (avail < BIN_HEADER)
        return REPLY_INCOMPLETE;
    size_t body = get_be32(p + 8);
    if (body > BIN_BODY_MAX)
        return REPLY_ERROR;
    pk->total = BIN_HEADER + body;
    if (avail < pk->total)
        return REPLY_INCOMPLETE;
    pk->magic = (unsigned char)p[0];
    pk->opcode = (unsigned char)p[1];
    pk->nkey = get_be16(p + 2);
    pk->nextras = (unsigned char)p[4];
    pk->status = get_be16(p + 6);
    if (pk->magic != BIN_RESPONSE || pk->nkey + pk->nextras > body)
        return REPLY_ERROR;
    pk->key = p + BIN_HEADER + pk->nextras;
    pk->nvalue = body - pk->nkey - pk->nextras;
    return REPLY_OK;
}

/* A hit carries the flags and exactly --value-size bytes. */
static bool bin_value_ok(const struct bench *b, const struct bin_packet *pk)
{
    return pk->status == 0 && pk->nextras == BIN_GET_EXTRAS && pk->nvalue == (size_t)b->opt.value_size;
}

static bool bin_key_is(const struct bin_packet *pk, uint32_t key_id)
{
    char key[KEY_MAX];
    size_t nkey = format_key(key, key_id);
    return pk->nkey == nkey && memcmp(pk->key, key, nkey) == 0;
}

/* A set: one packet, status 0. A get: one packet, a hit or "not found". A multi-get: a GETKQ
 * packet per key found, in request order, then the NOOP's. */
enum reply binary_parse(const struct bench *b, const struct request *req,
                        const char *p, size_t avail, struct parsed *out)
{
    size_t at = 0;
    unsigned next_key = 0;
    for (;;) {
        struct bin_packet pk;
        enum reply r = next_bin_packet(p + at, avail - at, &pk);
        if (r == REPLY_ERROR)
            out->consumed = avail;
        if (r != REPLY_OK)
            return r;
        at += pk.total;
        out->consumed = at;
        if (req->is_set)
            return pk.opcode == BIN_SET && pk.status == 0 ? REPLY_OK : REPLY_ERROR;
        if (req->nkeys == 1) {
            if (pk.opcode != BIN_GET || (pk.status != 0 && pk.status != BIN_STATUS_NOT_FOUND))
                return REPLY_ERROR;
            if (pk.status == BIN_STATUS_NOT_FOUND)
                return REPLY_OK;
            out->hits = 1;
            return bin_value_ok(b, &pk) ? REPLY_OK : REPLY_ERROR;
        }
        if (pk.opcode == BIN_NOOP)
            return REPLY_OK;
        while (next_key < req->nkeys && !bin_key_is(&pk, req->keys[next_key]))
            next_key++;
        if (pk.opcode != BIN_GETKQ || next_key++ == req->nkeys || !bin_value_ok(b, &pk))
            return REPLY_ERROR;
        out->hits++;
    }
}

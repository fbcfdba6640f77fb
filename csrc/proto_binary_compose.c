/* proto_binary_compose: the binary protocol's response packets — the 24-byte header (magic 0x81,
 * the request's opcode and opaque, status, cas), extras, key and value — and memcached's error bodies. */
#include "proto_binary_cmd.h"

#include <string.h>

#include "proto_binary.h"
#include "value_out.h"

static const char *_status_text(binary_status_t st)
{
    switch (st) {
#define X(name, code, text) case BINARY_ST_##name: return text;
    BINARY_STATUSES(X)
#undef X
    }
    return "";
}

/* Appends one response packet; out of memory breaks the session. */
void binary_compose(binary_req_t *r, const binary_rsp_t *p)
{
    uint32_t bodylen = (uint32_t)p->extlen + p->keylen + p->nvalue;
    bool referred = p->value_item != NULL && value_out_refers(r->out, p->nvalue);
    if (buf_reserve(r->out, BINARY_HEADER_LEN + (size_t)bodylen - (referred ? p->nvalue : 0)) != 0) {
        r->s->state = SESSION_BROKEN;
        return;
    }
    unsigned char *h = (unsigned char *)buf_tail(r->out);
    h[0] = BINARY_MAGIC_RESPONSE;
    h[1] = p->opcode;
    binary_put16(h + 2, p->keylen);
    h[4] = p->extlen;
    h[5] = 0;  /* data type: raw bytes */
    binary_put16(h + 6, (uint16_t)p->status);
    binary_put32(h + 8, bodylen);
    binary_put32(h + 12, r->opaque);
    binary_put64(h + 16, p->cas);
    r->out->end += BINARY_HEADER_LEN;
    if (p->extlen)
        buf_append(r->out, p->extras, p->extlen);
    if (p->keylen)
        buf_append(r->out, p->key, p->keylen);
    if (referred && value_out(r->out, r->s->engine->cache, NULL, p->value_item) != 0)
        r->s->state = SESSION_BROKEN;
    else if (!referred && p->nvalue)
        buf_append(r->out, p->value, p->nvalue);
}

/* An error: sent even for a quiet command, with memcached's text unless `text` overrides it. */
void binary_error(binary_req_t *r, binary_status_t st, const char *text)
{
    if (text == NULL)
        text = _status_text(st);
    binary_rsp_t p = {.opcode = r->opcode, .status = st, .value = text, .nvalue = (uint32_t)strlen(text)};
    binary_compose(r, &p);
}

/* A success with an optional body; quiet commands send none. */
void binary_success(binary_req_t *r, const void *value, uint32_t nvalue, uint64_t cas)
{
    if (r->quiet)
        return;
    binary_rsp_t p = {.opcode = r->opcode, .status = BINARY_ST_SUCCESS, .value = value, .nvalue = nvalue, .cas = cas};
    binary_compose(r, &p);
}

int binary_stat_packet(void *ctx, const char *name, const char *value)
{
    binary_req_t *r = ctx;
    binary_rsp_t p = {.opcode = BINARY_OP_STAT, .status = BINARY_ST_SUCCESS};
    if (name != NULL) {
        p.key = name;
        p.keylen = (uint16_t)strlen(name);
        p.value = value;
        p.nvalue = (uint32_t)strlen(value);
    }
    binary_compose(r, &p);
    return r->s->state == SESSION_OPEN ? 0 : -1;
}

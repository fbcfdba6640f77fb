/* proto_binary_cmd: what the binary protocol's files share — opcodes, statuses with memcached's
 * error bodies, a request being executed, and the response packets composed for it. Private to
 * proto_binary*.c. */
#ifndef SC_PROTO_BINARY_CMD_H
#define SC_PROTO_BINARY_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "session.h"

/* Request opcodes memcached serves; a quiet variant answers only what its base command must. */
enum binary_opcode {
    BINARY_OP_GET = 0x00, BINARY_OP_SET = 0x01, BINARY_OP_ADD = 0x02, BINARY_OP_REPLACE = 0x03,
    BINARY_OP_DELETE = 0x04, BINARY_OP_INCREMENT = 0x05, BINARY_OP_DECREMENT = 0x06,
    BINARY_OP_QUIT = 0x07, BINARY_OP_FLUSH = 0x08, BINARY_OP_GETQ = 0x09, BINARY_OP_NOOP = 0x0a,
    BINARY_OP_VERSION = 0x0b, BINARY_OP_GETK = 0x0c, BINARY_OP_GETKQ = 0x0d,
    BINARY_OP_APPEND = 0x0e, BINARY_OP_PREPEND = 0x0f, BINARY_OP_STAT = 0x10, BINARY_OP_SETQ = 0x11,
    BINARY_OP_ADDQ = 0x12, BINARY_OP_REPLACEQ = 0x13, BINARY_OP_DELETEQ = 0x14,
    BINARY_OP_INCREMENTQ = 0x15, BINARY_OP_DECREMENTQ = 0x16, BINARY_OP_QUITQ = 0x17,
    BINARY_OP_FLUSHQ = 0x18, BINARY_OP_APPENDQ = 0x19, BINARY_OP_PREPENDQ = 0x1a,
    BINARY_OP_TOUCH = 0x1c, BINARY_OP_GAT = 0x1d, BINARY_OP_GATQ = 0x1e,
    BINARY_OP_SASL_LIST_MECHS = 0x20, BINARY_OP_SASL_AUTH = 0x21, BINARY_OP_SASL_STEP = 0x22,
    BINARY_OP_GATK = 0x23, BINARY_OP_GATKQ = 0x24,
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
    X(AUTH_ERROR, 0x20, "Auth failure.")                                        \
    X(AUTH_CONTINUE, 0x21, "")                                                  \
    X(UNKNOWN_COMMAND, 0x81, "Unknown command")                                 \
    X(ENOMEM, 0x82, "Out of memory")

typedef enum binary_status {
#define X(name, code, text) BINARY_ST_##name = code,
    BINARY_STATUSES(X)
#undef X
} binary_status_t;

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
    item_t *value_item;   /* the item value is from: sent from it when large (value_out.h); or NULL */
} binary_rsp_t;

static inline uint32_t binary_get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t binary_get64(const unsigned char *p)
{
    return (uint64_t)binary_get32(p) << 32 | binary_get32(p + 4);
}

static inline void binary_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void binary_put32(unsigned char *p, uint32_t v)
{
    binary_put16(p, (uint16_t)(v >> 16));
    binary_put16(p + 2, (uint16_t)v);
}

static inline void binary_put64(unsigned char *p, uint64_t v)
{
    binary_put32(p, (uint32_t)(v >> 32));
    binary_put32(p + 4, (uint32_t)v);
}

/* Appends one response packet echoing the request's opaque; out of memory breaks the session. */
void binary_compose(binary_req_t *r, const binary_rsp_t *p);

/* An error: sent even for a quiet command, with memcached's body for the status unless `text`
 * overrides it. */
void binary_error(binary_req_t *r, binary_status_t st, const char *text);

/* A success with an optional body and the cas to report; quiet commands send nothing. */
void binary_success(binary_req_t *r, const void *value, uint32_t nvalue, uint64_t cas);

/* A stats_emit_t (ctx: the binary_req_t) that sends one pair as a STAT packet; a NULL name sends
 * the empty packet that ends the list. Returns -1 once the session has broken (out of memory). */
int binary_stat_packet(void *ctx, const char *name, const char *value);

#endif

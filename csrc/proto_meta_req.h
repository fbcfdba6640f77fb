/* proto_meta_req: a meta command's parsed flags and its reply line, shared by the meta command
 * handlers (proto_meta.c). Private to proto_meta*.c. */
#ifndef SC_PROTO_META_REQ_H
#define SC_PROTO_META_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_text_cmd.h"
#include "store.h"

#define META_MAX_TOKENS 20   /* memcached refuses a meta line of more tokens (terminal included) */
#define META_MAX_OPAQUE 32   /* an O token longer than this is refused */
#define META_LINE_MAX 1024   /* memcached's write buffer: every meta reply line fits in it */

/* How a meta command found its key: HD/VA, EN/NF, EX, or an error line instead of a reply. */
typedef enum meta_outcome { META_HIT, META_MISS, META_EXISTS, META_ERROR } meta_outcome_t;

/* A parsed meta command: its key (base64-decoded if asked) and what its flags ask for. */
typedef struct meta_req {
    cmd_t *c;
    const char *errstr;     /* the error line, once a check has failed */
    char key[STORE_KEY_MAX];
    size_t nkey;
    bool key_binary;        /* b */
    bool vivify;            /* N */
    bool value;             /* v */
    bool stale;             /* I */
    bool quiet;             /* q */
    bool has_cas;           /* C */
    bool new_ttl;           /* T */
    bool no_update;         /* u */
    bool locked;            /* h, l, N, R or T: mg reads the item's marks before it marks it read */
    char mode;              /* M's letter, 0 without M */
    uint32_t exptime, vivify_exptime, recache_time;  /* T, N, R as store clock times */
    uint32_t client_flags;  /* F */
    uint64_t cas, delta, initial;                    /* C, D (1 without it), J */
} meta_req_t;

/* One reply line being composed; flags are unique, so a line stays far below META_LINE_MAX. */
typedef struct meta_line {
    size_t n;
    char b[META_LINE_MAX];
} meta_line_t;

/* memcached's base64 decoder: bytes that are not digits are skipped, the digits must come in
 * fours, and decoding stops after the first group holding padding. Returns the decoded length
 * (at most n * 3 / 4, written to out), or 0 for input it refuses. */
size_t meta_b64_decode(const char *in, size_t n, char *out);

/* Standard base64 with padding; out has room for 4 * ((n + 2) / 3) bytes. Returns its length. */
size_t meta_b64_encode(const unsigned char *in, size_t n, char *out);

/* Reply line composition. Output past META_LINE_MAX is cut, which bounded flags never reach. */
void meta_put(meta_line_t *l, const char *p, size_t n);
void meta_put_flag(meta_line_t *l, char flag);                       /* " <flag>" */
void meta_put_u64(meta_line_t *l, char flag, uint64_t v);            /* " <flag><v>" */
void meta_put_va(meta_line_t *l, uint64_t length);                   /* "VA <length>" */
void meta_put_key(meta_line_t *l, const char *key, size_t nkey, bool binary);
void meta_put_ttl(meta_line_t *l, uint32_t exptime, uint32_t now);  /* " t<remaining>" of an expiry */

/* " <opaque token>"; false (r->errstr set) when it is too long, which fails the command. */
bool meta_put_opaque(meta_req_t *r, meta_line_t *l, const token_t *t);

/* The O and k flags of a reply that has no item to describe; false as meta_put_opaque. */
bool meta_put_echo(meta_req_t *r, meta_line_t *l);

/* Appends the line and "\r\n" unless quiet; out of memory breaks the session. */
void meta_send(cmd_t *c, const meta_line_t *l, bool quiet);

/* An error line: always sent, whatever q or noreply asked. */
void meta_error(cmd_t *c, const char *errstr);

/* The checks every meta command but me starts with (token count, key length, too many flags:
 * the message for that). Returns false once it has replied. */
bool meta_start(meta_req_t *r, const char *too_many);

/* Reads the key and the flag tokens from `first` on as memcached's _meta_flag_preparse does.
 * Returns whether every flag was good; if not, r->errstr says why. */
bool meta_parse(meta_req_t *r, size_t first);

#endif

/* proto_text_cmd: what the memcached text protocol's files share — a command line split into
 * tokens exactly as memcached splits it, and the reply appended for it. Private to proto_text*.c. */
#ifndef SC_PROTO_TEXT_CMD_H
#define SC_PROTO_TEXT_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "dump.h"
#include "session.h"

#define MAX_TOKENS 24      /* memcached's limit, terminal token included */

typedef struct token {
    const char *p;
    size_t n;
} token_t;

/* One command line being executed. */
typedef struct cmd {
    session_t *s;
    buf_t *out;
    token_t t[MAX_TOKENS];
    size_t nt;        /* tokens, counting memcached's empty terminal token */
    bool noreply;
    const char *after;   /* the bytes after the line: a storage command's data block */
    size_t nafter;
    size_t used_after;   /* how many of them the command consumed */
    bool need_more;      /* the data block has not fully arrived: consume nothing, retry later */
    size_t line_len;     /* the command line's bytes, its end included */
} cmd_t;

/* Splits [p, end) on single spaces as memcached does. Past MAX_TOKENS - 1 tokens the rest of the
 * line is left unsplit; the terminal token then points at it (p != NULL), else p == NULL. Returns
 * the number of tokens, the terminal one included. */
size_t text_tokenize(const char *p, const char *end, token_t *t);

bool text_token_is(const token_t *t, const char *word);

/* Appends str and "\r\n" unless the command is noreply; out of memory breaks the session. */
void text_reply(cmd_t *c, const char *str, size_t n);

#define REPLY(c, lit) text_reply((c), (lit), sizeof(lit) - 1)

/* The "stats" command and its subcommands (proto_text_stats.c). */
void text_stats(cmd_t *c);

/* memcached's operator commands (proto_text_admin.c): "lru_crawler", "lru", "slabs", "cache_memlimit",
 * "shutdown", and the paced sending of a key listing, which leaves the command line unconsumed
 * until its END. */
void text_lru_crawler(cmd_t *c);
void text_cache_memlimit(cmd_t *c);
void text_slabs(cmd_t *c);
void text_lru(cmd_t *c);
void text_shutdown(cmd_t *c);
void text_dump_begin(cmd_t *c, dump_format_t format, uint64_t classes, size_t limit);
size_t text_dump_continue(session_t *s, buf_t *out);

/* "watch" and what the text commands log (proto_text_watch.c). Each caller tests text_watched()
 * or text_verbose() first: with nobody watching and -vv off, a command pays one relaxed load and
 * one predictable branch per event. */
static inline bool text_watched(const session_t *s, unsigned flag)
{
    return logger_wants(&s->engine->logger, flag);
}

static inline bool text_verbose(const session_t *s)
{
    return __atomic_load_n(&s->engine->verbosity, __ATOMIC_RELAXED) > 1;
}

void text_watch(cmd_t *c);
void text_watch_end(session_t *s);
/* LOG_FETCHERS: a lookup's outcome (text_log_lookup looks the key up itself, as memcached's
 * storage and delete commands log the lookup they do first). */
void text_log_get(session_t *s, const char *key, size_t nkey, const item_t *it);
void text_log_lookup(session_t *s, const char *key, size_t nkey);
/* LOG_MUTATIONS: a storage command's outcome. */
void text_log_store(session_t *s, const store_write_t *w, store_status_t st);
void text_log_too_large(session_t *s, const char *key, size_t nkey, store_mode_t mode);
/* -vv: a command line received, a reply line sent. */
void text_log_line(session_t *s, const char *line, size_t n);
void text_log_reply(cmd_t *c, const char *str, size_t n);

/* Retrieval, shared by short get lines (proto_text.c) and long ones (proto_text_getline.c): a key
 * looked up (touched for gat, to exptime), counted and logged, which the caller releases; and the
 * VALUE block of an item appended (-1: out of memory). */
item_t *text_get_lookup(session_t *s, const char *key, size_t nkey, uint32_t exptime);
int text_append_value(buf_t *out, cache_t *cache, item_t *it, bool with_cas);

/* A get or gets line with no line end in TEXT_MAX_LINE bytes (proto_text_getline.c): begun on the
 * input that starts it, then stepped in the TEXT_GET_STREAM/DISCARD/SEND states. Both follow the
 * session_step_t contract. text_getline_end() frees its state when the session ends. */
size_t text_getline_begin(session_t *s, const char *in, size_t len, buf_t *out);
size_t text_getline_step(session_t *s, const char *in, size_t len, buf_t *out);
void text_getline_end(session_t *s);

/* The whole input of a session that has not authenticated yet (proto_text_auth.c): the
 * session_feed() contract, for one step. */
size_t proto_text_auth_step(session_t *s, const char *in, size_t len, buf_t *out);

#endif

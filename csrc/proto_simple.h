/* proto_simple: simplecached's seed protocol (set/get/delete/quit, one line each, value to end of line).
 * Parsing is separate from execution so that tests and fuzzers can check each on its own. */
#ifndef SC_PROTO_SIMPLE_H
#define SC_PROTO_SIMPLE_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

/* Room on a line beyond key and value: the command word and separators. */
#define SIMPLE_LINE_SLACK 32

typedef enum simple_cmd {
    SIMPLE_GET,
    SIMPLE_SET,
    SIMPLE_DELETE,
    SIMPLE_QUIT,
    SIMPLE_INVALID,  /* a complete line that is not a valid command: answered with ERROR */
} simple_cmd_t;

typedef struct simple_request {
    simple_cmd_t cmd;
    const char *key;
    size_t nkey;
    const char *value;
    size_t nvalue;
} simple_request_t;

typedef enum parse_status {
    PARSE_OK,          /* one line parsed into the request (possibly SIMPLE_INVALID) */
    PARSE_UNFINISHED,  /* no complete line yet; nothing consumed */
    PARSE_OVERSIZE,    /* a line longer than max_line: *consumed is its length with its end, or
                        * 0 when its end has not arrived yet */
} parse_status_t;

/* Parses the first line of in[0..len). *scanned (in/out) counts leading bytes already known to
 * hold no '\n', so a line arriving one byte at a time costs O(n), not O(n^2). On PARSE_OK,
 * *consumed is the length of the line including its end, and the request points into in. */
parse_status_t proto_simple_parse(const char *in, size_t len, size_t max_line, uint32_t *scanned,
                                  simple_request_t *req, size_t *consumed);

/* Runs one parsed request against the session's store and appends its reply. Returns 0, or -1
 * when the reply could not be buffered (out of memory). */
int proto_simple_execute(session_t *s, const simple_request_t *req, buf_t *out);

/* The session_step_t of this protocol. */
size_t proto_simple_step(session_t *s, const char *in, size_t len, buf_t *out);

/* Longest acceptable line for a given item size limit. */
static inline size_t proto_simple_max_line(size_t max_item_size)
{
    return STORE_KEY_MAX + max_item_size + SIMPLE_LINE_SLACK;
}

#endif

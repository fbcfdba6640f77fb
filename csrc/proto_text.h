/* proto_text: the memcached text protocol (storage, retrieval, arithmetic, touch, flush, stats),
 * answering byte for byte as memcached 1.6 does, against the engine's store. No sockets. */
#ifndef SC_PROTO_TEXT_H
#define SC_PROTO_TEXT_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

/* A command line with no line end in this many bytes closes the connection, as in memcached... */
#define TEXT_MAX_LINE 2048
/* ...unless it is a get or gets, whose key lists may be long; but never past this. */
#define TEXT_MAX_GET_LINE (1024 * 1024)

/* The session_step_t of this protocol. */
size_t proto_text_step(session_t *s, const char *in, size_t len, buf_t *out);

/* Frees a listing the session was sending (protocol_end). */
void proto_text_end(session_t *s);

#endif

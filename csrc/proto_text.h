/* proto_text: the memcached text protocol (storage, retrieval, arithmetic, touch, flush, stats),
 * answering byte for byte as memcached 1.6 does, against the engine's store. No sockets. */
#ifndef SC_PROTO_TEXT_H
#define SC_PROTO_TEXT_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

/* A command line with no line end in this many bytes closes the connection, as in memcached,
 * unless it is a get or gets: its keys are then served as they arrive, whatever the line's length. */
#define TEXT_MAX_LINE 2048

/* The session_step_t of this protocol. */
size_t proto_text_step(session_t *s, const char *in, size_t len, buf_t *out);

/* Frees a listing the session was sending (protocol_end). */
void proto_text_end(session_t *s);

#endif

/* session: starts a client's protocol session and feeds it bytes; the layer above the protocols, so
 * transports (conn, binding), tests and fuzzers call it, and no protocol includes it. */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include <stddef.h>

#include "buf.h"
#include "engine.h"

/* A fresh session of the given protocol on e (s->stats = e's own counters until the caller points
 * them elsewhere). */
void session_init(session_t *s, engine_t *e, session_proto_t proto);

/* Executes every complete command in in[0..len), appending the replies to out, and returns how many
 * bytes it consumed. The caller keeps the rest and passes it again, with more bytes appended, on
 * the next call. It stops early once out holds s->out_high_water bytes, so that one read of
 * pipelined gets cannot queue unbounded output. Once s->state is not SESSION_OPEN the session
 * consumes nothing more. */
size_t session_feed(session_t *s, const char *in, size_t len, buf_t *out);

#endif

/* proto_meta: memcached's meta commands (mg, ms, md, ma, mn, me) inside the text protocol,
 * answering byte for byte as memcached 1.6.18 does. Private to proto_text*.c. */
#ifndef SC_PROTO_META_H
#define SC_PROTO_META_H

#include "proto_text_cmd.h"

/* Runs the tokenized meta command line in c (c->t[0] is two bytes long and starts with 'm').
 * An "ms" whose data block has not fully arrived sets c->need_more and consumes nothing; one
 * that got it sets c->used_after; one refused before its data puts the session in TEXT_SWALLOW. */
void proto_meta_command(cmd_t *c);

#endif

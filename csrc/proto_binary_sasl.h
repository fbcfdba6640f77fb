/* proto_binary_sasl: memcached's binary SASL commands (list mechs 0x20, auth 0x21, step 0x22) with
 * PLAIN against the engine's auth table, and the gate before every other command (memcached -S). */
#ifndef SC_PROTO_BINARY_SASL_H
#define SC_PROTO_BINARY_SASL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto_binary_cmd.h"

/* Whether r may run now: always without SASL; with it, only the SASL commands and "version"
 * until the session has authenticated. */
bool binary_sasl_allows(const binary_req_t *r);

/* List mechanisms; false when the header's lengths do not fit the command. */
bool binary_sasl_list_mechs(binary_req_t *r);

/* Auth or step (r->cmd tells); false when the header's lengths do not fit the command. Bodies it
 * refuses are discarded through swallow, as the rest of the protocol discards them. */
bool binary_sasl_auth(binary_req_t *r, void (*swallow)(binary_req_t *, uint32_t));

#endif

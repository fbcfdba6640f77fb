/* proto_binary: memcached's binary protocol (24-byte headers, magic 0x80 in and 0x81 out), answering
 * byte for byte as memcached 1.6.18 does, against the engine's store. No sockets. */
#ifndef SC_PROTO_BINARY_H
#define SC_PROTO_BINARY_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

#define BINARY_MAGIC_REQUEST 0x80
#define BINARY_MAGIC_RESPONSE 0x81
#define BINARY_HEADER_LEN 24

/* The session_step_t of this protocol. A command is executed once its header, extras and
 * key have arrived, and a storage command once its whole value has (bounded by the item size limit:
 * a value over it is answered at once and discarded as it arrives, never buffered). */
size_t proto_binary_step(session_t *s, const char *in, size_t len, buf_t *out);

#endif

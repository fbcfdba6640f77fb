/* protocols: the list of protocols a session can speak, and how each starts. The only module that
 * knows them all; transports and the binding name a protocol here and then just feed the session. */
#ifndef SC_PROTOCOLS_H
#define SC_PROTOCOLS_H

#include "engine.h"
#include "session.h"

typedef enum protocol {
    PROTOCOL_SIMPLE,     /* simplecached's seed protocol (port 11311) */
    PROTOCOL_MEMCACHED,  /* memcached's port: text, or binary when the first byte is its magic 0x80 as
                          * memcached negotiates, unless authentication is on (memcached -Y serves
                          * ascii only) */
    PROTOCOL_BINARY,     /* memcached's binary protocol from the first byte */
} protocol_t;

/* Starts s as a fresh session of protocol p on e (see session_init for its defaults). */
void protocol_start(session_t *s, engine_t *e, protocol_t p);

/* Frees what a session holds beyond itself (a listing in progress); call it before discarding a
 * started session. Safe on a zeroed one. */
void protocol_end(session_t *s);

#endif

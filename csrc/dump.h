/* dump: memcached's key listings, "lru_crawler metadump" and "stats cachedump", walked one slot of
 * the hash table at a time so that a listing of any size goes out in pieces as the client reads. */
#ifndef SC_DUMP_H
#define SC_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"

typedef enum dump_format {
    DUMP_METADUMP,   /* key=<url-encoded> exp= la= cas= fetch= cls= size=, one "\n" line each */
    DUMP_CACHEDUMP,  /* ITEM <key> [<bytes> b; <expiry> s], at most 2 MiB of them, as memcached */
} dump_format_t;

typedef struct dump dump_t;

/* A listing of the items of the classes whose bits are set in `classes` (bit i: item class i, see
 * cache_classes()), at most `limit` of them (0: all). NULL when out of memory. */
dump_t *dump_start(engine_t *e, dump_format_t format, uint64_t classes, size_t limit);

/* Appends lines to out until it has grown by about `room` bytes or the listing ends; then appends
 * "END\r\n" and returns 1. Returns 0 while there is more to list, -1 when out of memory. Each call
 * visits a bounded number of slots, under one shard lock at a time. */
int dump_step(dump_t *d, buf_t *out, size_t room);

void dump_free(dump_t *d);

#endif

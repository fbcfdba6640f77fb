/* lookup: an in-process get in one visit to its key's shard — the value copied out under the lock
 * when it fits the caller's room, else the item held for the caller to copy and release. */
#ifndef SC_LOOKUP_H
#define SC_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

typedef struct lookup {
    bool hit;
    size_t nvalue;   /* a hit's value length */
    item_t *held;    /* a hit too big for the room: held, for cache_release once copied */
} lookup_t;

/* Finds a live item as cache_get does (marks it used, counts the hit in its class). On a hit its
 * value is copied into room when it fits; when it does not, the item is held in out->held, unless
 * room is NULL (the caller wants to know only whether it is there). Returns out->hit. */
bool lookup_get(cache_t *c, const char *key, size_t nkey, char *room, size_t size, lookup_t *out);

#endif

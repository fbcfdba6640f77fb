/* lookup: an in-process get in one visit to its key's shard, sparing a get the second hash and
 * lock that taking a reference and giving it back would cost (cache_get, then cache_release). */
#include "lookup.h"

#include <string.h>

#include "store.h"

struct lookup_call {
    const char *key;
    size_t nkey;
    char *room;
    size_t size;
    lookup_t *out;
};

static void _lookup_locked(store_t *store, void *arg)
{
    struct lookup_call *call = arg;
    item_t *it = store_get(store, call->key, call->nkey);
    if (it == NULL)
        return;
    call->out->hit = true;
    call->out->nvalue = it->nvalue;
    if (call->room != NULL && it->nvalue > call->size) {
        call->out->held = it;  /* copied by the caller with the lock released */
        return;
    }
    if (call->room != NULL)
        memcpy(call->room, item_value(it), it->nvalue);
    store_release(store, it);
}

bool lookup_get(cache_t *c, const char *key, size_t nkey, char *room, size_t size, lookup_t *out)
{
    struct lookup_call call = {key, nkey, room, size, out};
    out->hit = false;
    out->nvalue = 0;
    out->held = NULL;
    cache_locked(c, key, nkey, _lookup_locked, &call);
    return out->hit;
}

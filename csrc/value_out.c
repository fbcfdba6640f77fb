/* value_out: a value is referenced only if its item can take one more reference; any failure on
 * the way falls back to the copy, so a reply never depends on references being available. */
#include "value_out.h"

int value_out(buf_t *out, cache_t *cache, store_t *locked, item_t *it)
{
    if (value_out_refers(out, it->nvalue) && (locked ? store_hold(locked, it) : cache_hold(cache, it))) {
        if (bufref_add(out, item_value(it), it->nvalue, cache, it) == 0)
            return 0;
        if (locked)
            store_release(locked, it);
        else
            cache_release(cache, it);
    }
    return buf_append(out, item_value(it), it->nvalue);
}

void value_out_release(void *cache, void *item)
{
    cache_release(cache, item);
}

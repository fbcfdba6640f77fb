/* stats: memcached's "stats" groups as (name, value) pairs, reported to a callback so that each
 * protocol composes them its own way (text STAT lines, binary STAT packets) and none formats a figure. */
#ifndef SC_STATS_H
#define SC_STATS_H

#include <stddef.h>

#include "engine.h"

/* Takes one pair; value is formatted and NUL-terminated. A non-zero return stops the report. */
typedef int (*stats_emit_t)(void *ctx, const char *name, const char *value);

/* Reports the group named group[0..ngroup): "" (general), "settings", "items" or "slabs", in
 * memcached's order. Returns 0, 1 when there is no such group, else the emit's non-zero return. */
int stats_report(engine_t *e, const char *group, size_t ngroup, stats_emit_t emit, void *ctx);

#endif

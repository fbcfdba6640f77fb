/* prefix: memcached's per-prefix counters ("stats detail"): gets, hits, sets and deletes of keys
 * grouped by what precedes their first ':'. Recorded only while turned on; any thread. */
#ifndef SC_PREFIX_H
#define SC_PREFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define PREFIX_DELIMITER ':'
#define PREFIX_MAX 10000 /* prefixes tracked at most; keys of further ones go uncounted */

typedef struct prefix_stats prefix_stats_t;
typedef enum prefix_op { PREFIX_GET, PREFIX_SET, PREFIX_DELETE } prefix_op_t;

/* NULL when out of memory. */
prefix_stats_t *prefix_create(void);
void prefix_destroy(prefix_stats_t *p);

/* "stats detail on|off": counting starts or stops; what was counted stays. */
void prefix_enable(prefix_stats_t *p, bool on);
bool prefix_enabled(const prefix_stats_t *p);

/* Counts one operation on a key (a get's hit too); keys without the delimiter are not counted.
 * A relaxed load and nothing else while counting is off. */
void prefix_record(prefix_stats_t *p, const char *key, size_t nkey, prefix_op_t op, bool hit);

/* "stats detail dump": a "PREFIX <p> get <n> hit <n> set <n> del <n>\r\n" line per prefix, then
 * "END\r\n". Returns 0, or -1 when out of memory. */
int prefix_dump(prefix_stats_t *p, buf_t *out);

#endif

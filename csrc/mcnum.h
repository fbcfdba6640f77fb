/* mcnum: numbers read exactly as memcached 1.6 reads them on 64-bit Linux (strtoull/strtol plus
 * its safe_strto* checks), quirks included, so that the same bytes get the same answers. */
#ifndef SC_MCNUM_H
#define SC_MCNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All read the decimal number in p[0..n): optional leading whitespace and sign, digits, then
 * whitespace or the end. Overflow is refused, as strto* report ERANGE. */

/* safe_strtoull: a '-' is refused only when the negated result looks negative as a signed number. */
bool mcnum_u64(const char *p, size_t n, uint64_t *out);

/* safe_strtoul: read as mcnum_u64, then truncated to 32 bits as memcached stores it. */
bool mcnum_u32(const char *p, size_t n, uint32_t *out);

/* safe_strtol: read as a signed 64-bit number, then truncated to 32 bits. */
bool mcnum_i32(const char *p, size_t n, int32_t *out);

#endif

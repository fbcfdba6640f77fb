/* mcnum: memcached's number parsing, written once for the protocol (command arguments) and the
 * store (incr/decr of item data). */
#include "mcnum.h"

#include <string.h>

static bool _space(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* strtoull() (is_signed false) or strtoll() in base 10, then the safe_strto* end check. */
static bool _parse(const char *p, size_t n, bool is_signed, uint64_t *out)
{
    size_t i = 0;
    while (i < n && _space(p[i]))
        i++;
    bool minus = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        minus = p[i++] == '-';
    size_t first = i;
    uint64_t limit = !is_signed ? UINT64_MAX : minus ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    /* A NUL ends the C string memcached parses: item data may hold one. */
    if (i == first || (i < n && !_space(p[i]) && p[i] != '\0'))
        return false;
    *out = minus ? 0 - v : v;
    return true;
}

bool mcnum_u64(const char *p, size_t n, uint64_t *out)
{
    if (!_parse(p, n, false, out))
        return false;
    const char *nul = memchr(p, '\0', n);
    return !((int64_t)*out < 0 && memchr(p, '-', nul ? (size_t)(nul - p) : n) != NULL);
}

bool mcnum_u32(const char *p, size_t n, uint32_t *out)
{
    uint64_t v;
    if (!mcnum_u64(p, n, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool mcnum_i32(const char *p, size_t n, int32_t *out)
{
    uint64_t v;
    if (!_parse(p, n, true, &v))
        return false;
    uint32_t low = (uint32_t)v;
    *out = low <= INT32_MAX ? (int32_t)low : -(int32_t)(UINT32_MAX - low) - 1;
    return true;
}

/* crc32c: CRC-32C (polynomial 0x1EDC6F41, reflected) over a byte range. With SSE4.2 one
 * instruction folds 8 bytes (several GB/s); without it a 256-entry table folds one byte at a time. */
#include "crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t _table[256];

/* Filled once, when the library loads, before any thread can use it. */
__attribute__((constructor)) static void _crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        _table[i] = c;
    }
}

static uint32_t _crc_table(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = _table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t _crc_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, sizeof(word));
        c = __builtin_ia32_crc32di(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n > 0; n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

static bool _have_sse42(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#endif

uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
    crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (_have_sse42())
        return ~_crc_sse42(crc, data, n);
#endif
    return ~_crc_table(crc, data, n);
}

/* hash: the seeded key hash shared by the store (buckets) and the cache (shards).
 * A multiply-xorshift over 8-byte words: not cryptographic; it spreads keys cheaply, and the seed
 * keeps clients from predicting which keys collide. */
#ifndef SC_HASH_H
#define SC_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    return h ^ (h >> 32);
}

static inline uint64_t hash_key(uint64_t seed, const char *key, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    uint64_t word;
    while (n >= 8) {
        memcpy(&word, key, 8);
        h = (h ^ word) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
        key += 8;
        n -= 8;
    }
    word = 0;
    memcpy(&word, key, n);
    return hash_mix(h ^ word);
}

#endif

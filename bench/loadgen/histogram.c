/* histogram.c - the latency histogram: where a sample falls, and the percentiles read back.
 * The bucket layout (histogram.h) bounds the error, so recording stays one increment per reply. */
#include "histogram.h"

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (HIST_SUB_BITS - 1);
    return HIST_LINEAR + (unsigned)(shift - 1) * HIST_HALF + (unsigned)((v >> shift) - HIST_HALF);
}

/* Middle of the bucket, so reported values are unbiased within the bucket width. */
static uint64_t hist_bucket_value(unsigned idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    unsigned r = idx - HIST_LINEAR;
    unsigned shift = r / HIST_HALF + 1;
    uint64_t mantissa = r % HIST_HALF + HIST_HALF;
    return (mantissa << shift) + ((1ull << shift) >> 1);
}

void hist_add(struct histogram *h, uint64_t v)
{
    h->buckets[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t hist_percentile(const struct histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank)
            return hist_bucket_value(i) < h->max ? hist_bucket_value(i) : h->max;
    }
    return h->max;
}

/* histogram.h - the latency histogram: log-linear buckets (HdrHistogram style), exact below 128 ns,
 * then 64 buckets per power of two, i.e. under 1.6% error, in a fixed 30 KB no matter how many samples. */
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_LINEAR (1u << HIST_SUB_BITS)
#define HIST_HALF (HIST_LINEAR / 2)
#define HIST_BUCKETS (HIST_LINEAR + (64 - HIST_SUB_BITS) * HIST_HALF)

struct histogram {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
};

void hist_add(struct histogram *h, uint64_t v);
uint64_t hist_percentile(const struct histogram *h, double p);

#endif

/* latency: the bucket bounds and command labels of the per-command histograms (latency.h), and the
 * sums that fold every thread's histogram into one for /metrics. */
#include "latency.h"

const uint64_t latency_bounds_ns[LATENCY_NBOUNDS] = {
#define X(ns) ns,
    LATENCY_BOUNDS(X)
#undef X
};

const char *const latency_labels[LATENCY_NCOMMANDS] = {
#define X(id, label) label,
    LATENCY_COMMANDS(X)
#undef X
};

void latency_sum(latency_hist_t *to, const latency_hist_t *from)
{
    for (unsigned c = 0; c < LATENCY_NCOMMANDS; c++) {
        for (unsigned b = 0; b < LATENCY_NBUCKETS; b++)
            to->count[c][b] += __atomic_load_n(&from->count[c][b], __ATOMIC_RELAXED);
        to->sum_ns[c] += __atomic_load_n(&from->sum_ns[c], __ATOMIC_RELAXED);
    }
}

void latency_subtract(latency_hist_t *to, const latency_hist_t *base)
{
    for (unsigned c = 0; c < LATENCY_NCOMMANDS; c++) {
        for (unsigned b = 0; b < LATENCY_NBUCKETS; b++)
            to->count[c][b] -= base->count[c][b];
        to->sum_ns[c] -= base->sum_ns[c];
    }
}

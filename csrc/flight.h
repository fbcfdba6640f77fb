/* flight: single-flight leases for getOrSet — at most one thread computes a missing key at a
 * time; the others wait (bounded) for it to land, then read what it stored. Any thread. */
#ifndef SC_FLIGHT_H
#define SC_FLIGHT_H

#include <stddef.h>

typedef struct flight flight_t;

typedef enum flight_status {
    FLIGHT_OWNED,   /* the caller holds the key's lease: compute, store, then flight_end() */
    FLIGHT_LANDED,  /* another thread held it and has ended: look the key up again */
    FLIGHT_BUSY,    /* held elsewhere and not waited for (the caller is inside a compute of its own,
                     * or wait_ms ran out, or no memory): compute without the lease */
} flight_status_t;

flight_t *flight_create(void);
void flight_destroy(flight_t *f);

/* Takes the key's lease, or waits up to wait_ms for its holder to end. A thread that holds any
 * lease never waits: two computes that each look up the other's key cannot wait on each other. */
flight_status_t flight_begin(flight_t *f, const char *key, size_t nkey, unsigned wait_ms);
void flight_end(flight_t *f, const char *key, size_t nkey);

/* Leases held now, for tests. */
size_t flight_count(flight_t *f);

#endif

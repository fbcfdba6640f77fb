/* flight: the leases of keys being computed by getOrSet, a short list under one mutex (one entry
 * per computing thread and nesting level), and a condition variable that wakes their waiters. */
#include "flight.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lease {
    struct lease *next;
    size_t nkey;
    char key[];
} lease_t;

struct flight {
    pthread_mutex_t lock;
    pthread_cond_t landed;
    lease_t *leases;
    size_t count;
};

/* Leases this thread holds, on any store: while it computes it must never wait for another. */
static _Thread_local unsigned flight_held;

flight_t *flight_create(void)
{
    flight_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return NULL;
    }
    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&f->landed, &attr) != 0) {
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    pthread_condattr_destroy(&attr);
    return f;
}

void flight_destroy(flight_t *f)
{
    if (f == NULL)
        return;
    while (f->leases != NULL) {
        lease_t *next = f->leases->next;
        free(f->leases);
        f->leases = next;
    }
    pthread_cond_destroy(&f->landed);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static lease_t **_find(flight_t *f, const char *key, size_t nkey)
{
    for (lease_t **at = &f->leases; *at != NULL; at = &(*at)->next)
        if ((*at)->nkey == nkey && memcmp((*at)->key, key, nkey) == 0)
            return at;
    return NULL;
}

static void _deadline(struct timespec *ts, unsigned wait_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += wait_ms / 1000;
    ts->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

flight_status_t flight_begin(flight_t *f, const char *key, size_t nkey, unsigned wait_ms)
{
    pthread_mutex_lock(&f->lock);
    bool waited = false;
    struct timespec deadline;
    while (_find(f, key, nkey) != NULL) {
        if (flight_held > 0 || wait_ms == 0) {
            pthread_mutex_unlock(&f->lock);
            return FLIGHT_BUSY;
        }
        if (!waited)
            _deadline(&deadline, wait_ms);
        waited = true;
        if (pthread_cond_timedwait(&f->landed, &f->lock, &deadline) == ETIMEDOUT && _find(f, key, nkey) != NULL) {
            pthread_mutex_unlock(&f->lock);
            return FLIGHT_BUSY;
        }
    }
    if (waited) {
        pthread_mutex_unlock(&f->lock);
        return FLIGHT_LANDED;
    }
    lease_t *l = malloc(sizeof(*l) + nkey);
    if (l == NULL) {
        pthread_mutex_unlock(&f->lock);
        return FLIGHT_BUSY;
    }
    l->nkey = nkey;
    memcpy(l->key, key, nkey);
    l->next = f->leases;
    f->leases = l;
    f->count++;
    flight_held++;
    pthread_mutex_unlock(&f->lock);
    return FLIGHT_OWNED;
}

void flight_end(flight_t *f, const char *key, size_t nkey)
{
    pthread_mutex_lock(&f->lock);
    lease_t **at = _find(f, key, nkey);
    if (at != NULL) {
        lease_t *l = *at;
        *at = l->next;
        free(l);
        f->count--;
        flight_held--;
    }
    pthread_cond_broadcast(&f->landed);
    pthread_mutex_unlock(&f->lock);
}

size_t flight_count(flight_t *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

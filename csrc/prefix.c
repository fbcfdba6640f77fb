/* prefix: a chained hash of prefixes under one mutex, as memcached keeps them. The lock is taken
 * only while counting is on, which memcached's "stats detail on" documents as a debugging cost. */
#include "prefix.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define PREFIX_BUCKETS 256

typedef struct prefix_entry {
    struct prefix_entry *next;
    unsigned long long gets, hits, sets, deletes;
    size_t n;
    char name[];
} prefix_entry_t;

struct prefix_stats {
    pthread_mutex_t lock;
    bool on;
    size_t count;
    prefix_entry_t *buckets[PREFIX_BUCKETS];
};

prefix_stats_t *prefix_create(void)
{
    prefix_stats_t *p = calloc(1, sizeof(*p));
    if (p != NULL && pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void prefix_destroy(prefix_stats_t *p)
{
    if (p == NULL)
        return;
    for (size_t b = 0; b < PREFIX_BUCKETS; b++) {
        for (prefix_entry_t *e = p->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void prefix_enable(prefix_stats_t *p, bool on)
{
    __atomic_store_n(&p->on, on, __ATOMIC_RELAXED);
}

bool prefix_enabled(const prefix_stats_t *p)
{
    return __atomic_load_n(&p->on, __ATOMIC_RELAXED);
}

/* The entry of name[0..n), created if there is room; the caller holds the lock. */
static prefix_entry_t *_entry(prefix_stats_t *p, const char *name, size_t n)
{
    prefix_entry_t **head = &p->buckets[hash_key(0, name, n) % PREFIX_BUCKETS];
    for (prefix_entry_t *e = *head; e != NULL; e = e->next)
        if (e->n == n && memcmp(e->name, name, n) == 0)
            return e;
    if (p->count >= PREFIX_MAX)
        return NULL;
    prefix_entry_t *e = calloc(1, sizeof(*e) + n + 1);
    if (e == NULL)
        return NULL;
    memcpy(e->name, name, n);
    e->n = n;
    e->next = *head;
    *head = e;
    p->count++;
    return e;
}

void prefix_record(prefix_stats_t *p, const char *key, size_t nkey, prefix_op_t op, bool hit)
{
    if (!prefix_enabled(p))
        return;
    const char *delimiter = memchr(key, PREFIX_DELIMITER, nkey);
    if (delimiter == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    prefix_entry_t *e = _entry(p, key, (size_t)(delimiter - key));
    if (e != NULL) {
        if (op == PREFIX_GET) {
            e->gets++;
            e->hits += hit;
        } else if (op == PREFIX_SET) {
            e->sets++;
        } else {
            e->deletes++;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

int prefix_dump(prefix_stats_t *p, buf_t *out)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t b = 0; b < PREFIX_BUCKETS && rc == 0; b++) {
        for (prefix_entry_t *e = p->buckets[b]; e != NULL && rc == 0; e = e->next) {
            char counts[128];
            int n = snprintf(counts, sizeof(counts), " get %llu hit %llu set %llu del %llu\r\n", e->gets, e->hits,
                             e->sets, e->deletes);
            rc |= buf_append_lit(out, "PREFIX ");
            rc |= buf_append(out, e->name, e->n);
            rc |= buf_append(out, counts, n > 0 ? (size_t)n : 0);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc | buf_append_lit(out, "END\r\n");
}

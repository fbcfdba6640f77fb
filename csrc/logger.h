/* logger: memcached's "watch" log streams (fetchers, mutations, evictions, connevents) and the
 * -v/-vv lines on stderr. Any thread logs; a watcher's lines wait in its bounded buffer. */
#ifndef SC_LOGGER_H
#define SC_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

/* memcached's event flags (logger.h), the same bits. */
#define LOG_SYSEVENTS (1u << 1)
#define LOG_FETCHERS (1u << 2)
#define LOG_MUTATIONS (1u << 3)
#define LOG_CONNEVENTS (1u << 5)
#define LOG_EVICTIONS (1u << 6)
#define LOG_RAWCMDS (1u << 9)

#define LOGGER_WATCHER_LIMIT 20             /* memcached's WATCHER_LIMIT */
#define LOGGER_WATCHER_BUF (256 * 1024)     /* memcached's LOGGER_WATCHER_BUF_SIZE */
#define LOGGER_LINE_MAX 4096                /* memcached's parse scratch; also PIPE_BUF, so that one
                                             * write() of a stderr line is never interleaved */

/* memcached's log_* stats. A line is formatted once, by the thread that logs it, straight into
 * the watchers' buffers: there is no per-worker buffer to drop from, so "dropped" stays 0. */
typedef struct logger_stats {
    uint64_t worker_dropped, worker_written, watcher_skipped, watcher_sent, watchers;
} logger_stats_t;

/* One watching connection. Its lines are appended under the logger's lock by whichever thread
 * logs, and taken by the connection's own loop after wake() (called under that lock). */
typedef struct logger_watcher {
    struct logger *lg;
    unsigned flags;
    bool attached;              /* lines go to it only once its connection can be woken */
    uint64_t skipped;           /* lines lost since the last one sent, told as "skipped=N" */
    void (*wake)(void *arg);
    void *wake_arg;
    size_t len;                 /* bytes waiting in buf */
    char buf[LOGGER_WATCHER_BUF];
} logger_watcher_t;

typedef struct logger {
    pthread_mutex_t lock;       /* the watcher table and every watcher's buffer; held only while a
                                 * line is copied, and only when someone watches */
    unsigned flags;             /* the union of attached watchers' flags: relaxed atomic, any thread */
    logger_watcher_t *watchers[LOGGER_WATCHER_LIMIT];
    unsigned nwatchers;
    uint64_t gid;               /* memcached's global id of the last line, under lock */
    logger_stats_t totals;      /* under lock */
    logger_stats_t base;        /* totals at "stats reset" */
    int err_fd;                 /* where -v/-vv lines go: stderr reopened non-blocking, or 2; -1
                                 * until the first line */
    bool own_err_fd;
} logger_t;

int logger_init(logger_t *lg);
/* The counters since the last reset (watchers: attached now); any thread. */
void logger_stats(logger_t *lg, logger_stats_t *out);
void logger_stats_reset(logger_t *lg);
void logger_destroy(logger_t *lg);

/* The flags any attached watcher wants: the one relaxed load the data path pays when nobody
 * watches. */
static inline bool logger_wants(const logger_t *lg, unsigned flag)
{
    return (__atomic_load_n(&lg->flags, __ATOMIC_RELAXED) & flag) != 0;
}

/* "watch <streams...>": a new watcher wanting flags, or NULL when LOGGER_WATCHER_LIMIT watch
 * (*too_many set) or memory ran out. It gets no lines until logger_watcher_attach(). */
logger_watcher_t *logger_watcher_new(logger_t *lg, unsigned flags, bool *too_many);
/* Its connection can now be woken: wake(arg) is called (from any thread, under the logger's
 * lock) when lines arrive. */
void logger_watcher_attach(logger_watcher_t *w, void (*wake)(void *), void *arg);
/* No more lines, no more wakes (idempotent); then free it with logger_watcher_free. */
void logger_watcher_detach(logger_watcher_t *w);
void logger_watcher_free(logger_watcher_t *w);
/* Moves up to max waiting bytes (whole lines) into dst; returns how many. */
size_t logger_watcher_take(logger_watcher_t *w, char *dst, size_t max);

/* Sends one line (without its "\n") to every attached watcher wanting flag, prefixed with
 * memcached's "ts=<sec>.<usec> gid=<n> ". */
void logger_log(logger_t *lg, unsigned flag, const char *body, size_t n);

/* memcached's key rendering in log lines and key listings (metadump): URI-encoded, so that any
 * byte is safe. dst must hold 3 * n + 1 bytes (a NUL ends it); returns the length before it. */
size_t logger_uriencode(const char *key, size_t n, char *dst);

/* The item events, formatted as memcached's logger.c does. */
void logger_item_get(logger_t *lg, const char *key, size_t nkey, const char *status, unsigned clsid, int cfd,
                     size_t size);
void logger_item_store(logger_t *lg, const char *key, size_t nkey, const char *status, const char *cmd,
                       uint32_t ttl, unsigned clsid, int cfd, size_t size);
void logger_eviction(logger_t *lg, const char *key, size_t nkey, bool fetched, long long ttl, uint32_t la,
                     unsigned clsid, size_t size);
void logger_conn_event(logger_t *lg, bool is_new, const char *rip, unsigned rport, const char *reason, int cfd);

/* One -v/-vv line on stderr, one write(); dropped rather than waited for when stderr is full. */
void logger_stderr(logger_t *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

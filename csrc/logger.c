/* logger: formats memcached's watcher lines once and copies them into each wanting watcher's
 * bounded buffer; and writes -v/-vv lines to stderr, one write() each. */
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "store.h"

/* memcached wants this much room past a line before it takes it (bipbuf_request(len + 128)):
 * the room a "skipped=N" line may need. */
#define LOGGER_LINE_SLACK 128

int logger_init(logger_t *lg)
{
    memset(lg, 0, sizeof(*lg));
    if (pthread_mutex_init(&lg->lock, NULL) != 0)
        return -1;
    lg->err_fd = -1; /* opened by the first -v line (_err_fd) */
    return 0;
}

/* A descriptor of our own on stderr's file, so that O_NONBLOCK does not change Node's fd 2: a
 * stderr nobody drains then loses lines instead of stalling the loop that logs. Reopening gives a
 * new open file description for pipes and ttys; failing that, fd 2 as it is. Opened on first use,
 * so an engine that never logs holds no descriptor (a process may hold many engines). */
static int _err_fd(logger_t *lg)
{
    int fd = __atomic_load_n(&lg->err_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        return fd;
    pthread_mutex_lock(&lg->lock);
    if (lg->err_fd < 0) {
        int own = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
        lg->own_err_fd = own >= 0;
        __atomic_store_n(&lg->err_fd, own >= 0 ? own : 2, __ATOMIC_RELEASE);
    }
    fd = lg->err_fd;
    pthread_mutex_unlock(&lg->lock);
    return fd;
}

void logger_destroy(logger_t *lg)
{
    for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++) {
        free(lg->watchers[i]);
        lg->watchers[i] = NULL;
    }
    if (lg->own_err_fd)
        close(lg->err_fd);
    pthread_mutex_destroy(&lg->lock);
}

void logger_stats(logger_t *lg, logger_stats_t *out)
{
    pthread_mutex_lock(&lg->lock);
    *out = lg->totals;
    out->worker_dropped -= lg->base.worker_dropped;
    out->worker_written -= lg->base.worker_written;
    out->watcher_skipped -= lg->base.watcher_skipped;
    out->watcher_sent -= lg->base.watcher_sent;
    out->watchers = 0;
    for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++)
        if (lg->watchers[i] && lg->watchers[i]->attached)
            out->watchers++;
    pthread_mutex_unlock(&lg->lock);
}

void logger_stats_reset(logger_t *lg)
{
    pthread_mutex_lock(&lg->lock);
    lg->base = lg->totals;
    pthread_mutex_unlock(&lg->lock);
}

/* Under lock. */
static void _update_flags(logger_t *lg)
{
    unsigned f = 0;
    for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++)
        if (lg->watchers[i] && lg->watchers[i]->attached)
            f |= lg->watchers[i]->flags;
    __atomic_store_n(&lg->flags, f, __ATOMIC_RELAXED);
}

logger_watcher_t *logger_watcher_new(logger_t *lg, unsigned flags, bool *too_many)
{
    *too_many = false;
    logger_watcher_t *w = NULL;
    pthread_mutex_lock(&lg->lock);
    if (lg->nwatchers >= LOGGER_WATCHER_LIMIT) {
        *too_many = true;
    } else if ((w = malloc(sizeof(*w))) != NULL) {
        memset(w, 0, offsetof(logger_watcher_t, buf));
        w->lg = lg;
        w->flags = flags;
        for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++) {
            if (lg->watchers[i] == NULL) {
                lg->watchers[i] = w;
                break;
            }
        }
        lg->nwatchers++;
    }
    pthread_mutex_unlock(&lg->lock);
    return w;
}

void logger_watcher_attach(logger_watcher_t *w, void (*wake)(void *), void *arg)
{
    logger_t *lg = w->lg;
    pthread_mutex_lock(&lg->lock);
    w->wake = wake;
    w->wake_arg = arg;
    w->attached = true;
    _update_flags(lg);
    pthread_mutex_unlock(&lg->lock);
}

void logger_watcher_detach(logger_watcher_t *w)
{
    logger_t *lg = w->lg;
    pthread_mutex_lock(&lg->lock);
    w->attached = false;
    w->wake = NULL;
    _update_flags(lg);
    pthread_mutex_unlock(&lg->lock);
}

void logger_watcher_free(logger_watcher_t *w)
{
    if (w == NULL)
        return;
    logger_t *lg = w->lg;
    pthread_mutex_lock(&lg->lock);
    w->attached = false;
    for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++) {
        if (lg->watchers[i] == w) {
            lg->watchers[i] = NULL;
            lg->nwatchers--;
        }
    }
    _update_flags(lg);
    pthread_mutex_unlock(&lg->lock);
    free(w);
}

size_t logger_watcher_take(logger_watcher_t *w, char *dst, size_t max)
{
    logger_t *lg = w->lg;
    pthread_mutex_lock(&lg->lock);
    size_t n = w->len < max ? w->len : max;
    memcpy(dst, w->buf, n);
    /* Usually the whole buffer goes; a remainder (the reader's room ran out) moves to the front. */
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
    pthread_mutex_unlock(&lg->lock);
    return n;
}

/* Under lock: the line, after a "skipped=N" line if some were lost, or one more lost. */
static void _offer(logger_t *lg, logger_watcher_t *w, const char *line, size_t n)
{
    if (LOGGER_WATCHER_BUF - w->len < n + LOGGER_LINE_SLACK) {
        w->skipped++;
        lg->totals.watcher_skipped++;
        return;
    }
    if (w->skipped > 0) {
        int m = snprintf(w->buf + w->len, LOGGER_LINE_SLACK, "skipped=%llu\n", (unsigned long long)w->skipped);
        if (m > 0 && m < LOGGER_LINE_SLACK)
            w->len += (size_t)m;
        w->skipped = 0;
    }
    memcpy(w->buf + w->len, line, n);
    w->len += n;
    lg->totals.watcher_sent++;
    if (w->wake)
        w->wake(w->wake_arg);
}

void logger_log(logger_t *lg, unsigned flag, const char *body, size_t n)
{
    char line[LOGGER_LINE_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    pthread_mutex_lock(&lg->lock);
    uint64_t gid = ++lg->gid;
    int head = snprintf(line, sizeof(line), "ts=%lld.%d gid=%llu ", (long long)tv.tv_sec, (int)tv.tv_usec,
                        (unsigned long long)gid);
    /* A line that does not fit is dropped whole, as memcached drops one it cannot flatten. */
    if (head > 0 && (size_t)head + n + 1 <= sizeof(line)) {
        memcpy(line + head, body, n);
        line[(size_t)head + n] = '\n';
        size_t len = (size_t)head + n + 1;
        lg->totals.worker_written++;
        for (unsigned i = 0; i < LOGGER_WATCHER_LIMIT; i++) {
            logger_watcher_t *w = lg->watchers[i];
            if (w && w->attached && (w->flags & flag))
                _offer(lg, w, line, len);
        }
    }
    pthread_mutex_unlock(&lg->lock);
}

size_t logger_uriencode(const char *key, size_t n, char *dst)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        /* RFC 3986's unreserved characters pass, as in memcached's uriencode table. */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    dst[o] = '\0';
    return o;
}

/* "type=<type> key=<uri-encoded key> " and then the rest, as memcached's item lines begin. */
static void _log_item(logger_t *lg, unsigned flag, const char *type, const char *key, size_t nkey, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void _log_item(logger_t *lg, unsigned flag, const char *type, const char *key, size_t nkey, const char *fmt, ...)
{
    char k[3 * STORE_KEY_MAX + 1], body[3 * STORE_KEY_MAX + 160];
    logger_uriencode(key, nkey < STORE_KEY_MAX ? nkey : STORE_KEY_MAX, k);
    int head = snprintf(body, sizeof(body), "type=%s key=%s ", type, k);
    if (head <= 0 || (size_t)head >= sizeof(body))
        return;
    va_list ap;
    va_start(ap, fmt);
    int rest = vsnprintf(body + head, sizeof(body) - (size_t)head, fmt, ap);
    va_end(ap);
    if (rest > 0 && (size_t)rest < sizeof(body) - (size_t)head)
        logger_log(lg, flag, body, (size_t)head + (size_t)rest);
}

void logger_item_get(logger_t *lg, const char *key, size_t nkey, const char *status, unsigned clsid, int cfd,
                     size_t size)
{
    _log_item(lg, LOG_FETCHERS, "item_get", key, nkey, "status=%s clsid=%u cfd=%d size=%zu", status, clsid, cfd, size);
}

void logger_item_store(logger_t *lg, const char *key, size_t nkey, const char *status, const char *cmd,
                       uint32_t ttl, unsigned clsid, int cfd, size_t size)
{
    _log_item(lg, LOG_MUTATIONS, "item_store", key, nkey, "status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%zu", status,
              cmd, ttl, clsid, cfd, size);
}

void logger_eviction(logger_t *lg, const char *key, size_t nkey, bool fetched, long long ttl, uint32_t la,
                     unsigned clsid, size_t size)
{
    _log_item(lg, LOG_EVICTIONS, "eviction", key, nkey, "fetch=%s ttl=%lld la=%d clsid=%u size=%zu",
              fetched ? "yes" : "no", ttl, (int)la, clsid, size);
}

void logger_conn_event(logger_t *lg, bool is_new, const char *rip, unsigned rport, const char *reason, int cfd)
{
    char body[256];
    int n = is_new ? snprintf(body, sizeof(body), "type=conn_new rip=%s rport=%u transport=tcp cfd=%d", rip, rport, cfd)
                   : snprintf(body, sizeof(body), "type=conn_close rip=%s rport=%u transport=tcp reason=%s cfd=%d",
                              rip, rport, reason, cfd);
    if (n > 0 && (size_t)n < sizeof(body))
        logger_log(lg, LOG_CONNEVENTS, body, (size_t)n);
}

void logger_stderr(logger_t *lg, const char *fmt, ...)
{
    char line[LOGGER_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* A longer line is cut, to stay one atomic write. */
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w;
    do {
        w = write(_err_fd(lg), line, len);
    } while (w < 0 && errno == EINTR);
}

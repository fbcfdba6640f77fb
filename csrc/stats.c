/* stats: collects memcached's stats groups from the engine, the store and the process, as pairs
 * with memcached 1.6.18's names in its order. What has no counterpart here reads as docs/stats.md says. */
#include "stats.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "served.h"

/* Where a report goes, and the first failure of its emit (later pairs are then skipped). */
typedef struct stats_out {
    stats_emit_t emit;
    void *ctx;
    int rc;
} stats_out_t;

static void _stat(stats_out_t *out, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void _stat(stats_out_t *out, const char *name, const char *fmt, ...)
{
    if (out->rc != 0)
        return;
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0)
        value[0] = '\0';
    out->rc = out->emit(out->ctx, name, value);
}

static void _u64(stats_out_t *out, const char *name, uint64_t value)
{
    _stat(out, name, "%llu", (unsigned long long)value);
}

static void _str(stats_out_t *out, const char *name, const char *value)
{
    _stat(out, name, "%s", value);
}

/* A per-class pair: "<prefix><class>:<name>", classes numbered from 1 as memcached numbers them. */
static void _class_u64(stats_out_t *out, const char *prefix, unsigned cls, const char *name, uint64_t value)
{
    char full[64];
    snprintf(full, sizeof(full), "%s%u:%s", prefix, cls + 1, name);
    _u64(out, full, value);
}

static unsigned _log2(uint64_t n)
{
    unsigned power = 0;
    while (n > 1) {
        n >>= 1;
        power++;
    }
    return power;
}

/* Every class's counters summed, big items included: the totals memcached keeps per item class. */
static void _class_totals(engine_t *e, store_class_stats_t *total)
{
    memset(total, 0, sizeof(*total));
    for (unsigned cls = 0; cls < cache_classes(e->cache); cls++) {
        store_class_stats_t cs;
        cache_get_class_counters(e->cache, cls, &cs);
#define X(name) total->name += cs.name;
        STORE_CLASS_COUNTERS(X)
#undef X
    }
}

/* After memcached's names, for a server with a restart file only: what it loaded at start and
 * how its saves go (names of our own; docs/stats.md). */
static void _snapshots(engine_t *e, stats_out_t *out)
{
    pthread_mutex_lock(&e->stats_lock);
    engine_snapshots_t s = e->snapshots;
    pthread_mutex_unlock(&e->stats_lock);
    if (!s.shown)
        return;
    _u64(out, "restart_loaded_items", s.loaded);
    _u64(out, "restart_expired_items", s.expired);
    _u64(out, "restart_dropped_items", s.dropped);
    _stat(out, "restart_load_seconds", "%.6f", s.load_seconds);
    _u64(out, "snapshot_saves", s.saves);
    _u64(out, "snapshot_failures", s.failures);
    _u64(out, "snapshot_last_items", s.last_items);
    _u64(out, "snapshot_last_bytes", s.last_bytes);
    _stat(out, "snapshot_last_seconds", "%.6f", s.last_seconds);
    _stat(out, "snapshot_age", "%lld", s.last_at == 0 ? -1LL : (long long)(time(NULL) - s.last_at));
}

static void _general(engine_t *e, stats_out_t *out)
{
    engine_stats_t st;
    engine_stats_sum(e, &st);
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    store_class_stats_t cls;
    _class_totals(e, &cls);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    _stat(out, "pid", "%ld", (long)getpid());
    _u64(out, "uptime", engine_uptime(e));
    _stat(out, "time", "%lld", (long long)time(NULL));
    _str(out, "version", ENGINE_VERSION);
    /* Which server answers: "version" is the memcached protocol's, as clients expect. */
    _str(out, "simplecached_version", SIMPLECACHED_VERSION);
    _str(out, "libevent", e->served.event_library[0] ? e->served.event_library : "none");
    _stat(out, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    _stat(out, "rusage_user", "%ld.%06ld", (long)usage.ru_utime.tv_sec, (long)usage.ru_utime.tv_usec);
    _stat(out, "rusage_system", "%ld.%06ld", (long)usage.ru_stime.tv_sec, (long)usage.ru_stime.tv_usec);
    _u64(out, "max_connections", e->served.max_connections);
    _u64(out, "curr_connections", st.curr_connections);
    _u64(out, "total_connections", st.total_connections);
    _u64(out, "rejected_connections", st.rejected_connections);
    _u64(out, "connection_structures", st.curr_connections);
    /* memcached's response objects and read buffers: a connection here holds neither while idle. */
    static const char *const pooled[] = {"response_obj_oom", "response_obj_count", "response_obj_bytes", "read_buf_count",
                                         "read_buf_bytes", "read_buf_bytes_free", "read_buf_oom", "reserved_fds"};
    for (size_t i = 0; i < sizeof(pooled) / sizeof(pooled[0]); i++)
        _u64(out, pooled[i], 0);
    _u64(out, "cmd_get", st.cmd_get);
    _u64(out, "cmd_set", st.cmd_set);
    _u64(out, "cmd_flush", st.cmd_flush);
    _u64(out, "cmd_touch", st.cmd_touch);
    _u64(out, "cmd_meta", st.cmd_meta);
    _u64(out, "get_hits", st.get_hits);
    _u64(out, "get_misses", st.get_misses);
    _u64(out, "get_expired", ss.get_expired);
    _u64(out, "get_flushed", ss.get_flushed);
#define X(name) _u64(out, #name, st.name);
    X(delete_misses) X(delete_hits) X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits)
    X(cas_misses) X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses)
    X(store_too_large) X(store_no_memory) X(auth_cmds) X(auth_errors)
#undef X
    if (e->served.idle_timeout > 0)
        _u64(out, "idle_kicks", st.idle_kicks);
    _u64(out, "bytes_read", st.bytes_read);
    _u64(out, "bytes_written", st.bytes_written);
    _u64(out, "limit_maxbytes", cache_memory_limit(e->cache));
    _u64(out, "accepting_conns", 1);
    _u64(out, "listen_disabled_num", 0);
    _u64(out, "time_in_listen_disabled_us", 0);
    _u64(out, "threads", e->served.threads ? e->served.threads : 1);
    _u64(out, "conn_yields", st.conn_yields);
    _u64(out, "hash_power_level", _log2(ss.expanding ? ss.buckets / 3 : ss.buckets));
    _u64(out, "hash_bytes", ss.buckets * sizeof(void *));
    _u64(out, "hash_is_expanding", ss.expanding ? 1 : 0);
    /* Pages change class by themselves here (an emptied page serves whichever class needs one):
     * no mover runs; slabs_moved counts pages emptied by "slabs reassign". */
    static const char *const mover[] = {"slab_reassign_rescues", "slab_reassign_chunk_rescues", "slab_reassign_evictions_nomem",
                                        "slab_reassign_inline_reclaim", "slab_reassign_busy_items", "slab_reassign_busy_deletes",
                                        "slab_reassign_running"};
    for (size_t i = 0; i < sizeof(mover) / sizeof(mover[0]); i++)
        _u64(out, mover[i], 0);
    _u64(out, "slabs_moved", ss.slabs_moved);
    _u64(out, "lru_crawler_running", 0);
    _u64(out, "lru_crawler_starts", ss.sweeps);
    _u64(out, "lru_maintainer_juggles", 0);
    _u64(out, "malloc_fails", ss.malloc_fails);
    logger_stats_t ls;
    logger_stats(&e->logger, &ls);
    _u64(out, "log_worker_dropped", ls.worker_dropped);
    _u64(out, "log_worker_written", ls.worker_written);
    _u64(out, "log_watcher_skipped", ls.watcher_skipped);
    _u64(out, "log_watcher_sent", ls.watcher_sent);
    _u64(out, "log_watchers", ls.watchers);
    _u64(out, "unexpected_napi_ids", 0);
    _u64(out, "round_robin_fallback", 0);
    _u64(out, "bytes", ss.bytes);
    _u64(out, "curr_items", ss.items);
    _u64(out, "total_items", ss.total_items);
    _u64(out, "slab_global_page_pool", ss.spare_pages);
    _u64(out, "expired_unfetched", cls.expired_unfetched);
    _u64(out, "evicted_unfetched", cls.evicted_unfetched);
    _u64(out, "evicted_active", cls.evicted_active);
    _u64(out, "evictions", ss.evictions);
    _u64(out, "reclaimed", ss.reclaimed);
    _u64(out, "crawler_reclaimed", cls.crawler_reclaimed);
    _u64(out, "crawler_items_checked", cls.crawler_items_checked);
    _u64(out, "lrutail_reflocked", ss.passed_referenced);
    _u64(out, "moves_to_cold", 0);
    _u64(out, "moves_to_warm", cls.moves_to_warm);
    _u64(out, "moves_within_lru", 0);
    _u64(out, "direct_reclaims", ss.direct_reclaims);
    _u64(out, "lru_bumps_dropped", 0);
    _snapshots(e, out);
}

/* memcached's 76 settings in its order: ours where one exists, else the value that says "not
 * here" (no, 0, NULL), so that tools which read them all find every name. */
static void _settings(engine_t *e, stats_out_t *out)
{
    const engine_served_t *sv = &e->served;
    unsigned threads = sv->threads ? sv->threads : 1;
    _u64(out, "maxbytes", cache_memory_limit(e->cache));
    _u64(out, "maxconns", sv->max_connections);
    _u64(out, "tcpport", sv->tcp_port);
    _u64(out, "udpport", 0);
    _str(out, "inter", sv->interface[0] ? sv->interface : "NULL");
    _u64(out, "verbosity", __atomic_load_n(&e->verbosity, __ATOMIC_RELAXED));
    _u64(out, "oldest", 0);
    _str(out, "evictions", cache_evictions(e->cache) ? "on" : "off");
    _str(out, "domain_socket", sv->domain_socket[0] ? sv->domain_socket : "NULL");
    _stat(out, "umask", "%o", sv->domain_socket[0] ? sv->unix_mask : 0700u);
    _str(out, "shutdown_command", e->shutdown_enabled ? "yes" : "no");
    _str(out, "growth_factor", "1.12");
    _u64(out, "chunk_size", SLAB_BLOCK_MIN);
    _u64(out, "num_threads", threads);
    _u64(out, "num_threads_per_udp", threads);
    _str(out, "stat_key_prefix", ":");
    _str(out, "detail_enabled", prefix_enabled(e->prefixes) ? "yes" : "no");
    _u64(out, "reqs_per_event", 0);
    _str(out, "cas_enabled", "yes");
    _u64(out, "tcp_backlog", sv->tcp_backlog);
    _str(out, "binding_protocol", "auto-negotiate");
    _str(out, "auth_enabled_sasl", e->sasl ? "yes" : "no");
    _str(out, "auth_enabled_ascii", e->auth ? "yes" : "no");
    _u64(out, "item_size_max", cache_max_item_size(e->cache));
    _str(out, "maxconns_fast", "yes");
    _u64(out, "hashpower_init", 0);
    _str(out, "slab_reassign", "yes");
    _u64(out, "slab_automove", __atomic_load_n(&e->slab_automove, __ATOMIC_RELAXED));
    _str(out, "slab_automove_ratio", "0.00");
    _u64(out, "slab_automove_window", 0);
    _u64(out, "slab_chunk_max", SLAB_PAGE_MAX / 4);
    _str(out, "lru_crawler", __atomic_load_n(&e->crawler.off, __ATOMIC_RELAXED) ? "no" : "yes");
    _u64(out, "lru_crawler_sleep", __atomic_load_n(&e->crawler.sleep, __ATOMIC_RELAXED));
    _u64(out, "lru_crawler_tocrawl", __atomic_load_n(&e->crawler.tocrawl, __ATOMIC_RELAXED));
    _u64(out, "tail_repair_time", 0);
    _str(out, "flush_enabled", e->flush_disabled ? "no" : "yes");
    _str(out, "dump_enabled", "yes");
    _str(out, "hash_algorithm", "multiply-xorshift");
    _str(out, "lru_maintainer_thread", "no");
    /* As "lru" last set them: the one CLOCK per class has no segments they would tune. */
    double hot_factor, warm_factor;
    __atomic_load(&e->lru.hot_max_factor, &hot_factor, __ATOMIC_RELAXED);
    __atomic_load(&e->lru.warm_max_factor, &warm_factor, __ATOMIC_RELAXED);
    _str(out, "lru_segmented", __atomic_load_n(&e->lru.segmented, __ATOMIC_RELAXED) ? "yes" : "no");
    _u64(out, "hot_lru_pct", __atomic_load_n(&e->lru.hot_pct, __ATOMIC_RELAXED));
    _u64(out, "warm_lru_pct", __atomic_load_n(&e->lru.warm_pct, __ATOMIC_RELAXED));
    _stat(out, "hot_max_factor", "%.2f", hot_factor);
    _stat(out, "warm_max_factor", "%.2f", warm_factor);
    _str(out, "temp_lru", __atomic_load_n(&e->lru.temp_lru, __ATOMIC_RELAXED) ? "yes" : "no");
    _stat(out, "temporary_ttl", "%d", (int)__atomic_load_n(&e->lru.temporary_ttl, __ATOMIC_RELAXED));
    _u64(out, "idle_timeout", sv->idle_timeout);
    _u64(out, "watcher_logbuf_size", 0);
    _u64(out, "worker_logbuf_size", 0);
    _u64(out, "read_buf_mem_limit", 0);
    _str(out, "track_sizes", "no");
    _str(out, "inline_ascii_response", "no");
    static const char *const ext[] = {"ext_item_size", "ext_item_age", "ext_low_ttl", "ext_recache_rate", "ext_wbuf_size",
                                      "ext_compact_under", "ext_drop_under", "ext_max_sleep"};
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        _u64(out, ext[i], 0);
    _str(out, "ext_max_frag", "0.00");
    _str(out, "slab_automove_freeratio", "0.000");
    _str(out, "ext_drop_unread", "no");
    _str(out, "ssl_enabled", "no");
    _str(out, "ssl_chain_cert", "(null)");
    _str(out, "ssl_key", "(null)");
    _u64(out, "ssl_verify_mode", 0);
    _u64(out, "ssl_keyformat", 0);
    _str(out, "ssl_ciphers", "NULL");
    _str(out, "ssl_ca_cert", "NULL");
    _u64(out, "ssl_wbuf_size", 0);
    _str(out, "ssl_session_cache", "no");
    _str(out, "ssl_kernel_tls", "no");
    _str(out, "ssl_min_version", "NULL");
    _str(out, "num_napi_ids", "(null)");
    _str(out, "memory_file", "(null)");
}

/* Per class with items, as memcached lists them. One clock stands for memcached's segmented LRU:
 * every item is "cold" and every hit lands there; memcached's hot and warm segments stay empty. */
static void _items(engine_t *e, stats_out_t *out)
{
    for (unsigned cls = 0; cls < cache_classes(e->cache); cls++) {
        slab_class_stats_t sc;
        cache_get_class_stats(e->cache, cls, &sc);
        if (sc.used == 0)
            continue;
        store_class_stats_t cs;
        cache_get_class_counters(e->cache, cls, &cs);
        const char *p = "items:";
        _class_u64(out, p, cls, "number", sc.used);
        _class_u64(out, p, cls, "number_hot", 0);
        _class_u64(out, p, cls, "number_warm", 0);
        _class_u64(out, p, cls, "number_cold", sc.used);
        _class_u64(out, p, cls, "age_hot", 0);
        _class_u64(out, p, cls, "age_warm", 0);
        _class_u64(out, p, cls, "age", cs.age);
        _class_u64(out, p, cls, "mem_requested", cs.mem_requested);
        _class_u64(out, p, cls, "evicted", cs.evicted);
        _class_u64(out, p, cls, "evicted_nonzero", cs.evicted_nonzero);
        _class_u64(out, p, cls, "evicted_time", cs.evicted_time);
        _class_u64(out, p, cls, "outofmemory", cs.outofmemory);
        _class_u64(out, p, cls, "tailrepairs", 0);
        _class_u64(out, p, cls, "reclaimed", cs.reclaimed);
        _class_u64(out, p, cls, "expired_unfetched", cs.expired_unfetched);
        _class_u64(out, p, cls, "evicted_unfetched", cs.evicted_unfetched);
        _class_u64(out, p, cls, "evicted_active", cs.evicted_active);
        _class_u64(out, p, cls, "crawler_reclaimed", cs.crawler_reclaimed);
        _class_u64(out, p, cls, "crawler_items_checked", cs.crawler_items_checked);
        _class_u64(out, p, cls, "lrutail_reflocked", 0);
        _class_u64(out, p, cls, "moves_to_cold", 0);
        _class_u64(out, p, cls, "moves_to_warm", cs.moves_to_warm);
        _class_u64(out, p, cls, "moves_within_lru", 0);
        _class_u64(out, p, cls, "direct_reclaims", 0);
        _class_u64(out, p, cls, "hits_to_hot", 0);
        _class_u64(out, p, cls, "hits_to_warm", 0);
        _class_u64(out, p, cls, "hits_to_cold", cs.get_hits + cs.touch_hits);
        _class_u64(out, p, cls, "hits_to_temp", 0);
    }
}

/* memcached's layout: per class with pages, then totals. total_malloced is what the memory limit
 * counts: pages in use plus items too big for a class (whose operations count only in "stats"). */
static void _slabs(engine_t *e, stats_out_t *out)
{
    store_stats_t ss;
    cache_get_stats(e->cache, &ss);
    unsigned active = 0;
    for (unsigned cls = 0; cls < cache_classes(e->cache); cls++) {
        slab_class_stats_t sc;
        cache_get_class_stats(e->cache, cls, &sc);
        if (sc.pages == 0)
            continue;
        active++;
        store_class_stats_t cs;
        cache_get_class_counters(e->cache, cls, &cs);
        _class_u64(out, "", cls, "chunk_size", sc.block_size);
        _class_u64(out, "", cls, "chunks_per_page", sc.per_page);
        _class_u64(out, "", cls, "total_pages", sc.pages);
        _class_u64(out, "", cls, "total_chunks", sc.pages * sc.per_page);
        _class_u64(out, "", cls, "used_chunks", sc.used);
        _class_u64(out, "", cls, "free_chunks", sc.pages * sc.per_page - sc.used);
        _class_u64(out, "", cls, "free_chunks_end", 0);
#define X(name) _class_u64(out, "", cls, #name, cs.name);
        X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) X(cas_hits) X(cas_badval) X(touch_hits)
#undef X
    }
    _u64(out, "active_slabs", active);
    _u64(out, "total_malloced", ss.malloced);
}

/* memcached keeps no histogram of item sizes unless started with -o track_sizes; neither do we. */
static void _sizes(engine_t *e, stats_out_t *out)
{
    (void)e;
    _str(out, "sizes_status", "disabled");
}

/* A numeric IP or a Unix socket's path (sun_path's size). */
#define STATS_ADDRESS_MAX 108

/* memcached's "tcp:1.2.3.4:11211", "tcp6:[::1]:11211" or "unix:/path"; false for a socket already
 * closed. A Unix-socket client has no address, which memcached shows as "?:<AF 0>". */
static bool _address(int fd, bool peer, char *text, size_t size)
{
    char ip[STATS_ADDRESS_MAX];
    unsigned port;
    int family;
    if (!served_address(fd, peer, ip, sizeof(ip), &port, &family))
        return false;
    if (family == AF_INET6)
        snprintf(text, size, "tcp6:[%s]:%u", ip, port);
    else if (family == AF_INET)
        snprintf(text, size, "tcp:%s:%u", ip, port);
    else if (family == AF_UNIX && ip[0] != '\0')
        snprintf(text, size, "unix:%s", ip);
    else if (family == AF_UNIX)
        snprintf(text, size, "?:<AF 0>");
    else
        snprintf(text, size, "<AF %d>", family);
    return true;
}

/* memcached reads a listener's address into a struct sockaddr_in6, which holds the first 26 bytes
 * of a Unix socket's path: its "stats conns" shows that much of it, and so does this. */
static void _listener_path_as_memcached(char *addr)
{
    const size_t shown = sizeof(struct sockaddr_in6) - offsetof(struct sockaddr_un, sun_path);
    if (strncmp(addr, "unix:", 5) == 0 && strlen(addr + 5) > shown)
        addr[5 + shown] = '\0';
}

/* "stats conns": per socket by fd, as memcached lists them. The sockets are taken in slices of
 * STATS_CONNS_SLICE under the servers' locks (a bounded copy, no allocation there); addresses are
 * read after, so a socket closed in between is left out, as memcached leaves out closed ones. */
#define STATS_CONNS_SLICE 256

static void _conns(engine_t *e, stats_out_t *out)
{
    served_socket_t slice[STATS_CONNS_SLICE];
    int after = -1;
    unsigned n;
    do {
        n = served_list(e, after, slice, STATS_CONNS_SLICE);
        uint32_t now = cache_clock(e->cache);
        for (unsigned i = 0; i < n && out->rc == 0; i++) {
            const served_socket_t *sk = &slice[i];
            char name[32], addr[STATS_ADDRESS_MAX + 16], local[STATS_ADDRESS_MAX + 16];
            if (!_address(sk->fd, !sk->listening, addr, sizeof(addr)) ||
                (!sk->listening && !_address(sk->fd, false, local, sizeof(local))))
                continue;
            if (sk->listening)
                _listener_path_as_memcached(addr);
            snprintf(name, sizeof(name), "%d:addr", sk->fd);
            _str(out, name, addr);
            if (!sk->listening) {
                snprintf(name, sizeof(name), "%d:listen_addr", sk->fd);
                _str(out, name, local);
            }
            snprintf(name, sizeof(name), "%d:state", sk->fd);
            _str(out, name, served_state_name(sk->state));
            snprintf(name, sizeof(name), "%d:secs_since_last_cmd", sk->fd);
            _stat(out, name, "%d", (int)(now - sk->last_cmd));
        }
        if (n > 0)
            after = slice[n - 1].fd;
    } while (n == STATS_CONNS_SLICE && out->rc == 0);
}

int stats_report(engine_t *e, const char *group, size_t ngroup, stats_emit_t emit, void *ctx)
{
    static const struct {
        const char *name;
        void (*report)(engine_t *, stats_out_t *);
    } groups[] = {{"", _general}, {"settings", _settings}, {"items", _items}, {"slabs", _slabs}, {"sizes", _sizes},
                  {"conns", _conns}};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strlen(groups[i].name) == ngroup && memcmp(groups[i].name, group, ngroup) == 0) {
            stats_out_t out = {emit, ctx, 0};
            groups[i].report(e, &out);
            return out.rc;
        }
    }
    return 1;
}

/* proto_text_watch: the text protocol's "watch" command, the watcher lines its commands log as
 * memcached 1.6.18's do_item_get/do_store_item do, and its -vv lines ("<fd cmd", ">fd reply"). */
#include "proto_text_cmd.h"

#include "cache.h"
#include "logger.h"

#include <string.h>

void text_watch(cmd_t *c)
{
    static const struct { const char *name; unsigned flag; } streams[] = {
        {"rawcmds", LOG_RAWCMDS},     {"evictions", LOG_EVICTIONS},   {"fetchers", LOG_FETCHERS},
        {"mutations", LOG_MUTATIONS}, {"sysevents", LOG_SYSEVENTS},   {"connevents", LOG_CONNEVENTS},
        /* Accepted as memcached accepts them; no proxy here, so they never carry a line. */
        {"proxyreqs", 1u << 10},      {"proxyevents", 1u << 11},      {"proxyuser", 1u << 12},
    };
    session_t *s = c->s;
    /* memcached checks for a trailing noreply first: it silences only the refusals. */
    if (text_token_is(&c->t[c->nt - 2], "noreply"))
        c->noreply = true;
    unsigned flags = 0;
    if (c->nt > 2) {
        for (size_t x = 1; x < c->nt - 1; x++) {
            size_t i = 0;
            while (i < sizeof(streams) / sizeof(streams[0]) && !text_token_is(&c->t[x], streams[i].name))
                i++;
            if (i == sizeof(streams) / sizeof(streams[0])) {
                REPLY(c, "ERROR");
                return;
            }
            flags |= streams[i].flag;
        }
    } else {
        flags = LOG_FETCHERS;
    }
    bool too_many = false;
    /* Only a socket can stream: an in-process or TLS-fed session has none to hand over. */
    logger_watcher_t *w = s->fd >= 0 ? logger_watcher_new(&s->engine->logger, flags, &too_many) : NULL;
    if (w == NULL) {
        if (too_many)
            REPLY(c, "WATCHER_TOO_MANY log watcher limit reached");
        else
            REPLY(c, "WATCHER_FAILED failed to add log watcher");
        return;
    }
    c->noreply = false;
    REPLY(c, "OK");
    s->proto.text.watcher = w;
    s->state = SESSION_WATCH;
}

void text_watch_end(session_t *s)
{
    if (s->state == SESSION_WATCH) {
        logger_watcher_free(s->proto.text.watcher);
        s->proto.text.watcher = NULL;
    }
}

/* memcached's size field is the value without its "\r\n". */
void text_log_lookup(session_t *s, const char *key, size_t nkey)
{
    item_t *it = cache_get(s->engine->cache, key, nkey);
    text_log_get(s, key, nkey, it);
    if (it)
        cache_release(s->engine->cache, it);
}

void text_log_get(session_t *s, const char *key, size_t nkey, const item_t *it)
{
    unsigned clsid = it ? cache_class_id(s->engine->cache, it->nkey, item_flags(it), it->nvalue) : 0;
    logger_item_get(&s->engine->logger, key, nkey, it ? "found" : "not_found", clsid, s->fd, it ? it->nvalue : 0);
}

void text_log_store(session_t *s, const store_write_t *w, store_status_t st)
{
    static const char *const cmds[] = {
        [STORE_MODE_SET] = "set",         [STORE_MODE_ADD] = "add",         [STORE_MODE_REPLACE] = "replace",
        [STORE_MODE_APPEND] = "append",   [STORE_MODE_PREPEND] = "prepend", [STORE_MODE_CAS] = "cas",
    };
    const char *status;
    switch (st) {
    case STORE_OK: status = "stored"; break;
    case STORE_EXISTS: status = "exists"; break;
    case STORE_NOT_FOUND: status = "not_found"; break;
    case STORE_TOO_LARGE: status = "too_large"; break;
    case STORE_NO_MEMORY: status = "no_memory"; break;
    default: status = "not_stored"; break;
    }
    uint32_t now = cache_clock(s->engine->cache);
    uint32_t exptime = w->exptime;
    size_t size = w->nvalue;
    uint32_t flags = w->flags;
    /* A stored append or prepend logs the joined item, which keeps the old one's expiry. */
    if (st == STORE_OK && (w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND)) {
        item_t *it = cache_get(s->engine->cache, w->key, w->nkey);
        if (it) {
            exptime = it->exptime;
            size = it->nvalue;
            flags = item_flags(it);
            cache_release(s->engine->cache, it);
        }
    }
    logger_item_store(&s->engine->logger, w->key, w->nkey, status, cmds[w->mode], exptime ? exptime - now : 0,
                      cache_class_id(s->engine->cache, w->nkey, flags, size), s->fd, size);
}

void text_log_too_large(session_t *s, const char *key, size_t nkey, store_mode_t mode)
{
    static const char *const cmds[] = {
        [STORE_MODE_SET] = "set",         [STORE_MODE_ADD] = "add",         [STORE_MODE_REPLACE] = "replace",
        [STORE_MODE_APPEND] = "append",   [STORE_MODE_PREPEND] = "prepend", [STORE_MODE_CAS] = "cas",
    };
    /* memcached passes too few arguments here: its clsid shows the fd and its cfd is garbage. We
     * show the fd in both. */
    logger_item_store(&s->engine->logger, key, nkey, "too_large", cmds[mode], 0, s->fd >= 0 ? (unsigned)s->fd : 0,
                      s->fd, 0);
}

void text_log_line(session_t *s, const char *line, size_t n)
{
    logger_stderr(&s->engine->logger, "<%d %.*s", (int)s->fd, (int)n, line);
}

void text_log_reply(cmd_t *c, const char *str, size_t n)
{
    logger_stderr(&c->s->engine->logger, c->noreply ? ">%d NOREPLY %.*s" : ">%d %.*s", (int)c->s->fd, (int)n, str);
}

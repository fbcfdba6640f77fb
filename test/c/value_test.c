/* value_test: a storage command's value read straight into its reserved item — the store's
 * reserve/commit/abandon accounting, and sessions fed such commands cut at every byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "store.h"

#include "check.h"

#define BIG (100 * 1024) /* over a page: a big block, freed exactly */

static store_t *new_store(size_t limit)
{
    store_config_t config = {.memory_limit = limit, .max_item_size = 1u << 20};
    store_t *s = store_create(&config);
    CHECK(s != NULL, "store_create");
    return s;
}

/* Items and their bytes. (malloced may differ by a page: an item freed leaves its page to its
 * class, so a reservation of another class than the stored item's keeps the page it took.) */
static bool same_gauges(const store_stats_t *a, const store_stats_t *b)
{
    return a->items == b->items && a->bytes == b->bytes;
}

static item_t *reserve(store_t *s, const char *key, uint32_t flags, size_t n, char fill)
{
    store_status_t st;
    item_t *it = store_reserve(s, key, strlen(key), flags, n, &st);
    CHECK(it != NULL && st == STORE_OK, "reserve %s of %zu: %s", key, n, store_status_name(st));
    if (it)
        memset((char *)item_value(it), fill, n);
    return it;
}

static store_status_t commit(store_t *s, item_t *it, store_mode_t mode, uint64_t cas, uint64_t *cas_out)
{
    store_write_t w = {.mode = mode, .cas = cas};
    store_write_reserved(&w, it);
    return store_write(s, &w, cas_out);
}

/* A value of n bytes of `fill` under key, or not there. */
static bool holds(store_t *s, const char *key, size_t n, char fill)
{
    item_t *it = store_get(s, key, strlen(key));
    if (it == NULL)
        return false;
    bool ok = it->nvalue == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = item_value(it)[i] == fill;
    store_release(s, it);
    return ok;
}

/* Abandoned reservations leave no trace: gauges, class figures, cas numbers. */
static void test_abandon(void)
{
    store_t *s = new_store(8u << 20);
    uint64_t cas1 = 0, cas2 = 0;
    CHECK(store_set(s, "k", 1, "old", 3, 0, 0) == STORE_OK, "set");
    store_write_t w = {STORE_MODE_SET, "a", 1, "x", 1, 0, 0, 0, NULL};
    CHECK(store_write(s, &w, &cas1) == STORE_OK, "set a");
    store_stats_t before, during, after;
    store_get_stats(s, &before);
    item_t *big = reserve(s, "k", 7, BIG, 'b');
    item_t *small = reserve(s, "k", 0, 50, 's');
    store_get_stats(s, &during);
    CHECK(during.items == before.items, "reserved items are not linked: %llu", (unsigned long long)during.items);
    CHECK(during.bytes == before.bytes + store_item_size(1, 7, BIG) + store_item_size(1, 0, 50),
          "bytes count reserved items exactly");
    CHECK(during.malloced >= before.malloced + store_footprint(s, 1, 7, BIG), "malloced charges the big block");
    item_t *old = store_get(s, "k", 1);
    CHECK(old && old->nvalue == 3 && memcmp(item_value(old), "old", 3) == 0, "the old value stays readable");
    if (old)
        store_release(s, old);
    store_release(s, big);
    store_release(s, small);
    store_get_stats(s, &after);
    CHECK(after.items == before.items && after.bytes == before.bytes, "abandon gives items and bytes back");
    CHECK(after.malloced == before.malloced || after.malloced == during.malloced - store_footprint(s, 1, 7, BIG),
          "abandon gives the big block back");
    w.key = "b";
    CHECK(store_write(s, &w, &cas2) == STORE_OK && cas2 == cas1 + 1, "an abandoned reservation takes no cas unique");
    store_destroy(s);
}

/* Every mode commits a reservation, or gives it up with its memory. */
static void test_commit_modes(void)
{
    store_t *s = new_store(8u << 20);
    store_stats_t base, now;
    uint64_t cas = 0;
    CHECK(commit(s, reserve(s, "k", 3, BIG, 'a'), STORE_MODE_SET, 0, &cas) == STORE_OK, "set");
    CHECK(holds(s, "k", BIG, 'a'), "set stored the reserved bytes");
    store_get_stats(s, &base);
    CHECK(commit(s, reserve(s, "k", 0, BIG, 'b'), STORE_MODE_ADD, 0, NULL) == STORE_NOT_STORED, "add of a present key");
    CHECK(commit(s, reserve(s, "nokey", 0, BIG, 'b'), STORE_MODE_REPLACE, 0, NULL) == STORE_NOT_STORED, "replace");
    CHECK(commit(s, reserve(s, "nokey", 0, 9, 'b'), STORE_MODE_APPEND, 0, NULL) == STORE_NOT_STORED, "append");
    CHECK(commit(s, reserve(s, "k", 0, BIG, 'b'), STORE_MODE_CAS, cas + 1, NULL) == STORE_EXISTS, "cas mismatch");
    CHECK(commit(s, reserve(s, "nokey", 0, BIG, 'b'), STORE_MODE_CAS, cas, NULL) == STORE_NOT_FOUND, "cas absent");
    store_get_stats(s, &now);
    CHECK(same_gauges(&base, &now), "refused commits give everything back");
    CHECK(holds(s, "k", BIG, 'a'), "refused commits leave the value");
    CHECK(commit(s, reserve(s, "k", 0, BIG, 'c'), STORE_MODE_CAS, cas, &cas) == STORE_OK, "cas match");
    CHECK(holds(s, "k", BIG, 'c'), "cas stored");
    CHECK(commit(s, reserve(s, "k", 9, 10, 'd'), STORE_MODE_APPEND, 0, NULL) == STORE_OK, "append");
    item_t *it = store_get(s, "k", 1);
    CHECK(it && it->nvalue == BIG + 10 && item_value(it)[BIG - 1] == 'c' && item_value(it)[BIG] == 'd', "appended");
    CHECK(it && item_flags(it) == 0, "append keeps the old flags");
    if (it)
        store_release(s, it);
    CHECK(commit(s, reserve(s, "k", 0, 5, 'e'), STORE_MODE_PREPEND, 0, NULL) == STORE_OK, "prepend");
    it = store_get(s, "k", 1);
    CHECK(it && it->nvalue == BIG + 15 && item_value(it)[0] == 'e' && item_value(it)[5] == 'c', "prepended");
    if (it)
        store_release(s, it);
    store_get_stats(s, &now);
    CHECK(now.items == 1 && now.bytes == store_item_size(1, 0, BIG + 15), "one item, of its own bytes");
    store_status_t st;
    CHECK(store_reserve(s, "k", 1, 0, (1u << 20) + 1, &st) == NULL && st == STORE_TOO_LARGE, "too large");
    store_destroy(s);
}

/* The clock hand and the sweep pass over a reservation in flight; a store full of held items
 * refuses one with NO_MEMORY. */
static void test_under_pressure(void)
{
    store_t *s = new_store(2u << 20);
    item_t *mine = reserve(s, "mine", 0, BIG, 'm');
    char key[32];
    static char value[4000];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "filler-%d", i);
        CHECK(store_set(s, key, strlen(key), value, sizeof(value), 0, 0) == STORE_OK, "set %s", key);
        if (i % 64 == 0)
            store_sweep(s, 1024);
    }
    bool intact = true;
    for (size_t i = 0; i < BIG; i++)
        intact = intact && item_value(mine)[i] == 'm';
    CHECK(intact, "eviction and sweeps leave a reservation alone");
    CHECK(commit(s, mine, STORE_MODE_SET, 0, NULL) == STORE_OK && holds(s, "mine", BIG, 'm'), "then it commits");
    store_destroy(s);

    s = new_store(1u << 20);
    item_t *held[64];
    size_t n = 0;
    store_status_t st = STORE_OK;
    while (n < 64) {
        snprintf(key, sizeof(key), "held-%zu", n);
        held[n] = store_reserve(s, key, strlen(key), 0, BIG, &st);
        if (held[n] == NULL)
            break;
        n++;
    }
    CHECK(n > 0 && n < 64 && st == STORE_NO_MEMORY, "a full store refuses: %zu reserved, %s", n, store_status_name(st));
    store_stats_t full, after;
    store_get_stats(s, &full);
    for (size_t i = 0; i < n; i++)
        store_release(s, held[i]);
    store_get_stats(s, &after);
    CHECK(after.bytes == 0 && after.items == 0 && after.malloced == 0, "all given back: %llu malloced",
          (unsigned long long)after.malloced);
    store_destroy(s);
}

/* ---- sessions ---- */

typedef struct feed_result {
    buf_t out;
    store_stats_t stats;
    char *value;  /* what "k" holds after the session, or NULL */
    size_t nvalue;
} feed_result_t;

static void result_free(feed_result_t *r)
{
    buf_free(&r->out);
    free(r->value);
}

/* Feeds in[0..len) in pieces no longer than `piece` (0: cut once, at `cut`), the way a transport
 * keeps what a feed leaves unconsumed; with `direct`, a value's bytes go through
 * session_value_room/landed as conn.c reads them. Reads "k" back. */
static void run_session(protocol_t proto, const char *in, size_t len, size_t cut, size_t piece, bool direct,
                        feed_result_t *r)
{
    engine_config_t config = {8u << 20, 1u << 20, 1, 1};
    engine_t e;
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    session_t s;
    protocol_start(&s, &e, proto);
    buf_init(&r->out);
    buf_t pending;
    buf_init(&pending);
    size_t at = 0;
    while (at < len) {
        size_t n = piece ? (len - at < piece ? len - at : piece) : (at < cut ? cut - at : len - at);
        size_t room;
        char *to = direct && buf_len(&pending) == 0 ? session_value_room(&s, &room) : NULL;
        if (to != NULL) {
            n = n < room ? n : room;
            memcpy(to, in + at, n);
            session_value_landed(&s, n, &r->out);
        } else {
            buf_append(&pending, in + at, n);
            buf_consume(&pending, session_feed(&s, buf_head(&pending), buf_len(&pending), &r->out));
        }
        at += n;
    }
    protocol_end(&s);
    buf_free(&pending);
    cache_get_stats(e.cache, &r->stats);
    item_t *it = cache_get(e.cache, "k", 1);
    r->value = NULL;
    r->nvalue = 0;
    if (it) {
        r->nvalue = it->nvalue;
        r->value = malloc(it->nvalue + 1);
        CHECK(r->value != NULL, "malloc");
        if (r->value)
            memcpy(r->value, item_value(it), it->nvalue);
        cache_release(e.cache, it);
    }
    engine_destroy(&e);
}

static bool same_result(const feed_result_t *a, const feed_result_t *b)
{
    return buf_len(&a->out) == buf_len(&b->out) && memcmp(buf_head(&a->out), buf_head(&b->out), buf_len(&a->out)) == 0 &&
           same_gauges(&a->stats, &b->stats) && a->nvalue == b->nvalue &&
           (a->value == NULL) == (b->value == NULL) && (a->value == NULL || memcmp(a->value, b->value, a->nvalue) == 0);
}

/* Fed whole, cut once at every byte, fed one byte at a time, and read into the item directly:
 * the same replies, the same value under "k", the same gauges. */
static void split_everywhere(const char *name, protocol_t proto, const char *in, size_t len)
{
    feed_result_t whole, other;
    run_session(proto, in, len, len, 0, false, &whole);
    CHECK(whole.value != NULL, "%s: the value was stored", name);
    for (size_t cut = 0; cut <= len; cut++) {
        for (int direct = 0; direct < 2; direct++) {
            run_session(proto, in, len, cut, 0, direct, &other);
            CHECK(same_result(&whole, &other), "%s: cut at %zu of %zu (direct %d) differs", name, cut, len, direct);
            result_free(&other);
        }
    }
    for (size_t piece = 1; piece <= 7; piece++) {
        for (int direct = 0; direct < 2; direct++) {
            run_session(proto, in, len, 0, piece, direct, &other);
            CHECK(same_result(&whole, &other), "%s: pieces of %zu (direct %d) differ", name, piece, direct);
            result_free(&other);
        }
    }
    result_free(&whole);
}

/* A session that ends mid-value (the client went away) leaves the old value and gives back the
 * reserved item's memory. */
static void cut_off(const char *name, protocol_t proto, const char *old, size_t nold, const char *in, size_t len)
{
    feed_result_t before;
    run_session(proto, old, nold, nold, 0, false, &before);
    char *both = malloc(nold + len);
    CHECK(both != NULL, "malloc");
    if (both == NULL)
        return;
    memcpy(both, old, nold);
    memcpy(both + nold, in, len);
    for (size_t keep = 1; keep < len; keep++) {
        feed_result_t r;
        run_session(proto, both, nold + keep, nold + keep, 0, false, &r);
        bool ok = same_gauges(&before.stats, &r.stats) && r.nvalue == before.nvalue && r.value && before.value &&
                  memcmp(r.value, before.value, r.nvalue) == 0;
        CHECK(ok, "%s: ending after %zu of %zu bytes changed the store", name, keep, len);
        result_free(&r);
    }
    free(both);
    result_free(&before);
}

#define LIT(s) (s), sizeof(s) - 1

int main(void)
{
    test_abandon();
    test_commit_modes();
    test_under_pressure();

    split_everywhere("text set", PROTOCOL_MEMCACHED, LIT("set k 5 0 20\r\n0123456789abcdefghij\r\nget k\r\n"));
    split_everywhere("text cas", PROTOCOL_MEMCACHED,
                     LIT("set k 0 0 3\r\nabc\r\ngets k\r\ncas k 0 0 4 1\r\nwxyz\r\nappend k 0 0 2\r\n!!\r\n"
                         "prepend k 0 0 1 noreply\r\n<\r\nreplace k 0 0 1\r\nr\r\nadd k 0 0 1\r\nx\r\n"));
    split_everywhere("text bad chunk", PROTOCOL_MEMCACHED, LIT("set k 0 0 1\r\nv\r\nset k 0 0 3\r\nabcde\r\nget k\r\n"));
    split_everywhere("meta ms", PROTOCOL_MEMCACHED,
                     LIT("ms k 10 T0 F3 c k O123\r\n0123456789\r\nms k 2 MA q\r\nab\r\nms k 1 I\r\nzz\r\nmn\r\n"));
    /* set "k" (flags 5) = "hello", then appendq "k" += "!!", then get "k" */
    split_everywhere("binary set", PROTOCOL_BINARY,
                     "\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"
                     "\x00\x00\x00\x05\x00\x00\x00\x00khello"
                     "\x80\x19\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"
                     "k!!"
                     "\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00k",
                     24 + 8 + 6 + 24 + 3 + 24 + 1);

    cut_off("text", PROTOCOL_MEMCACHED, LIT("set k 0 0 3\r\nold\r\n"), LIT("set k 0 0 20\r\n0123456789abcdefghij\r\n"));
    cut_off("meta", PROTOCOL_MEMCACHED, LIT("set k 0 0 3\r\nold\r\n"), LIT("ms k 20 MS\r\n0123456789abcdefghij\r\n"));
    cut_off("binary", PROTOCOL_BINARY,
            "\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            "\x00\x00\x00\x00\x00\x00\x00\x00kold", 24 + 12,
            "\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            "\x00\x00\x00\x00\x00\x00\x00\x00k01234", 24 + 14);

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("value_test: all checks passed\n");
    return 0;
}

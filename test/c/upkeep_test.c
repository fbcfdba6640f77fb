/* upkeep_test: what the timer's upkeep must do on its own — finish a table doubling that an idle
 * shard left half done, sweep a doubling table's expired items — and that requests write no clock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "store.h"

#include "check.h"

#define KEY_BUF 32

static size_t key_of(unsigned i, char out[KEY_BUF])
{
    return (size_t)snprintf(out, KEY_BUF, "upkeep:%u", i);
}

static bool _expanding_store(store_t *s)
{
    store_stats_t st;
    store_get_stats(s, &st);
    return st.expanding != 0;
}

static bool _expanding_cache(cache_t *c)
{
    store_stats_t st;
    cache_get_stats(c, &st);
    return st.expanding != 0;
}

/* Items stored until the table starts doubling, and no more: the shard then goes idle. */
static unsigned fill_until_doubling(bool (*expanding)(void *), void *arg, store_status_t (*set)(void *, unsigned))
{
    unsigned n = 0;
    while (!expanding(arg) && n < 1000000)
        CHECK(set(arg, n++) == STORE_OK, "set %u", n - 1);
    return n;
}

static bool _cache_expanding(void *c) { return _expanding_cache(c); }
static store_status_t _cache_set(void *c, unsigned i)
{
    char key[KEY_BUF];
    return cache_set(c, key, key_of(i, key), "v", 1, 0, 0);
}

/* A shard whose table is mid-doubling and then sees no operation finishes from sweep calls (the
 * group timer's tick) alone, and keeps every item. */
static void test_idle_shard_finishes_doubling(void)
{
    cache_t *c = cache_create(64u << 20, 1u << 20, 1, 1);
    CHECK(c != NULL, "cache_create");
    unsigned n = fill_until_doubling(_cache_expanding, c, _cache_set);
    CHECK(_expanding_cache(c), "the table should be doubling after %u items", n);
    unsigned ticks = 0;
    while (_expanding_cache(c) && ticks < 1000) {
        cache_sweep(c, 0); /* the crawler off: no bucket swept, the doubling still advances */
        ticks++;
    }
    CHECK(!_expanding_cache(c), "still doubling after %u ticks", ticks);
    CHECK(ticks > 1, "the doubling finished in one tick: the budget is not small (%u)", ticks);
    for (unsigned i = 0; i < n; i++) {
        char key[KEY_BUF];
        item_t *it = cache_get(c, key, key_of(i, key));
        CHECK(it != NULL, "item %u lost by the doubling", i);
        if (it != NULL)
            cache_release(c, it);
    }
    cache_destroy(c);
}

static bool _store_expanding(void *s) { return _expanding_store(s); }
static store_status_t _store_set_expiring(void *s, unsigned i)
{
    char key[KEY_BUF];
    /* Odd items expire at clock 20, even ones never. */
    return store_set(s, key, key_of(i, key), "v", 1, 0, i % 2 ? 20 : 0);
}

/* The sweep reclaims the expired items of a table that is doubling (in both halves), and none of
 * the live ones. */
static void test_sweep_while_doubling(void)
{
    store_config_t config = {64u << 20, 1u << 20, 0, NULL, 1};
    store_t *s = store_create(&config);
    CHECK(s != NULL, "store_create");
    store_set_clock(s, 10);
    unsigned n = fill_until_doubling(_store_expanding, s, _store_set_expiring);
    /* Move some buckets so that items sit in both halves. */
    store_rehash(s, 8);
    CHECK(_expanding_store(s), "the table should still be doubling");
    store_set_clock(s, 30);
    store_stats_t before, after;
    store_get_stats(s, &before);
    store_sweep(s, before.buckets);
    store_get_stats(s, &after);
    CHECK(after.expanding, "the sweep itself should not finish the doubling");
    CHECK(after.reclaimed - before.reclaimed == n / 2, "reclaimed %llu of %u expired items",
          (unsigned long long)(after.reclaimed - before.reclaimed), n / 2);
    for (unsigned i = 0; i < n; i += 2) {
        char key[KEY_BUF];
        item_t *it = store_get(s, key, key_of(i, key));
        CHECK(it != NULL, "live item %u lost", i);
        if (it != NULL)
            store_release(s, it);
    }
    store_destroy(s);
}

/* Requests read the clock the timer keeps and write nothing shared for it: fed for as long as it
 * takes the wall clock to pass a second, they leave the clock and its write count unchanged; the
 * next tick moves it, once. */
static void test_requests_write_no_clock(void)
{
    engine_t e;
    engine_config_t config = {64u << 20, 1u << 20, 1, 1};
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    session_t s;
    protocol_start(&s, &e, PROTOCOL_MEMCACHED);
    s.proto.text.authenticated = true;
    static const char requests[] = "set k 0 0 1\r\nv\r\nget k\r\nget nope\r\n";
    uint32_t clock = cache_clock(e.cache);
    uint64_t writes = cache_clock_writes(e.cache);
    time_t start = time(NULL);
    unsigned fed = 0;
    buf_t out;
    buf_init(&out);
    while (time(NULL) < start + 2) {
        size_t used = session_feed(&s, requests, sizeof(requests) - 1, &out);
        CHECK(used == sizeof(requests) - 1, "consumed %zu", used);
        buf_consume(&out, buf_len(&out));
        fed++;
    }
    CHECK(cache_clock_writes(e.cache) == writes, "%llu clock writes over %u feeds",
          (unsigned long long)(cache_clock_writes(e.cache) - writes), fed);
    CHECK(cache_clock(e.cache) == clock, "the clock moved without a tick");
    for (int i = 0; i < 1000; i++)
        engine_tick(&e);
    CHECK(cache_clock(e.cache) > clock, "a tick a second later did not move the clock");
    CHECK(cache_clock_writes(e.cache) - writes <= 2, "1000 ticks wrote the clock %llu times",
          (unsigned long long)(cache_clock_writes(e.cache) - writes));
    buf_free(&out);
    protocol_end(&s);
    engine_destroy(&e);
}

int main(void)
{
    test_idle_shard_finishes_doubling();
    test_sweep_while_doubling();
    test_requests_write_no_clock();
    if (failures) {
        fprintf(stderr, "upkeep_test: %d checks failed\n", failures);
        return 1;
    }
    printf("upkeep_test: all checks passed\n");
    return 0;
}

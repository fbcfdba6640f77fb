/* engine_test: C-level checks of the store, cache and protocol engines, without Node or sockets.
 * Built and run by test/85.c-engine.test.js (ASan and UBSan when available) and, under valgrind,
 * by test/sanitize/valgrind.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "engine.h"
#include "store.h"
#include "store_diff.h"

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* A deterministic generator, so a failure can be replayed. */
static unsigned long long rng_state = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* The reference model: the value of each of NKEYS keys, or absent. */
#define NKEYS 300
static char model[NKEYS][64];
static int model_len[NKEYS]; /* -1: absent */

#define KEY_BUF 64

/* Every key fits KEY_BUF: the length snprintf returns is then the length it wrote. */
static void key_of(int i, char out[KEY_BUF], size_t *n)
{
    *n = (size_t)snprintf(out, KEY_BUF, "key:%d:%s", i, i % 7 ? "x" : "a-longer-key-to-vary-lengths");
}

/* Random set/get/delete/append/incr against a cache large enough never to evict: every answer must
 * agree with the model, across table doubling (4096 buckets, then more) and several shards. */
static void test_cache_against_model(unsigned shards)
{
    cache_t *c = cache_create(512u << 20, 1u << 20, shards);
    CHECK(c != NULL, "cache_create");
    for (int i = 0; i < NKEYS; i++)
        model_len[i] = -1;
    char key[KEY_BUF], value[64];
    size_t nkey;
    for (int step = 0; step < 200000; step++) {
        int i = (int)rnd(NKEYS);
        key_of(i, key, &nkey);
        switch (rnd(5)) {
        case 0: { /* set */
            int len = (int)rnd(40);
            for (int j = 0; j < len; j++)
                value[j] = (char)('a' + rnd(26));
            CHECK(cache_set(c, key, nkey, value, (size_t)len, 0, 0) == STORE_OK, "set");
            memcpy(model[i], value, (size_t)len);
            model_len[i] = len;
            break;
        }
        case 1: { /* get */
            item_t *it = cache_get(c, key, nkey);
            CHECK((it != NULL) == (model_len[i] >= 0), "get presence of %s", key);
            if (it && model_len[i] >= 0)
                CHECK(it->nvalue == (uint32_t)model_len[i] && memcmp(item_value(it), model[i], it->nvalue) == 0,
                      "get value of %s", key);
            if (it)
                cache_release(c, it);
            break;
        }
        case 2: /* delete */
            CHECK((cache_delete(c, key, nkey) == STORE_OK) == (model_len[i] >= 0), "delete %s", key);
            model_len[i] = -1;
            break;
        case 3: { /* append one byte when it still fits the model's buffer */
            store_write_t w = {STORE_MODE_APPEND, key, nkey, "z", 1, 0, 0, 0};
            store_status_t st = cache_write(c, &w, NULL);
            if (model_len[i] < 0) {
                CHECK(st == STORE_NOT_STORED, "append to absent %s", key);
            } else if (model_len[i] < 63) {
                CHECK(st == STORE_OK, "append to %s", key);
                model[i][model_len[i]++] = 'z';
            } else {
                cache_delete(c, key, nkey);
                model_len[i] = -1;
            }
            break;
        }
        default: { /* incr of a numeric value */
            CHECK(cache_set(c, key, nkey, "41", 2, 0, 0) == STORE_OK, "set number");
            uint64_t result = 0;
            CHECK(cache_arith(c, key, nkey, true, 1, &result) == STORE_OK && result == 42, "incr");
            memcpy(model[i], "42", 2);
            model_len[i] = 2;
            break;
        }
        }
    }
    store_stats_t st;
    cache_get_stats(c, &st);
    int live = 0;
    for (int i = 0; i < NKEYS; i++)
        live += model_len[i] >= 0;
    CHECK(st.items == (uint64_t)live, "items %llu, model %d", (unsigned long long)st.items, live);
    cache_destroy(c);
}

/* Writing far more than the memory limit evicts, keeps bytes under the limit, and keeps the
 * most recently written keys. */
static void test_eviction(void)
{
    store_config_t config = {1u << 20, 1u << 20, 0, NULL};
    store_t *s = store_create(&config);
    char key[32], value[1000];
    memset(value, 'v', sizeof(value));
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)snprintf(key, sizeof(key), "k%d", i);
        CHECK(store_set(s, key, n, value, sizeof(value), 0, 0) == STORE_OK, "set %d", i);
    }
    store_stats_t st;
    store_get_stats(s, &st);
    CHECK(st.bytes <= (1u << 20), "bytes %llu over the limit", (unsigned long long)st.bytes);
    CHECK(st.evictions > 0, "no evictions");
    item_t *newest = store_get(s, "k19999", 6);
    CHECK(newest != NULL, "newest key evicted");
    if (newest)
        store_release(s, newest);
    CHECK(store_get(s, "k0", 2) == NULL, "oldest key kept");
    store_destroy(s);
}

/* A session's replies do not depend on how its bytes are cut: fed whole, then cut at every
 * position into two feeds, the output must be identical. */
static void feed_all(engine_t *e, session_proto_t proto, const char *in, size_t len, size_t cut, buf_t *out)
{
    session_t s;
    session_init(&s, e, proto);
    buf_t pending;
    buf_init(&pending);
    size_t parts[2][2] = {{0, cut}, {cut, len}};
    for (int p = 0; p < 2; p++) {
        buf_append(&pending, in + parts[p][0], parts[p][1] - parts[p][0]);
        buf_consume(&pending, engine_feed(&s, buf_head(&pending), buf_len(&pending), out));
    }
    buf_free(&pending);
}

static void test_split_anywhere(session_proto_t proto, const char *session)
{
    engine_config_t config = {64u << 20, 1u << 20, 1};
    size_t len = strlen(session);
    buf_t whole;
    buf_init(&whole);
    engine_t e;
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    feed_all(&e, proto, session, len, len, &whole);
    engine_destroy(&e);
    for (size_t cut = 0; cut <= len; cut++) {
        buf_t out;
        buf_init(&out);
        CHECK(engine_init(&e, &config) == 0, "engine_init");
        feed_all(&e, proto, session, len, cut, &out);
        CHECK(buf_len(&out) == buf_len(&whole) && memcmp(buf_head(&out), buf_head(&whole), buf_len(&out)) == 0,
              "cut at %zu of %zu changes the replies", cut, len);
        engine_destroy(&e);
        buf_free(&out);
    }
    buf_free(&whole);
}

/* The store against the fuzz target's reference model (store_diff.c), on seeded random operation
 * sequences under each configuration: eviction, small items, held references, table doubling. */
static void test_store_against_diff_model(void)
{
    static uint8_t input[4096];
    for (int run = 0; run < 400; run++) {
        size_t size = 1 + rnd(sizeof(input));
        input[0] = (uint8_t)run;
        for (size_t i = 1; i < size; i++)
            input[i] = (uint8_t)rnd(256);
        CHECK(store_diff_run(input, size), "store_diff run %d (%zu bytes) disagrees with the model", run, size);
    }
}

int main(void)
{
    test_cache_against_model(1);
    test_cache_against_model(8);
    test_eviction();
    test_store_against_diff_model();
    test_split_anywhere(SESSION_PROTO_SIMPLE,
                        "set a hello world\r\nget a\r\nget b\ndelete a\r\ndelete a\r\nbogus\r\n\r\nset k v\r\nget k\r\nquit\r\nget k\r\n");
    test_split_anywhere(SESSION_PROTO_TEXT,
                        "set a 5 0 3\r\nabc\r\nget a b\r\ngets a\r\nappend a 0 0 2 noreply\r\nde\r\nincr n 1\r\n"
                        "set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\ntouch a 100\r\ngat 0 a\r\nset x 0 0 3\r\nabcd\r\n"
                        "delete a 0\r\nflush_all\r\nget n\r\nset big 0 0 2000000\r\nverbosity 1\r\nversion\r\n");
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("engine_test: all checks passed\n");
    return 0;
}

/* engine_test: C-level checks of the store, cache and protocol engines, without Node or sockets.
 * Built and run by test/85.c-engine.test.js (ASan and UBSan when available) and, under valgrind,
 * by test/sanitize/valgrind.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cache.h"
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "proto_binary.h"
#include "proto_meta_req.h"
#include "proto_text.h"
#include "slab.h"
#include "store.h"
#include "store_diff.h"

#include "check.h"

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
    cache_t *c = cache_create(512u << 20, 1u << 20, shards, 1);
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
            store_write_t w = {STORE_MODE_APPEND, key, nkey, "z", 1, 0, 0, 0, NULL};
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
    store_config_t config = {1u << 20, 1u << 20, 0, NULL, 1};
    store_t *s = store_create(&config);
    char key[32], value[500]; /* in a slab class */
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
    CHECK(st.malloced <= (1u << 20) && st.malloced > (1u << 20) - SLAB_PAGE_MAX, "malloced %llu", (unsigned long long)st.malloced);
    /* Written in order and never read: the clock evicts oldest first, so exactly the newest remain. */
    for (int i = 20000 - (int)st.items; i < 20000; i++) {
        size_t n = (size_t)snprintf(key, sizeof(key), "k%d", i);
        item_t *it = store_get(s, key, n);
        CHECK(it != NULL, "k%d of the newest %llu evicted", i, (unsigned long long)st.items);
        if (it)
            store_release(s, it);
    }
    store_destroy(s);
}

/* The allocator alone, driven as the store drives it: random sizes from 4 bytes to 300 KiB, freeing
 * what the hand points at whenever the limit is reached. The memory counted never passes the limit,
 * no two blocks overlap (each holds its own pattern until freed), the hand visits every block once
 * per revolution, and freeing everything gives every page back but the spares. */
#define SLAB_TEST_BLOCKS 4096
static struct {
    unsigned char *p;
    size_t size;
} blocks[SLAB_TEST_BLOCKS];

static size_t slab_test_size(unsigned phase)
{
    switch (phase) {
    case 0: return 4 + rnd(200);                   /* small classes only */
    case 1: return (size_t)4 << rnd(17);           /* 4 B to 256 KiB */
    default: return 5000 + rnd(300000);            /* big blocks only */
    }
}

/* A block starts with its index in blocks[]. */
static int slab_test_find(const void *p)
{
    int i;
    memcpy(&i, p, sizeof(i));
    return i >= 0 && i < SLAB_TEST_BLOCKS && blocks[i].p == p ? i : -1;
}

/* The pattern covers small blocks whole and big ones at both ends, where a neighbour would spill:
 * the next patterned byte at or after j. */
static size_t slab_test_next(size_t size, size_t j)
{
    if (j < sizeof(int))
        return sizeof(int);
    return size > 4096 && j >= 512 && j < size - 512 ? size - 512 : j;
}

static void slab_test_free(slab_t *sl, int i)
{
    for (size_t j = slab_test_next(blocks[i].size, 0); j < blocks[i].size; j = slab_test_next(blocks[i].size, j + 1))
        if (blocks[i].p[j] != (unsigned char)(i + j)) {
            CHECK(0, "block %d of %zu bytes overwritten at %zu", i, blocks[i].size, j);
            break;
        }
    slab_free(sl, blocks[i].p);
    blocks[i].p = NULL;
}

static void test_slab(size_t limit)
{
    slab_t *sl = slab_create(limit, 1);
    CHECK(sl != NULL, "slab_create");
    memset(blocks, 0, sizeof(blocks));
    slab_stats_t st;
    for (unsigned step = 0; step < 30000; step++) {
        int i = (int)rnd(SLAB_TEST_BLOCKS);
        if (blocks[i].p != NULL) {
            slab_test_free(sl, i);
            continue;
        }
        size_t size = slab_test_size(step / 10000);
        if (!slab_fits(sl, size))
            continue;
        CHECK(slab_block_size(sl, size) >= size, "block of %zu counted as %zu", size, slab_block_size(sl, size));
        bool full;
        void *p;
        while ((p = slab_alloc(sl, size, &full)) == NULL && full) {
            void *victim = slab_hand_next(sl);
            CHECK(victim != NULL, "full with nothing allocated");
            if (victim == NULL)
                break;
            slab_test_free(sl, slab_test_find(victim));
        }
        CHECK(p != NULL, "alloc of %zu", size);
        if (p == NULL)
            continue;
        blocks[i].p = p;
        blocks[i].size = size;
        memcpy(p, &i, sizeof(i));
        for (size_t j = slab_test_next(size, 0); j < size; j = slab_test_next(size, j + 1))
            blocks[i].p[j] = (unsigned char)(i + j);
        slab_get_stats(sl, &st);
        CHECK(st.malloced <= limit, "malloced %llu over %zu", (unsigned long long)st.malloced, limit);
    }
    /* One revolution of the hand meets every block once. */
    int live = 0;
    for (int i = 0; i < SLAB_TEST_BLOCKS; i++)
        live += blocks[i].p != NULL;
    static unsigned char seen[SLAB_TEST_BLOCKS];
    memset(seen, 0, sizeof(seen));
    int visits = 0;
    for (int n = 0; n < live; n++) {
        int i = slab_test_find(slab_hand_next(sl));
        CHECK(i >= 0 && !seen[i], "hand visit %d: block %d", n, i);
        if (i >= 0 && !seen[i]) {
            seen[i] = 1;
            visits++;
        }
    }
    CHECK(visits == live, "hand met %d of %d blocks in one revolution", visits, live);
    for (int i = 0; i < SLAB_TEST_BLOCKS; i++)
        if (blocks[i].p != NULL)
            slab_test_free(sl, i);
    slab_get_stats(sl, &st);
    CHECK(st.malloced == st.pages * st.page_size && st.pages <= SLAB_SPARES_MAX && st.big_blocks == 0,
          "left after freeing all: %llu bytes, %llu pages", (unsigned long long)st.malloced, (unsigned long long)st.pages);
    CHECK(slab_hand_next(sl) == NULL, "hand on a freed block");
    slab_destroy(sl);
}

/* The store under 10x its limit in sizes that shift from tiny to big and back: the memory counted
 * stays under the limit, every item read back is intact, `bytes` is the sum of the items' sizes,
 * the tiny items written last are all kept (pages came back from the big items), and deleting
 * everything leaves only spare pages. */
static void test_store_memory(void)
{
    const size_t limit = 2u << 20;
    store_config_t config = {limit, 1u << 20, 0, NULL, 1};
    store_t *s = store_create(&config);
    static char value[310000];
    char key[32];
    store_stats_t st;
    size_t written = 0;
    int n = 0;
    for (unsigned phase = 0; phase < 4; phase++) {
        for (size_t phase_bytes = 0; phase_bytes < 5 * limit / 2; n++) {
            size_t nkey = (size_t)snprintf(key, sizeof(key), "m%d", n);
            size_t size = phase == 3 ? 1 + rnd(100) : slab_test_size(phase);
            memset(value, 'a' + n % 26, size);
            CHECK(store_set(s, key, nkey, value, size, 0, 0) == STORE_OK, "set of %zu", size);
            phase_bytes += size;
            written += size;
            store_get_stats(s, &st);
            CHECK(st.malloced <= limit, "malloced %llu over the limit", (unsigned long long)st.malloced);
            if (rnd(4) == 0) { /* read back a recent key */
                int k = n - (int)rnd(20);
                nkey = (size_t)snprintf(key, sizeof(key), "m%d", k < 0 ? 0 : k);
                item_t *it = store_get(s, key, nkey);
                if (it) {
                    bool same = true;
                    for (uint32_t j = 0; j < it->nvalue; j++)
                        same = same && item_value(it)[j] == 'a' + (k < 0 ? 0 : k) % 26;
                    CHECK(same, "item %s overwritten", key);
                    store_release(s, it);
                }
            }
        }
    }
    CHECK(written >= 10 * limit, "wrote %zu", written);
    store_get_stats(s, &st);
    CHECK(st.evictions > 0, "no evictions");
    /* The last 1000 tiny items (about 100 KiB) are all there. */
    for (int k = n - 1000; k < n; k++) {
        size_t nkey = (size_t)snprintf(key, sizeof(key), "m%d", k);
        item_t *it = store_get(s, key, nkey);
        CHECK(it != NULL, "recent tiny item %s evicted", key);
        if (it)
            store_release(s, it);
    }
    /* bytes is the sum of the items' own sizes; deleting them all gives every page back. */
    uint64_t bytes = 0, items = 0;
    for (int k = 0; k < n; k++) {
        size_t nkey = (size_t)snprintf(key, sizeof(key), "m%d", k);
        item_t *it = store_get(s, key, nkey);
        if (it) {
            bytes += item_size(it);
            items++;
            store_release(s, it);
            store_delete(s, key, nkey);
        }
    }
    CHECK(bytes == st.bytes && items == st.items, "bytes %llu for %llu items, counted %llu for %llu",
          (unsigned long long)bytes, (unsigned long long)items, (unsigned long long)st.bytes, (unsigned long long)st.items);
    store_get_stats(s, &st);
    CHECK(st.bytes == 0 && st.items == 0 && st.malloced <= SLAB_SPARES_MAX * SLAB_PAGE_MAX, "left: %llu bytes, %llu malloced",
          (unsigned long long)st.bytes, (unsigned long long)st.malloced);
    store_destroy(s);
}

/* The clock: an item read since the hand last passed is spared once, and only once; an item held by
 * a reader is never freed under it; a store whose every item is held refuses a write (NO_MEMORY)
 * rather than pass its limit. */
static bool present(store_t *s, const char *key)
{
    item_t *it = store_get(s, key, strlen(key));
    if (it)
        store_release(s, it);
    return it != NULL;
}

static void test_clock(void)
{
    store_config_t config = {64u << 10, 1u << 20, 0, NULL, 1}; /* 4 KiB pages: 30 KiB items are big */
    store_t *s = store_create(&config);
    static char value[30 << 10];
    memset(value, 'x', sizeof(value));
    CHECK(store_set(s, "a", 1, value, sizeof(value), 0, 0) == STORE_OK, "set a");
    CHECK(store_set(s, "b", 1, value, sizeof(value), 0, 0) == STORE_OK, "set b");
    CHECK(present(s, "a"), "a"); /* marks a used */
    CHECK(store_set(s, "c", 1, value, sizeof(value), 0, 0) == STORE_OK, "set c");
    store_stats_t st;
    store_get_stats(s, &st);
    CHECK(st.items == 2 && st.evictions == 1, "%llu items", (unsigned long long)st.items);
    /* The hand spared a and cleared its mark, so the next write evicts a, not c. The checks read
     * nothing before the write that would mark c. */
    CHECK(store_set(s, "d", 1, value, sizeof(value), 0, 0) == STORE_OK, "set d");
    CHECK(!present(s, "b") && !present(s, "a"), "b, then a (spared once) evicted");
    CHECK(present(s, "c") && present(s, "d"), "c and d kept");
    /* c and d held: a third 30 KiB item cannot fit, and nothing is freed under a reader. */
    item_t *c = store_get(s, "c", 1), *d = store_get(s, "d", 1);
    CHECK(c && d, "get c, d");
    CHECK(store_set(s, "e", 1, value, sizeof(value), 0, 0) == STORE_NO_MEMORY, "set e with all held");
    store_get_stats(s, &st);
    CHECK(st.malloced <= (64u << 10), "malloced %llu", (unsigned long long)st.malloced);
    CHECK(c && c->nvalue == sizeof(value) && item_value(c)[sizeof(value) - 1] == 'x', "held item c intact");
    if (c)
        store_release(s, c);
    if (d)
        store_release(s, d);
    CHECK(store_set(s, "e", 1, value, sizeof(value), 0, 0) == STORE_OK, "set e once released");
    store_destroy(s);
}

/* A big item read every 16 writes survives while small items of many classes take over a store
 * full of big ones. (Items stored where the hand comes soon are marked used; when all of them were,
 * the hand ran out of second chances and evicted the read item with the rest.) */
static void test_clock_hot_item(void)
{
    store_config_t config = {4u << 20, 1u << 20, 0, NULL, 1};
    store_t *s = store_create(&config);
    static char value[600000];
    memset(value, 'v', sizeof(value));
    char key[32], hot[32] = "";
    for (size_t n = 0, written = 0; written < (16u << 20); n++) {
        size_t size = 65536 + (n * 7919) % (436 * 1024);
        snprintf(hot, sizeof(hot), "big-%zu", n);
        CHECK(store_set(s, hot, strlen(hot), value, size, 0, 0) == STORE_OK, "set %s", hot);
        written += size;
    }
    for (int i = 0; i < 100000; i++) {
        size_t n = (size_t)snprintf(key, sizeof(key), "small-%d", i);
        CHECK(store_set(s, key, n, value, 50 + (size_t)(i * 7919) % 100, 0, 0) == STORE_OK, "set %s", key);
        if (i % 16 == 15 && !present(s, hot)) {
            CHECK(0, "%s, read every 16 writes, evicted after %d small items", hot, i + 1);
            break;
        }
    }
    store_destroy(s);
}

/* A session's replies do not depend on how its bytes are cut: fed whole, then cut at every
 * position into two feeds, the output must be identical. */
static void feed_all(engine_t *e, protocol_t proto, const char *in, size_t len, size_t cut, buf_t *out)
{
    session_t s;
    protocol_start(&s, e, proto);
    buf_t pending;
    buf_init(&pending);
    size_t parts[2][2] = {{0, cut}, {cut, len}};
    for (int p = 0; p < 2; p++) {
        buf_append(&pending, in + parts[p][0], parts[p][1] - parts[p][0]);
        buf_consume(&pending, session_feed(&s, buf_head(&pending), buf_len(&pending), out));
    }
    protocol_end(&s);
    buf_free(&pending);
}

static void test_split_anywhere(protocol_t proto, const char *session, size_t len)
{
    engine_config_t config = {64u << 20, 1u << 20, 1, 1};
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

/* A text session becomes binary on a first byte of 0x80, unless authentication is on (memcached -Y
 * serves ascii only); then the bytes are text. */
static void test_binary_negotiation(void)
{
    static const char noop[24] = "\x80\x0a";
    engine_config_t config = {1u << 20, 1u << 10, 1, 1};
    engine_t e;
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    session_t s;
    protocol_start(&s, &e, PROTOCOL_MEMCACHED);
    buf_t out;
    buf_init(&out);
    CHECK(session_feed(&s, noop, 10, &out) == 0 && s.step == proto_binary_step, "0x80 first: binary");
    CHECK(session_feed(&s, noop, sizeof(noop), &out) == sizeof(noop), "a NOOP is consumed");
    CHECK(buf_len(&out) == 24 && (unsigned char)buf_head(&out)[0] == 0x81 && buf_head(&out)[1] == 0x0a, "NOOP answered");
    e.auth = auth_create();
    CHECK(e.auth != NULL, "auth_create");
    protocol_start(&s, &e, PROTOCOL_MEMCACHED);
    session_feed(&s, noop, sizeof(noop), &out);
    CHECK(s.step == proto_text_step, "with authentication 0x80 stays text");
    CHECK(sizeof(session_t) <= 56, "a session is %zu bytes, over the 56 a connection holds", sizeof(session_t));
    buf_free(&out);
    engine_destroy(&e);
}

/* A pipeline of quiet gets that hit stops at the output mark: what one feed queues is bounded by
 * the mark plus one response, and the rest of the input waits. */
static void test_binary_output_mark(void)
{
    engine_config_t config = {8u << 20, 1u << 20, 1, 1};
    engine_t e;
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    char value[1000];
    memset(value, 'v', sizeof(value));
    CHECK(cache_set(e.cache, "k", 1, value, sizeof(value), 0, 0) == STORE_OK, "set");
    enum { N = 1000, GETQ_LEN = 25 };
    static char in[N * GETQ_LEN];
    for (int i = 0; i < N; i++) {
        char *r = in + i * GETQ_LEN;
        memset(r, 0, GETQ_LEN);
        r[0] = (char)0x80;
        r[1] = 0x09;  /* GETQ */
        r[3] = 1;     /* key length */
        r[11] = 1;    /* body length */
        r[24] = 'k';
    }
    session_t s;
    protocol_start(&s, &e, PROTOCOL_BINARY);
    s.out_high_water = 16 * 1024;
    buf_t out;
    buf_init(&out);
    size_t used = session_feed(&s, in, sizeof(in), &out);
    CHECK(used < sizeof(in) && used % GETQ_LEN == 0, "stopped at a request boundary (%zu of %zu)", used, sizeof(in));
    CHECK(buf_len(&out) < s.out_high_water + 24 + 4 + sizeof(value), "output %zu bytes past the mark", buf_len(&out));
    size_t total = used, replies = buf_len(&out);
    while (total < sizeof(in)) {
        buf_consume(&out, buf_len(&out));
        size_t n = session_feed(&s, in + total, sizeof(in) - total, &out);
        CHECK(n > 0, "progress after draining");
        if (n == 0)
            break;
        total += n;
        replies += buf_len(&out);
    }
    CHECK(replies == (size_t)N * (24 + 4 + sizeof(value)), "every hit answered once (%zu bytes)", replies);
    buf_free(&out);
    engine_destroy(&e);
}

/* memcached's base64 decoder, quirks included: skipped bytes, stopping at padding, bad padding. */
static void test_meta_base64(void)
{
    static const struct { const char *in; const char *out; size_t n; } cases[] = {
        {"YQ==", "a", 1}, {"YWI=", "ab", 2}, {"YWJj", "abc", 3}, {"!Y*Q==", "a", 1}, {"YQ==YWJj", "a", 1},
        {"Y=Q=", "`", 1}, {"YQ", "", 0}, {"====", "", 0}, {"A===", "", 0}, {"", "", 0}, {"YWJjZA", "", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[16];
        size_t n = meta_b64_decode(cases[i].in, strlen(cases[i].in), out);
        CHECK(n == cases[i].n && memcmp(out, cases[i].out, n) == 0, "base64 \"%s\" decodes to %zu bytes", cases[i].in, n);
    }
    char encoded[8];
    CHECK(meta_b64_encode((const unsigned char *)"ab", 2, encoded) == 4 && memcmp(encoded, "YWI=", 4) == 0, "base64 of \"ab\"");
}

/* The store against the fuzz target's reference model (store_diff.c), on seeded random operation
 * sequences under each configuration: eviction, small items, held references, table doubling. */
/* The growth room: cache_memlimit may raise the limit as far as the cache reserved for, no further. */
static void test_limit_growth(void)
{
    cache_t *fixed = cache_create(8u << 20, 1u << 20, 1, 0);
    cache_t *growable = cache_create(8u << 20, 1u << 20, 2, 4);
    CHECK(fixed != NULL && growable != NULL, "cache_create");
    CHECK(cache_set_memory_limit(fixed, 4u << 20) == 0, "a limit without growth room may be lowered");
    CHECK(cache_set_memory_limit(fixed, 8u << 20) == 0, "and raised back to where it started");
    CHECK(cache_set_memory_limit(fixed, 16u << 20) != 0, "but not past it");
    CHECK(cache_set_memory_limit(growable, 32u << 20) == 0, "growth 4: up to 4 times the start");
    CHECK(cache_set_memory_limit(growable, 40u << 20) != 0, "growth 4: not past 4 times");
    cache_destroy(fixed);
    cache_destroy(growable);
}

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

#define SPLIT_ANYWHERE(proto, literal) test_split_anywhere((proto), (literal), sizeof(literal) - 1)

int main(void)
{
    test_cache_against_model(1);
    test_cache_against_model(8);
    test_eviction();
    test_slab(1u << 20);
    test_slab(8u << 20);
    test_slab(40u << 10); /* 4 KiB pages */
    test_slab(3000);      /* no pages: every block is big */
    test_store_memory();
    test_clock();
    test_clock_hot_item();
    test_store_against_diff_model();
    test_limit_growth();
    SPLIT_ANYWHERE(PROTOCOL_SIMPLE,
                   "set a hello world\r\nget a\r\nget b\ndelete a\r\ndelete a\r\nbogus\r\n\r\nset k v\r\nget k\r\nquit\r\nget k\r\n");
    SPLIT_ANYWHERE(PROTOCOL_MEMCACHED,
                   "set a 5 0 3\r\nabc\r\nget a b\r\ngets a\r\nappend a 0 0 2 noreply\r\nde\r\nincr n 1\r\n"
                   "set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\ntouch a 100\r\ngat 0 a\r\nset x 0 0 3\r\nabcd\r\n"
                   "delete a 0\r\nflush_all\r\nget n\r\nset big 0 0 2000000\r\nverbosity 1\r\nversion\r\n");
    /* set, getk, getq miss, appendq, incr (created, then hit), delete with a wrong cas, gat, an unknown
     * opcode with a body, stat settings, version, quit, and a noop after it */
    SPLIT_ANYWHERE(PROTOCOL_BINARY,
                   "\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x05\x00\x00\x00\x00\x61\x68\x65\x6c\x6c\x6f\x80\x0c\x00\x01\x00\x00\x00\x00\x00\x00"
                "\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x61\x80\x09\x00\x02\x00\x00\x00\x00\x00"
                "\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7a\x7a\x80\x19\x00\x01\x00\x00\x00"
                "\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x61\x21\x80\x05\x00\x01\x14"
                "\x00\x00\x00\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x6e\x80\x05\x00\x01\x14\x00\x00\x00"
                "\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                "\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x6e\x80\x04\x00\x01\x00\x00\x00\x00\x00\x00\x00"
                "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x61\x80\x1d\x00\x01\x04\x00\x00\x00\x00\x00"
                "\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x64\x61\x80\x01\x00\x03\x08"
                "\x00\x00\x00\x00\x00\x00\x33\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x62\x69\x67\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x55"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x61\x62"
                "\x63\x80\x10\x00\x08\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x73\x65\x74\x74\x69\x6e\x67\x73\x80\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    test_binary_negotiation();
    test_binary_output_mark();
    test_meta_base64();
    SPLIT_ANYWHERE(PROTOCOL_MEMCACHED,
                   "ms a 3 T100 F5 c k O1\r\nabc\r\nmg a v s f k h O9\r\nmg b q k\r\nms a 2 MX\r\nxy\r\n"
                   "ms YQ== 1 b k\r\nz\r\nmg YQ== b k v\r\nma n N0 J10 v\r\nma n MD D3 q\r\nmd n q\r\n"
                   "md a I\r\nmg a c v\r\nmg a\r\nms a 3 q\r\nabcde\r\nmn\r\nme a\r\n");
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("engine_test: all checks passed\n");
    return 0;
}

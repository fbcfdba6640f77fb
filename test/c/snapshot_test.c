/* snapshot_test: the snapshot file round trip in C, without Node: a save then a load gives back
 * every item (value, flags, expiry, cas), and any damaged copy is refused with nothing loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "snapshot.h"

#include "check.h"

#define NITEMS 3000

static int _engine(engine_t *e, size_t limit)
{
    engine_config_t config = {limit, 1u << 20, 2, 1};
    return engine_init(e, &config);
}

static void _fill(engine_t *e)
{
    for (int i = 0; i < NITEMS; i++) {
        char key[32], value[600];
        int nkey = snprintf(key, sizeof(key), "key:%d", i);
        size_t nvalue = (size_t)(i * 7) % sizeof(value);
        memset(value, 'a' + i % 26, nvalue);
        store_write_t w = {STORE_MODE_SET, key, (size_t)nkey, value, nvalue, (uint32_t)(i % 3 ? i : 0),
                           i % 5 == 0 ? engine_exptime(e, 3600) : 0, 0, NULL};
        CHECK(cache_write(e->cache, &w, NULL) == STORE_OK, "set %s", key);
    }
}

/* Every item of a in b, with the same bytes, flags, expiry (as a unix time) and cas. */
static void _same(engine_t *a, engine_t *b)
{
    for (int i = 0; i < NITEMS; i++) {
        char key[32];
        int nkey = snprintf(key, sizeof(key), "key:%d", i);
        item_t *x = cache_get(a->cache, key, (size_t)nkey), *y = cache_get(b->cache, key, (size_t)nkey);
        CHECK(x && y, "%s in both", key);
        if (x && y) {
            CHECK(x->nvalue == y->nvalue && memcmp(item_value(x), item_value(y), x->nvalue) == 0, "%s value", key);
            CHECK(item_flags(x) == item_flags(y) && x->cas == y->cas, "%s flags and cas", key);
            CHECK((x->exptime == 0) == (y->exptime == 0) &&
                      (x->exptime == 0 || x->exptime + a->started == y->exptime + b->started),
                  "%s expiry", key);
        }
        if (x)
            cache_release(a->cache, x);
        if (y)
            cache_release(b->cache, y);
    }
}

static void test_round_trip(const char *path)
{
    engine_t a, b;
    CHECK(_engine(&a, 16u << 20) == 0 && _engine(&b, 16u << 20) == 0, "engines");
    _fill(&a);
    snapshot_report_t r;
    CHECK(snapshot_save(&a, path, &r) == SNAPSHOT_OK, "save: %s", r.error);
    CHECK(r.items == NITEMS, "saved %llu", (unsigned long long)r.items);
    CHECK(snapshot_load(&b, path, &r) == SNAPSHOT_OK, "load: %s", r.error);
    CHECK(r.items == NITEMS && r.dropped == 0 && r.expired == 0, "loaded %llu", (unsigned long long)r.items);
    _same(&a, &b);
    /* A later unique is above every restored one. */
    store_write_t w = {STORE_MODE_SET, "fresh", 5, "v", 1, 0, 0, 0, NULL};
    uint64_t cas = 0, highest = 0;
    CHECK(cache_write(b.cache, &w, &cas) == STORE_OK, "fresh set");
    for (int i = 0; i < NITEMS; i++) {
        char key[32];
        int nkey = snprintf(key, sizeof(key), "key:%d", i);
        item_t *it = cache_get(b.cache, key, (size_t)nkey);
        if (it) {
            highest = it->cas > highest ? it->cas : highest;
            cache_release(b.cache, it);
        }
    }
    CHECK(cas > highest, "cas %llu after %llu", (unsigned long long)cas, (unsigned long long)highest);
    engine_destroy(&a);
    engine_destroy(&b);
}

/* Each byte flipped in turn over a sample of offsets, and each truncation: refused, nothing loaded. */
static void test_damage(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "open %s", path);
    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *good = malloc((size_t)size), *copy = malloc((size_t)size);
    CHECK(good && copy && fread(good, 1, (size_t)size, f) == (size_t)size, "read");
    fclose(f);
    for (long off = 0; good && copy && off < size; off += 1 + off / 8) {
        memcpy(copy, good, (size_t)size);
        copy[off] ^= 0x10;
        engine_t e;
        CHECK(_engine(&e, 16u << 20) == 0, "engine");
        snapshot_report_t r;
        memset(&r, 0, sizeof(r));
        CHECK(snapshot_load_bytes(&e, copy, (size_t)size, "copy", &r) == SNAPSHOT_INVALID, "flip at %ld loaded", off);
        CHECK(snapshot_load_bytes(&e, good, (size_t)off, "cut", &r) == SNAPSHOT_INVALID, "cut at %ld loaded", off);
        store_stats_t st;
        cache_get_stats(e.cache, &st);
        CHECK(st.items == 0, "items after a refused load: %llu", (unsigned long long)st.items);
        engine_destroy(&e);
    }
    free(good);
    free(copy);
}

/* A smaller store keeps what fits and counts the rest. */
static void test_smaller(const char *path)
{
    engine_t e;
    CHECK(_engine(&e, 1u << 20) == 0, "engine");
    snapshot_report_t r;
    CHECK(snapshot_load(&e, path, &r) == SNAPSHOT_OK, "load: %s", r.error);
    store_stats_t st;
    cache_get_stats(e.cache, &st);
    CHECK(r.items + r.dropped == NITEMS && r.dropped > 0 && st.items == r.items, "kept %llu dropped %llu held %llu",
          (unsigned long long)r.items, (unsigned long long)r.dropped, (unsigned long long)st.items);
    engine_destroy(&e);
}

int main(void)
{
    char path[] = "/tmp/simplecached-snapshot-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0)
        close(fd);
    test_round_trip(path);
    test_damage(path);
    test_smaller(path);
    engine_t e;
    snapshot_report_t r;
    CHECK(_engine(&e, 1u << 20) == 0, "engine");
    CHECK(snapshot_load(&e, "/nonexistent/simplecached.snap", &r) == SNAPSHOT_MISSING, "missing file");
    engine_destroy(&e);
    unlink(path);
    if (failures)
        return 1;
    printf("snapshot_test: all checks passed\n");
    return 0;
}

/* bufref_test: output buffers that refer to item memory — the stream they flatten to, partial
 * consumption at every offset, release on completion and on drop, and every protocol's replies. */
#include <stdlib.h>
#include <string.h>

#include "bufref.h"
#include "check.h"
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "value_out.h"

/* ---- the mechanism alone, with a release that counts ---- */

static int released[4];

static void count_release(void *owner, void *ref)
{
    (void)owner;
    released[(int)(size_t)ref]++;
}

/* "AB" [xxxx] "CD" [yy] "E": two pieces between raw bytes. */
static const char STREAM[] = "ABxxxxCDyyE";

static void build(buf_t *b, buf_refs_t *refs)
{
    buf_init(b);
    bufref_attach(b, refs, count_release);
    memset(released, 0, sizeof(released));
    buf_append_lit(b, "AB");
    CHECK(bufref_add(b, "xxxx", 4, NULL, (void *)1) == 0, "add");
    buf_append_lit(b, "CD");
    CHECK(bufref_add(b, "yy", 2, NULL, (void *)2) == 0, "add");
    buf_append_lit(b, "E");
}

/* The stream b still owes, gathered from its chunks; its length in *n. */
static char *flatten(const buf_t *b, size_t *n)
{
    size_t count = bufref_nchunks(b);
    buf_chunk_t *chunks = calloc(count + 1, sizeof(*chunks));
    char *flat = malloc(buf_pending(b) + 1);
    CHECK(bufref_chunks(b, chunks, count + 1) == count, "chunks listed as counted");
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        CHECK(chunks[i].n > 0, "no empty chunk");
        memcpy(flat + at, chunks[i].p, chunks[i].n);
        at += chunks[i].n;
    }
    CHECK(at == buf_pending(b), "chunks add up to the pending bytes");
    free(chunks);
    *n = at;
    return flat;
}

static void test_mechanism(void)
{
    size_t total = sizeof(STREAM) - 1;
    buf_t b;
    buf_refs_t refs;
    build(&b, &refs);
    size_t n;
    char *flat = flatten(&b, &n);
    CHECK(n == total && memcmp(flat, STREAM, n) == 0, "the stream interleaves bytes and pieces in order");
    CHECK(bufref_nchunks(&b) == 5, "5 chunks, not %zu", bufref_nchunks(&b));
    buf_chunk_t two[2];
    CHECK(bufref_chunks(&b, two, 2) == 2 && two[1].n == 4 && memcmp(two[1].p, "xxxx", 4) == 0, "a short list stops at max");
    free(flat);
    bufref_drop(&b);
    bufref_free(&refs);
    buf_free(&b);

    /* A partial write at every offset, then another at every later one. */
    for (size_t first = 0; first <= total; first++) {
        for (size_t second = first; second <= total; second++) {
            build(&b, &refs);
            bufref_consume(&b, first);
            bufref_consume(&b, second - first);
            flat = flatten(&b, &n);
            CHECK(n == total - second && memcmp(flat, STREAM + second, n) == 0, "rest after %zu+%zu", first, second - first);
            CHECK(released[1] == (second >= 6) && released[2] == (second >= 10),
                  "a piece is released once wholly sent (%zu: %d %d)", second, released[1], released[2]);
            free(flat);
            /* What is left moves to another output intact, its references handed over... */
            buf_t dst;
            buf_refs_t dst_refs;
            buf_init(&dst);
            bufref_attach(&dst, &dst_refs, count_release);
            buf_append_lit(&dst, "<");
            CHECK(bufref_move(&dst, &b) == 0 && buf_pending(&b) == 0, "moved");
            flat = flatten(&dst, &n);
            CHECK(n == 1 + total - second && flat[0] == '<' && memcmp(flat + 1, STREAM + second, n - 1) == 0, "moved intact");
            CHECK(released[1] == (second >= 6) && released[2] == (second >= 10), "a move releases nothing");
            free(flat);
            /* ...and a drop (an abort) releases every piece exactly once. */
            bufref_drop(&dst);
            CHECK(released[1] == 1 && released[2] == 1 && buf_pending(&dst) == 0, "dropped: all released once");
            bufref_free(&dst_refs);
            buf_free(&dst);
            bufref_free(&refs);
            buf_free(&b);
        }
    }

    /* A flat output (the TLS feed, fuzzers) takes no reference: moving into it copies. */
    build(&b, &refs);
    buf_t plain;
    buf_init(&plain);
    CHECK(bufref_add(&plain, "zz", 2, NULL, (void *)3) == -1, "a flat buffer refuses references");
    CHECK(bufref_move(&plain, &b) == 0 && released[1] == 1 && released[2] == 1, "copied, then released");
    CHECK(buf_len(&plain) == total && memcmp(buf_head(&plain), STREAM, total) == 0, "copied in order");
    buf_free(&plain);
    bufref_free(&refs);
    buf_free(&b);

    /* Byte by byte through many pieces: the list is reused as it empties and grows past its start. */
    build(&b, &refs);
    for (int i = 0; i < 300; i++) {
        buf_append_lit(&b, "r");
        CHECK(bufref_add(&b, "pp", 2, NULL, (void *)3) == 0, "add");
        if (i % 7 == 0)
            bufref_consume(&b, 3);
    }
    size_t left = buf_pending(&b);
    while (left > 0) {
        bufref_consume(&b, 1);
        CHECK(buf_pending(&b) == --left, "one byte at a time");
    }
    CHECK(released[3] == 300, "every piece released once: %d", released[3]);
    bufref_free(&refs);
    buf_free(&b);
}

/* ---- every protocol's replies, referring to items ---- */

#define BIG (VALUE_OUT_REF_MIN * 3 + 7)

/* Feeds in whole to a fresh session speaking proto, appending to out. */
static void feed(engine_t *e, protocol_t proto, const char *in, size_t len, buf_t *out)
{
    session_t s;
    protocol_start(&s, e, proto);
    CHECK(session_feed(&s, in, len, out) == len, "the whole input is consumed");
    protocol_end(&s);
}

static uint64_t item_bytes(engine_t *e)
{
    store_stats_t st;
    cache_get_stats(e->cache, &st);
    return st.bytes;
}

/* The same requests answered into a flat buffer and into one that refers: the same stream; and the
 * referred values stay intact while their keys are replaced and deleted, and are given back once
 * sent, part by part. */
static void test_protocol(protocol_t proto, const char *in, size_t len, unsigned expect_refs)
{
    engine_config_t config = {64u << 20, 1u << 20, 1, 1};
    engine_t e;
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    char *value = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        value[i] = (char)('a' + i % 26);
    CHECK(cache_set(e.cache, "big", 3, value, BIG, 7, 0) == STORE_OK, "set big");
    CHECK(cache_set(e.cache, "small", 5, "tiny", 4, 0, 0) == STORE_OK, "set small");
    uint64_t bytes_before = item_bytes(&e);

    buf_t flat, out;
    buf_refs_t refs;
    buf_init(&flat);
    buf_init(&out);
    bufref_attach(&out, &refs, value_out_release);
    feed(&e, proto, in, len, &flat);
    feed(&e, proto, in, len, &out);
    CHECK(refs.count - refs.head == expect_refs, "%zu references, not %u", refs.count - refs.head, expect_refs);
    CHECK(buf_len(&out) + expect_refs * (size_t)BIG == buf_len(&flat), "only the large values are referred to");

    /* Replaced, then deleted, while referred to: the reply is unchanged, the old item kept. */
    memset(value, 'Z', BIG);
    CHECK(cache_set(e.cache, "big", 3, value, BIG, 0, 0) == STORE_OK, "replace big");
    CHECK(cache_delete(e.cache, "big", 3) == STORE_OK, "delete big");
    size_t n;
    char *got = flatten(&out, &n);
    CHECK(n == buf_len(&flat) && memcmp(got, buf_head(&flat), n) == 0, "the referring stream is the flat one");
    free(got);
    CHECK(expect_refs == 0 || item_bytes(&e) == bytes_before, "the deleted item's memory is held while referred to");

    /* Sent in uneven parts: each part is what comes next, and the old item goes with its last byte. */
    size_t sent = 0, step = 1;
    while (buf_pending(&out) > 0) {
        size_t k = step < buf_pending(&out) ? step : buf_pending(&out);
        buf_chunk_t first;
        CHECK(bufref_chunks(&out, &first, 1) == 1, "a chunk to send");
        size_t cmp = k < first.n ? k : first.n;
        CHECK(memcmp(first.p, buf_head(&flat) + sent, cmp) == 0, "part at %zu", sent);
        bufref_consume(&out, k);
        sent += k;
        step = step * 3 + 1;
    }
    CHECK(sent == buf_len(&flat), "all sent");
    CHECK(item_bytes(&e) < bytes_before, "the old item is freed once sent");

    /* And dropped unsent (an abort): given back all the same. */
    CHECK(cache_set(e.cache, "big", 3, value, BIG, 7, 0) == STORE_OK, "set big again");
    bytes_before = item_bytes(&e);
    feed(&e, proto, in, len, &out);
    CHECK(cache_delete(e.cache, "big", 3) == STORE_OK, "delete big");
    CHECK(expect_refs == 0 || item_bytes(&e) == bytes_before, "held until dropped");
    bufref_drop(&out);
    CHECK(item_bytes(&e) < bytes_before, "freed when dropped");

    bufref_free(&refs);
    buf_free(&out);
    buf_free(&flat);
    free(value);
    engine_destroy(&e);
}

#define TEST_PROTOCOL(proto, in, refs) test_protocol((proto), (in), sizeof(in) - 1, (refs))

/* A binary request for opcode op with key k, and extlen bytes of zero extras (a gat's exptime). */
static size_t binary_req(char *p, unsigned char op, unsigned char extlen, const char *k)
{
    size_t nk = strlen(k);
    memset(p, 0, 24 + extlen);
    p[0] = (char)0x80;
    p[1] = (char)op;
    p[3] = (char)nk;
    p[4] = (char)extlen;
    p[11] = (char)(nk + extlen);
    memcpy(p + 24 + extlen, k, nk);
    return 24 + extlen + nk;
}

int main(void)
{
    test_mechanism();
    TEST_PROTOCOL(PROTOCOL_SIMPLE, "get big\r\nget small\r\nget none\r\nget big\r\n", 2);
    TEST_PROTOCOL(PROTOCOL_MEMCACHED, "get big small none big\r\ngets big\r\ngat 100 big small\r\ngats 0 big\r\n", 5);
    TEST_PROTOCOL(PROTOCOL_MEMCACHED, "mg big v f s k\r\nmg small v\r\nmg big s\r\nmg big v q\r\nmn\r\n", 2);
    char bin[512];
    size_t n = 0;
    n += binary_req(bin + n, 0x00, 0, "big");    /* get */
    n += binary_req(bin + n, 0x0c, 0, "big");    /* getk */
    n += binary_req(bin + n, 0x09, 0, "big");    /* getq */
    n += binary_req(bin + n, 0x0d, 0, "small");  /* getkq */
    n += binary_req(bin + n, 0x0d, 0, "big");    /* getkq */
    n += binary_req(bin + n, 0x1d, 4, "big");    /* gat */
    n += binary_req(bin + n, 0x1e, 4, "big");    /* gatq */
    n += binary_req(bin + n, 0x23, 4, "big");    /* gatk */
    n += binary_req(bin + n, 0x0a, 0, "");       /* noop */
    test_protocol(PROTOCOL_BINARY, bin, n, 7);
    if (failures == 0)
        printf("bufref_test: all checks passed\n");
    return failures != 0;
}

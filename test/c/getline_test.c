/* getline_test: get lines too long to wait for, fed in pieces through a session with a low output
 * mark — one item named 70,000 times (its reference count must not run over), a key too long
 * after thousands of hits, and a NUL ending the line. Under ASan a miscounted reference shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "protocols.h"
#include "session.h"

#include "check.h"

/* Feeds data in pieces of `piece` bytes as a connection would: what a feed leaves stays pending,
 * and a session with more to send is fed again; every reply lands in replies. */
static void feed(session_t *s, const char *data, size_t len, size_t piece, buf_t *replies)
{
    buf_t pending, out;
    buf_init(&pending);
    buf_init(&out);
    for (size_t at = 0; at < len || buf_len(&pending) > 0;) {
        size_t n = len - at < piece ? len - at : piece;
        CHECK(buf_append(&pending, data + at, n) == 0, "buf_append");
        at += n;
        for (;;) {
            size_t used = session_feed(s, buf_head(&pending), buf_len(&pending), &out);
            buf_consume(&pending, used);
            CHECK(buf_append(replies, buf_head(&out), buf_len(&out)) == 0, "buf_append");
            bool produced = buf_len(&out) > 0;
            buf_consume(&out, buf_len(&out));
            if (s->state != SESSION_OPEN || (used == 0 && !produced && !s->producing))
                break;
        }
        if (s->state != SESSION_OPEN || (at == len && n == 0))
            break;
    }
    buf_free(&pending);
    buf_free(&out);
}

static size_t count(const buf_t *b, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = buf_head(b), *end = p + buf_len(b); (p = memmem(p, (size_t)(end - p), needle, len)) != NULL; p += len)
        n++;
    return n;
}

static bool ends_with(const buf_t *b, const char *tail)
{
    size_t n = strlen(tail);
    return buf_len(b) >= n && memcmp(buf_head(b) + buf_len(b) - n, tail, n) == 0;
}

/* "get" or "gets", then `times` copies of word, then tail (ntail bytes: it may hold a NUL). */
static char *line_of(const char *command, const char *word, size_t times, const char *tail, size_t ntail, size_t *len)
{
    size_t nword = strlen(word), ncommand = strlen(command);
    char *p = malloc(ncommand + times * nword + ntail);
    CHECK(p != NULL, "malloc");
    if (p == NULL)
        exit(1);
    memcpy(p, command, ncommand);
    for (size_t i = 0; i < times; i++)
        memcpy(p + ncommand + i * nword, word, nword);
    memcpy(p + ncommand + times * nword, tail, ntail);
    *len = ncommand + times * nword + ntail;
    return p;
}

static void run(size_t piece)
{
    engine_t e;
    engine_config_t config = {64u << 20, 1u << 20, 1, 1};
    CHECK(engine_init(&e, &config) == 0, "engine_init");
    session_t s;
    protocol_start(&s, &e, PROTOCOL_MEMCACHED);
    s.proto.text.authenticated = true;
    s.out_high_water = 4096;
    buf_t replies;
    buf_init(&replies);
    static const char set[] = "set a 0 0 1\r\nx\r\n";
    feed(&s, set, sizeof(set) - 1, piece, &replies);

    size_t len;
    char *same = line_of("get ", "a ", 70000, "\r\n", 2, &len);
    buf_consume(&replies, buf_len(&replies));
    feed(&s, same, len, piece, &replies);
    CHECK(count(&replies, "VALUE a 0 1\r\nx\r\n") == 70000, "piece %zu: %zu values", piece, count(&replies, "VALUE a 0 1\r\nx\r\n"));
    CHECK(ends_with(&replies, "x\r\nEND\r\n"), "piece %zu: no END", piece);
    free(same);

    static const char bad_tail[] = "b c ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
                        "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
                        "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd a\r\nget a\r\n";
    char *bad = line_of("gets ", "a ", 3000, bad_tail, sizeof(bad_tail) - 1, &len);
    buf_consume(&replies, buf_len(&replies));
    feed(&s, bad, len, piece, &replies);
    static const char bad_reply[] = "CLIENT_ERROR bad command line format\r\nVALUE a 0 1\r\nx\r\nEND\r\n";
    CHECK(buf_len(&replies) == sizeof(bad_reply) - 1 && memcmp(buf_head(&replies), bad_reply, sizeof(bad_reply) - 1) == 0,
          "piece %zu: a key too long answered %.*s", piece, (int)(buf_len(&replies) < 200 ? buf_len(&replies) : 200), buf_head(&replies));
    free(bad);

    static const char cut_tail[] = "a\0 a a\r\nget a\r\n";
    char *cut = line_of("get ", "nope ", 600, cut_tail, sizeof(cut_tail) - 1, &len);
    buf_consume(&replies, buf_len(&replies));
    feed(&s, cut, len, piece, &replies);
    static const char cut_reply[] = "VALUE a 0 1\r\nx\r\nEND\r\nVALUE a 0 1\r\nx\r\nEND\r\n";
    CHECK(buf_len(&replies) == sizeof(cut_reply) - 1 && memcmp(buf_head(&replies), cut_reply, sizeof(cut_reply) - 1) == 0,
          "piece %zu: a NUL answered %.*s", piece, (int)(buf_len(&replies) < 200 ? buf_len(&replies) : 200), buf_head(&replies));
    free(cut);

    /* Every reference the lines took is back: the item is freed at its delete (ASan checks). */
    static const char del[] = "delete a\r\nget a\r\n";
    buf_consume(&replies, buf_len(&replies));
    feed(&s, del, sizeof(del) - 1, piece, &replies);
    CHECK(buf_len(&replies) == 14 && memcmp(buf_head(&replies), "DELETED\r\nEND\r\n", 14) == 0, "delete");
    store_stats_t st;
    cache_get_stats(e.cache, &st);
    CHECK(st.bytes == 0, "piece %zu: %llu bytes of items still held", piece, (unsigned long long)st.bytes);
    buf_free(&replies);
    protocol_end(&s);
    engine_destroy(&e);
}

int main(void)
{
    run(1 << 20);
    run(4093);
    run(7);
    if (failures) {
        fprintf(stderr, "getline_test: %d checks failed\n", failures);
        return 1;
    }
    printf("getline_test: all checks passed\n");
    return 0;
}

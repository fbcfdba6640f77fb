/* requests.c - what a connection asks: a set of one key or a get of --multiget distinct random keys,
 * queued in the connection's ring, encoded in the run's protocol, and the reply matched by the same protocol. */
#define _GNU_SOURCE
#include "codec.h"

static void encode_set(const struct bench *b, struct buffer *out, const struct request *req)
{
    if (b->opt.protocol == PROTO_BINARY)
        binary_encode_set(b, out, req);
    else
        text_encode_set(b, out, req);
}

void request_enqueue_set(struct bench *b, struct conn *c, uint32_t key, uint64_t now)
{
    struct request *req = queue_slot(c, c->inflight++);
    req->sent_ns = now;
    req->is_set = true;
    req->nkeys = 1;
    req->keys[0] = key;
    encode_set(b, &c->out, req);
}

static bool contains_key(const uint32_t *keys, unsigned n, uint32_t key)
{
    for (unsigned i = 0; i < n; i++)
        if (keys[i] == key)
            return true;
    return false;
}

/* Floyd's sampling: exactly n draws for n distinct keys, even when n is close to the key
 * space, where retrying on duplicates would take ever longer. */
static void pick_distinct_keys(uint64_t *rng, uint32_t key_space, uint32_t *keys, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t j = key_space - n + i;
        uint32_t t = (uint32_t)(next_random(rng) % ((uint64_t)j + 1));
        keys[i] = contains_key(keys, i, t) ? j : t;
    }
}

void request_enqueue_get(struct bench *b, struct conn *c, uint64_t now)
{
    struct request *req = queue_slot(c, c->inflight++);
    req->sent_ns = now;
    req->is_set = false;
    req->nkeys = (unsigned)b->opt.multiget;
    pick_distinct_keys(&c->rng, (uint32_t)b->opt.keys, req->keys, req->nkeys);
    if (b->opt.protocol == PROTO_BINARY)
        binary_encode_get(&c->out, req);
    else
        text_encode_get(&c->out, req);
}

/* Parses the reply to `req` at the front of p. Anything other than the expected reply
 * (ERROR, CLIENT_ERROR, SERVER_ERROR, a wrong key...) ends at the offending line and is
 * REPLY_ERROR. */
enum reply request_parse_reply(const struct bench *b, const struct request *req,
                               const char *p, size_t avail, struct parsed *out)
{
    out->consumed = 0;
    out->hits = 0;
    if (b->opt.protocol == PROTO_BINARY)
        return binary_parse(b, req, p, avail, out);
    if (req->is_set)
        return text_parse_set(p, avail, out);
    if (b->opt.protocol == PROTO_SIMPLE)
        return text_parse_simple_get(b, req, p, avail, out);
    return text_parse_get(b, req, p, avail, out);
}

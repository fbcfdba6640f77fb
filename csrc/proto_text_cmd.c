/* proto_text_cmd: memcached's tokenizer and the reply helper that every text-protocol handler uses.
 * Splitting on single spaces with a 24-token cap is what makes odd spacing answer as memcached does. */
#include "proto_text_cmd.h"

#include <string.h>

size_t text_tokenize(const char *p, const char *end, token_t *t)
{
    size_t nt = 0;
    const char *s = p, *e = p;
    for (; e < end; e++) {
        if (*e != ' ')
            continue;
        if (s != e) {
            t[nt++] = (token_t){s, (size_t)(e - s)};
            if (nt == MAX_TOKENS - 1) {
                s = ++e;
                break;
            }
        }
        s = e + 1;
    }
    if (s != e)
        t[nt++] = (token_t){s, (size_t)(e - s)};
    t[nt++] = (token_t){e < end ? e : NULL, 0};
    return nt;
}

bool text_token_is(const token_t *t, const char *word)
{
    size_t n = strlen(word);
    return t->n == n && memcmp(t->p, word, n) == 0;
}

void text_reply(cmd_t *c, const char *str, size_t n)
{
    if (text_verbose(c->s))
        text_log_reply(c, str, n);
    if (c->noreply)
        return;
    if (buf_reserve(c->out, n + 2) != 0) {
        c->s->state = SESSION_BROKEN;
        return;
    }
    memcpy(buf_tail(c->out), str, n);
    memcpy(buf_tail(c->out) + n, "\r\n", 2);
    c->out->end += n + 2;
}

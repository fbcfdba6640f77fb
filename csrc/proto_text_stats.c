/* proto_text_stats: the text protocol's "stats" command: the engine's pairs (stats.c) composed as
 * memcached's "STAT <name> <value>" lines and "END", plus "stats reset" and "stats detail". */
#include "proto_text_cmd.h"

#include <string.h>

#include "mcnum.h"
#include "replies.h"
#include "stats.h"

static int _line(void *ctx, const char *name, const char *value)
{
    buf_t *out = ctx;
    size_t nname = strlen(name), nvalue = strlen(value);
    if (buf_reserve(out, 5 + nname + 1 + nvalue + 2) != 0)
        return -1;
    buf_append_lit(out, "STAT ");
    buf_append(out, name, nname);
    buf_append_lit(out, " ");
    buf_append(out, value, nvalue);
    return buf_append_lit(out, "\r\n");
}

/* "stats cachedump <class> <limit>": the live items of one class (limit 0: all, within 2 MiB). */
static void _cachedump(cmd_t *c)
{
    uint32_t id, limit;
    if (c->nt < 5) {
        REPLY(c, TEXT_BAD_COMMAND_LINE);
    } else if (!mcnum_u32(c->t[2].p, c->t[2].n, &id) || !mcnum_u32(c->t[3].p, c->t[3].n, &limit)) {
        REPLY(c, TEXT_BAD_FORMAT);
    } else if (id > 63) {
        REPLY(c, TEXT_ILLEGAL_SLAB_ID);
    } else {
        text_dump_begin(c, DUMP_CACHEDUMP, id == 0 ? 0 : (uint64_t)1 << (id - 1), limit);
    }
}

/* "stats detail on|off|dump": memcached's per-prefix counters (prefix.h). */
static void _detail(cmd_t *c)
{
    prefix_stats_t *prefixes = c->s->engine->prefixes;
    const token_t *what = &c->t[2];
    if (c->nt != 4) {
        REPLY(c, TEXT_STATS_DETAIL_USAGE);
    } else if (text_token_is(what, "on") || text_token_is(what, "off")) {
        prefix_enable(prefixes, what->p[1] == 'n');
        REPLY(c, TEXT_OK);
    } else if (text_token_is(what, "dump")) {
        if (prefix_dump(prefixes, c->out) != 0)
            c->s->state = SESSION_BROKEN;
    } else {
        REPLY(c, TEXT_STATS_DETAIL_USAGE);
    }
}

void text_stats(cmd_t *c)
{
    session_t *s = c->s;
    const token_t *sub = &c->t[1];
    if (c->nt > 2 && text_token_is(sub, "reset")) {
        engine_stats_reset(s->engine);
        REPLY(c, TEXT_RESET);
        return;
    }
    if (c->nt > 2 && text_token_is(sub, "cachedump")) {
        _cachedump(c);
        return;
    }
    if (c->nt > 2 && text_token_is(sub, "detail")) {
        _detail(c);
        return;
    }
    int rc = c->nt == 2 ? stats_report(s->engine, "", 0, _line, c->out)
                        : stats_report(s->engine, sub->p, sub->n, _line, c->out);
    if (rc == 1)
        REPLY(c, TEXT_ERROR);
    else if (rc != 0 || buf_append_lit(c->out, TEXT_END "\r\n") != 0)
        s->state = SESSION_BROKEN;
}

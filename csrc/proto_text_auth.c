/* proto_text_auth: memcached 1.6's ascii authentication (-Y). Until a text session authenticates,
 * every line is read as the auth "set", and everything else answers "CLIENT_ERROR unauthenticated". */
#include "proto_text.h"
#include "proto_text_cmd.h"

#include <stdint.h>
#include <string.h>

#include "auth.h"
#include "mcnum.h"
#include "replies.h"

/* memcached reads the auth data block into its 16 KiB read buffer; a longer one closes. */
#define AUTH_MAX_DATA 16384

/* The data block "<user> <password>[ ...]" (a C string to memcached: a NUL ends it) has arrived. */
static void _auth_data(cmd_t *c, const char *data, size_t n)
{
    session_t *s = c->s;
    const char *nul = memchr(data, '\0', n);
    token_t t[MAX_TOKENS];
    if (text_tokenize(data, nul ? nul : data + n, t) < 3) {
        REPLY(c, TEXT_AUTH_BAD_TOKEN);
        return;
    }
    stat_add(&s->stats->auth_cmds, 1);
    if (auth_check(s->engine->auth, t[0].p, t[0].n, t[1].p, t[1].n)) {
        s->proto.text.authenticated = true;
        REPLY(c, TEXT_STORED);
    } else {
        stat_add(&s->stats->auth_errors, 1);
        REPLY(c, TEXT_AUTH_FAILURE);
    }
}

/* memcached 1.6's try_read_command_asciiauth: "set <any> <any> <any> <bytes>\r\n" then a data
 * block of <bytes> + "\r\n". Key, flags, exptime and noreply are ignored; anything else is
 * answered "CLIENT_ERROR unauthenticated" and the connection stays open. The line stays
 * unconsumed until its data block is complete. Returns bytes consumed, 0 = need more. */
size_t proto_text_auth_step(session_t *s, const char *in, size_t len, buf_t *out)
{
    if (len < 2)
        return 0;
    const char *nl = memchr(in, '\n', len);
    if (nl == NULL) {
        if (len > TEXT_MAX_LINE)
            s->state = SESSION_BROKEN;
        return 0;
    }
    size_t line_len = (size_t)(nl - in) + 1;
    /* Unlike other commands the "\r" stays in the line (number parsing stops at it). */
    const char *nul = memchr(in, '\0', line_len - 1);
    cmd_t c = {.s = s, .out = out};
    c.nt = text_tokenize(in, nul ? nul : nl, c.t);
    uint32_t bytes;
    if (c.nt < 6 || !text_token_is(&c.t[0], "set") || !mcnum_u32(c.t[4].p, c.t[4].n, &bytes)) {
        REPLY(&c, TEXT_UNAUTHENTICATED);
        return line_len;
    }
    uint32_t need = bytes + 2;  /* wraps at 2^32 as in memcached */
    size_t have = len - line_len;
    if (need > AUTH_MAX_DATA) {
        if (have > AUTH_MAX_DATA)
            s->state = SESSION_BROKEN;
        return 0;
    }
    if (have < need)
        return 0;
    const char *data = nl + 1;
    if (need < 2 || data[need - 2] != '\r' || data[need - 1] != '\n')
        REPLY(&c, TEXT_BAD_TERMINATION);
    else
        _auth_data(&c, data, need - 2);
    return line_len + need;
}

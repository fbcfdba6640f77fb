/* proto_binary_sasl: memcached's SASL commands (-S) with the one mechanism served, PLAIN, checked
 * against the auth file's users; and the rule that nothing else runs before a client authenticates. */
#include "proto_binary_sasl.h"

#include <string.h>
#include <strings.h>

#include "cache.h"

/* memcached refuses a mechanism name longer than this as invalid. */
#define SASL_MAX_MECH_LEN 32
#define SASL_MECHS "PLAIN"
#define SASL_AUTHENTICATED "Authenticated"

bool binary_sasl_allows(const binary_req_t *r)
{
    if (!r->s->engine->sasl)
        return true;
    switch (r->cmd) {
    case BINARY_OP_SASL_LIST_MECHS:
    case BINARY_OP_SASL_AUTH:
    case BINARY_OP_SASL_STEP:
    case BINARY_OP_VERSION:
        return true;
    default:
        return r->s->proto.binary.authenticated;
    }
}

/* PLAIN's message, RFC 4616: [authzid] NUL authcid NUL passwd. A client may name only itself as
 * the identity to act as (as Cyrus SASL allows without a proxy policy). */
static bool _plain_ok(auth_t *auth, const char *msg, size_t n)
{
    const char *nul1 = memchr(msg, '\0', n);
    if (auth == NULL || nul1 == NULL)
        return false;
    const char *user = nul1 + 1;
    const char *nul2 = memchr(user, '\0', n - (size_t)(user - msg));
    if (nul2 == NULL)
        return false;
    size_t nuser = (size_t)(nul2 - user), nzid = (size_t)(nul1 - msg);
    const char *pass = nul2 + 1;
    size_t npass = n - (size_t)(pass - msg);
    if (memchr(pass, '\0', npass) != NULL || nuser == 0)
        return false;
    if (nzid != 0 && (nzid != nuser || memcmp(msg, user, nuser) != 0))
        return false;
    return auth_check(auth, user, nuser, pass, npass);
}

/* The end of an exchange: memcached's "Authenticated", or its auth error; either way the session
 * is authenticated exactly when this one succeeded. */
static void _conclude(binary_req_t *r, bool ok)
{
    session_t *s = r->s;
    s->proto.binary.authenticated = ok;
    s->proto.binary.sasl_started = false;
    stat_add(&s->stats->auth_cmds, 1);
    if (ok) {
        binary_rsp_t p = {.opcode = r->opcode, .status = BINARY_ST_SUCCESS, .value = SASL_AUTHENTICATED,
                          .nvalue = sizeof(SASL_AUTHENTICATED) - 1};
        binary_compose(r, &p);
    } else {
        stat_add(&s->stats->auth_errors, 1);
        binary_error(r, BINARY_ST_AUTH_ERROR, NULL);
    }
}

bool binary_sasl_list_mechs(binary_req_t *r)
{
    if (r->extlen != 0 || r->keylen != 0 || r->bodylen != 0)
        return false;
    if (!r->s->engine->sasl)
        binary_error(r, BINARY_ST_UNKNOWN_COMMAND, NULL);
    else
        binary_success(r, SASL_MECHS, sizeof(SASL_MECHS) - 1, 0);
    return true;
}

bool binary_sasl_auth(binary_req_t *r, void (*swallow)(binary_req_t *, uint32_t))
{
    if (r->extlen != 0 || r->keylen == 0)
        return false;
    uint32_t vlen = r->bodylen - r->keylen;
    session_t *s = r->s;
    if (!s->engine->sasl) {
        /* Without SASL memcached refuses these as unknown, discarding the rest of the body. */
        binary_error(r, BINARY_ST_UNKNOWN_COMMAND, NULL);
        swallow(r, vlen);
        return true;
    }
    if (r->keylen > SASL_MAX_MECH_LEN) {
        binary_error(r, BINARY_ST_EINVAL, NULL);
        swallow(r, vlen);
        return true;
    }
    /* memcached reads the message into an item: one too large for an item is out of memory. */
    if (cache_too_large(s->engine->cache, r->keylen, 0, vlen)) {
        binary_error(r, BINARY_ST_ENOMEM, NULL);
        swallow(r, vlen);
        return true;
    }
    if (r->nrest < vlen) {
        r->need_more = true;
        return true;
    }
    r->consumed += vlen;
    bool plain = r->keylen == 5 && strncasecmp(r->key, "PLAIN", 5) == 0;
    if (r->cmd == BINARY_OP_SASL_AUTH && plain && vlen == 0) {
        /* PLAIN with no initial response: an empty challenge, then the message comes as a step. */
        s->proto.binary.sasl_started = true;
        binary_rsp_t p = {.opcode = r->opcode, .status = BINARY_ST_AUTH_CONTINUE};
        binary_compose(r, &p);
        return true;
    }
    bool may_step = r->cmd == BINARY_OP_SASL_AUTH || s->proto.binary.sasl_started;
    _conclude(r, may_step && plain && _plain_ok(s->engine->auth, r->rest, vlen));
    return true;
}

/* auth: the user/password table behind memcached's ascii authentication (`-Y <file>`): who may
 * open a memcached-protocol session. Lookups are safe from any thread; a reload swaps the table. */
#ifndef SC_AUTH_H
#define SC_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* What a credential may hold: memcached reads its file in lines of at most 255 bytes. */
#define AUTH_MAX_ENTRY 255
/* A bound on the table (memcached keeps 8 and silently ignores the rest; lib/ refuses more). */
#define AUTH_MAX_ENTRIES 1024

typedef struct auth auth_t;

typedef struct auth_cred {
    const char *user;
    size_t nuser;
    const char *pass;
    size_t npass;
} auth_cred_t;

/* An empty table: nobody can authenticate until auth_replace() fills it. NULL if out of memory. */
auth_t *auth_create(void);
void auth_destroy(auth_t *a);

/* Copies the n credentials in as the new table. Returns 0, or -1 (too many, too long, out of
 * memory) with the old table kept. */
int auth_replace(auth_t *a, const auth_cred_t *creds, size_t n);

/* Whether user/pass is in the table. Each entry is compared in time independent of where the
 * bytes differ (only the lengths show). */
bool auth_check(auth_t *a, const char *user, size_t nuser, const char *pass, size_t npass);

#endif

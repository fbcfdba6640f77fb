/* auth: a copied array of credentials under a mutex. Authentication happens once per connection,
 * so a lock is cheap here, and it lets a reload replace the table while I/O threads check it. */
#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct auth {
    pthread_mutex_t lock;
    auth_cred_t *creds;  /* pointing into bytes */
    char *bytes;
    size_t n;
};

auth_t *auth_create(void)
{
    auth_t *a = calloc(1, sizeof(*a));
    if (a != NULL && pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        a = NULL;
    }
    return a;
}

void auth_destroy(auth_t *a)
{
    if (a == NULL)
        return;
    free(a->creds);
    free(a->bytes);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int auth_replace(auth_t *a, const auth_cred_t *creds, size_t n)
{
    if (n > AUTH_MAX_ENTRIES)
        return -1;
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (creds[i].nuser + creds[i].npass > AUTH_MAX_ENTRY)
            return -1;
        total += creds[i].nuser + creds[i].npass;
    }
    auth_cred_t *copy = calloc(n ? n : 1, sizeof(*copy));
    char *bytes = malloc(total);
    if (copy == NULL || bytes == NULL) {
        free(copy);
        free(bytes);
        return -1;
    }
    char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        /* An empty user or password may come with a NULL pointer: memcpy must not see it. */
        if (creds[i].nuser > 0)
            memcpy(p, creds[i].user, creds[i].nuser);
        copy[i].user = p;
        copy[i].nuser = creds[i].nuser;
        p += creds[i].nuser;
        if (creds[i].npass > 0)
            memcpy(p, creds[i].pass, creds[i].npass);
        copy[i].pass = p;
        copy[i].npass = creds[i].npass;
        p += creds[i].npass;
    }
    pthread_mutex_lock(&a->lock);
    auth_cred_t *old_creds = a->creds;
    char *old_bytes = a->bytes;
    a->creds = copy;
    a->bytes = bytes;
    a->n = n;
    pthread_mutex_unlock(&a->lock);
    free(old_creds);
    free(old_bytes);
    return 0;
}

/* Touches every byte of equal-length strings, so the time does not say where they differ. */
static bool _same(const char *a, const char *b, size_t n)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bool auth_check(auth_t *a, const char *user, size_t nuser, const char *pass, size_t npass)
{
    bool ok = false;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n && !ok; i++) {
        const auth_cred_t *c = &a->creds[i];
        if (c->nuser == nuser && c->npass == npass) {
            bool user_ok = _same(c->user, user, nuser);
            bool pass_ok = _same(c->pass, pass, npass);
            ok = user_ok && pass_ok;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

/*
 * dermaga/auth.h — the ops table of an auth plugin (kind DM_PLUGIN_AUTH):
 * turn credentials into an identity (local email + password, OIDC, API
 * keys). Dermaga itself issues and checks sessions; plugins only say who
 * someone is. Ownership rules as in dermaga/payment.h.
 */
#ifndef DERMAGA_AUTH_H
#define DERMAGA_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <dermaga/plugin.h>

#define DM_AUTH_FIELD_MAX 256

/* Host-owned; borrowed for the call. `secret` must never be logged. */
typedef struct dm_auth_credentials {
    const char   *identifier;  /* email, user name or key id */
    const char   *secret;      /* password or API key */
    const char   *stored_hash; /* what the host stored for identifier via
                                  hash_secret, or NULL when it has nothing */
    const json_t *extra;       /* provider-specific input (e.g. an OIDC code); may be NULL */
} dm_auth_credentials_t;

/* Host-allocated and zeroed; the plugin fills it. */
typedef struct dm_auth_identity {
    char subject[DM_AUTH_FIELD_MAX]; /* stable id at the provider */
    char email[DM_AUTH_FIELD_MAX];
    char name[DM_AUTH_FIELD_MAX];
    bool email_verified;
} dm_auth_identity_t;

typedef struct dm_auth_ops {
    /* --- required (ABI 1.0) --- */

    /* 0 and *out filled when the credentials are good; DM_EPERM when they
     * are not (the same answer for an unknown identifier and a wrong secret,
     * after the same amount of work); DM_EUNAVAIL when the provider is down. */
    int (*authenticate)(void *state, const dm_auth_credentials_t *creds,
                        dm_auth_identity_t *out, dm_err_t *err);

    /* --- optional --- */

    /* Hash a new secret for storage into out (host-owned, out_len bytes,
     * NUL-terminated). DM_EINVAL when it does not fit. */
    int (*hash_secret)(void *state, const char *secret, char *out, size_t out_len,
                       dm_err_t *err);

    /* For GET /api/auth/providers: *out = new {"id","name","type"}. */
    int (*describe)(void *state, json_t **out, dm_err_t *err);
} dm_auth_ops_t;

#define DM_AUTH_OPS_MIN_SIZE offsetof(dm_auth_ops_t, hash_secret)

#endif /* DERMAGA_AUTH_H */

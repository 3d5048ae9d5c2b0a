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

/* A buffer of this many bytes holds any hash a plugin's hash_secret writes
 * and any identifier normalize_identifier writes (a macro, not ABI). */
#define DM_AUTH_HASH_MAX 256

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
    /* --- 1.1 --- */
    /* Set by authenticate on success when stored_hash is in an old format or
     * weaker than the plugin's current settings: the host should call
     * hash_secret with the same secret and store the result. A 1.0 plugin
     * never sets it (the host zeroed the struct), which reads as false. */
    bool needs_rehash;
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

    /* --- optional, ABI 1.1 (NULL from a 1.0 plugin) --- */

    /* The canonical form of an identifier (e.g. an email trimmed and
     * lower-cased), so the host stores and looks users up by one spelling.
     * `in` is borrowed; out is host-owned, out_len bytes (DM_AUTH_HASH_MAX is
     * always enough), NUL-terminated. DM_EINVAL with a client-safe message
     * naming the field when `in` is malformed, or when out is too small. */
    int (*normalize_identifier)(void *state, const char *in, char *out, size_t out_len,
                                dm_err_t *err);

    /* Check a registration (or a new password) before hash_secret: the
     * identifier's shape and the secret's policy. creds is borrowed;
     * stored_hash and extra are ignored. 0, or DM_EINVAL with a client-safe
     * message naming the field ("email …", "password …"). */
    int (*validate_registration)(void *state, const dm_auth_credentials_t *creds,
                                 dm_err_t *err);
} dm_auth_ops_t;

#define DM_AUTH_OPS_MIN_SIZE offsetof(dm_auth_ops_t, hash_secret)

#endif /* DERMAGA_AUTH_H */

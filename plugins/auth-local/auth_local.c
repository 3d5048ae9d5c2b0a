/*
 * auth_local.c — the auth-local plugin: email + password accounts. Its
 * descriptor and config table, init (reads and bounds the argon2id cost,
 * makes the dummy hash that unknown users are checked against) and the
 * auth ops. Hashing lives in password_hash.c, input rules in policy.c.
 * Ops block for tens of milliseconds: the host calls them on its workers.
 */
#include <stdlib.h>
#include <string.h>

#include <dermaga/auth.h>

#include "password_hash.h"
#include "policy.h"

/* OWASP's floor for argon2id (19 MiB, 2 passes, 1 lane); the issue makes
 * it the minimum an operator may configure. */
#define MIN_MEMORY_KIB  19456
#define MIN_ITERATIONS  2
#define MIN_PASSWORD    8
#define MAX_PASSWORD    1024 /* the most password_max_chars may say */

/* Read-only after init, so ops may run on any number of threads. */
typedef struct auth_local {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    al_params        params;
    long             pw_min;
    long             pw_max;
    /* argon2id of a random password with the configured params: verifying
     * against it costs what a real verify costs, for unknown users. */
    char             dummy[DM_AUTH_HASH_MAX];
} auth_local;

static const dm_plugin_conf_key_t keys[] = {
    { "argon2_memory_kib", DM_CONF_INT, 0, "19456",
      "argon2id memory per hash in KiB; at least 19456 (19 MiB)" },
    { "argon2_iterations", DM_CONF_INT, 0, "2", "argon2id passes; at least 2" },
    { "argon2_parallelism", DM_CONF_INT, 0, "1", "argon2id lanes; at least 1" },
    { "password_min_chars", DM_CONF_INT, 0, "8",
      "shortest new password, in characters (Unicode code points); at least 8" },
    { "password_max_chars", DM_CONF_INT, 0, "128",
      "longest new password, in characters; at most 1024" },
    DM_CONF_END
};

/* One int key within lo..hi. The core already checked it is an int. */
static int conf_int(json_t *cfg, const char *key, long lo, long hi, long *out, dm_err_t *err)
{
    json_int_t v = json_integer_value(json_object_get(cfg, key));
    if (v < lo || v > hi)
        return dm_err_set(err, DM_EINVAL, "config: %s must be between %ld and %ld", key, lo, hi);
    *out = (long)v;
    return 0;
}

static int read_config(auth_local *st, dm_err_t *err)
{
    json_t *cfg = st->host->config(st->ctx);
    long m = 0, t = 0, p = 0;
    int rc = conf_int(cfg, "argon2_memory_kib", MIN_MEMORY_KIB, AL_MAX_MEMORY_KIB, &m, err);
    if (rc == 0)
        rc = conf_int(cfg, "argon2_iterations", MIN_ITERATIONS, AL_MAX_ITERATIONS, &t, err);
    if (rc == 0)
        rc = conf_int(cfg, "argon2_parallelism", 1, AL_MAX_PARALLELISM, &p, err);
    if (rc == 0)
        rc = conf_int(cfg, "password_min_chars", MIN_PASSWORD, MAX_PASSWORD, &st->pw_min, err);
    if (rc == 0)
        rc = conf_int(cfg, "password_max_chars", MIN_PASSWORD, MAX_PASSWORD, &st->pw_max, err);
    if (rc != 0)
        return rc;
    if (st->pw_max < st->pw_min)
        return dm_err_set(err, DM_EINVAL,
                          "config: password_max_chars must not be less than password_min_chars");
    if (m < 8 * p)
        return dm_err_set(err, DM_EINVAL,
                          "config: argon2_memory_kib must be at least 8 × argon2_parallelism");
    st->params = (al_params){ (uint32_t)m, (uint32_t)t, (uint32_t)p };
    return 0;
}

/* The dummy hash: a random secret nobody knows, hashed with our params. */
static int make_dummy(auth_local *st, dm_err_t *err)
{
    uint8_t raw[24], salt[AL_SALT_BYTES];
    if (st->host->random_bytes(raw, sizeof raw) != 0 ||
        st->host->random_bytes(salt, sizeof salt) != 0)
        return dm_err_set(err, DM_EIO, "no randomness for the dummy hash");
    char secret[2 * sizeof raw + 1];
    for (size_t i = 0; i < sizeof raw; i++) {
        secret[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        secret[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    secret[2 * sizeof raw] = '\0';
    int rc = al_argon2_hash(&st->params, secret, salt, st->dummy, sizeof st->dummy, err);
    explicit_bzero(secret, sizeof secret);
    explicit_bzero(raw, sizeof raw);
    return rc;
}

static int local_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    auth_local *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    st->ctx = ctx;
    st->host = host;
    /* Runs once at start, before the server accepts anyone: the one hash
     * computed off the workers, and it never delays a request. */
    int rc = read_config(st, err);
    if (rc == 0)
        rc = make_dummy(st, err);
    if (rc != 0) {
        free(st);
        return rc;
    }
    host->log(ctx, DM_HOST_LOG_INFO, "argon2id m=%u KiB t=%u p=%u; passwords %ld..%ld characters",
              st->params.memory_kib, st->params.iterations, st->params.parallelism, st->pw_min,
              st->pw_max);
    *state = st;
    return 0;
}

static void local_fini(void *state)
{
    free(state);
}

/* The work of one verify, spent for nothing, so a refusal takes as long
 * whatever its cause. */
static void spend_dummy(const auth_local *st, const char *secret)
{
    bool ignored;
    (void)al_hash_verify(&st->params, st->dummy, secret, &ignored);
}

/* creds borrowed; out host-owned. 0 with out filled (subject and email are
 * the normalized email; the host keys users by it); DM_EPERM "invalid
 * credentials" for an unknown user (stored_hash NULL), a malformed email,
 * a wrong password or an unusable stored hash, after one argon2id verify's
 * work in every case; DM_ENOMEM / DM_EIO when hashing cannot run. */
static int local_authenticate(void *state, const dm_auth_credentials_t *creds,
                              dm_auth_identity_t *out, dm_err_t *err)
{
    const auth_local *st = state;
    const char *secret = creds->secret != NULL ? creds->secret : "";
    char email[DM_AUTH_HASH_MAX];
    bool known = creds->stored_hash != NULL &&
                 al_email_normalize(creds->identifier, email, sizeof email, NULL) == 0;
    bool rehash = false;
    int rc = known ? al_hash_verify(&st->params, creds->stored_hash, secret, &rehash) : DM_EINVAL;
    if (rc == DM_EINVAL) {
        if (known)
            st->host->log(st->ctx, DM_HOST_LOG_WARN,
                          "a stored password hash is in no format auth-local verifies "
                          "(argon2id, or bcrypt $2a$/$2b$/$2y$ cost 4..%d); login refused",
                          AL_BCRYPT_MAX_COST);
        spend_dummy(st, secret);
        return dm_err_set(err, DM_EPERM, "invalid credentials");
    }
    if (rc == DM_EPERM)
        return dm_err_set(err, DM_EPERM, "invalid credentials");
    if (rc != 0)
        return dm_err_set(err, rc, "password check could not run (code %d)", rc);
    /* Both fit: email is at most AL_EMAIL_MAX (254) bytes. */
    snprintf(out->subject, sizeof out->subject, "%s", email);
    snprintf(out->email, sizeof out->email, "%s", email);
    out->email_verified = false; /* nobody has confirmed it owns the address */
    out->needs_rehash = rehash;
    return 0;
}

/* secret borrowed; out caller's. Does not apply the password policy: a
 * legacy password rehashed after login may be shorter than today's
 * minimum. DM_EINVAL (NULL, out too small), DM_EIO, DM_ENOMEM. */
static int local_hash_secret(void *state, const char *secret, char *out, size_t out_len,
                             dm_err_t *err)
{
    const auth_local *st = state;
    if (secret == NULL)
        return dm_err_set(err, DM_EINVAL, "password is required");
    uint8_t salt[AL_SALT_BYTES];
    if (st->host->random_bytes(salt, sizeof salt) != 0)
        return dm_err_set(err, DM_EIO, "no randomness for a salt");
    return al_argon2_hash(&st->params, secret, salt, out, out_len, err);
}

static int local_describe(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("{s:s, s:s, s:s}", "id", "local", "name", "Email and password", "type",
                     "password");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int local_normalize(void *state, const char *in, char *out, size_t out_len, dm_err_t *err)
{
    return al_email_normalize(in, out, out_len, err);
}

/* Email shape, then password policy (code points of valid UTF-8). */
static int local_validate(void *state, const dm_auth_credentials_t *creds, dm_err_t *err)
{
    const auth_local *st = state;
    char email[DM_AUTH_HASH_MAX];
    int rc = al_email_normalize(creds->identifier, email, sizeof email, err);
    if (rc == 0)
        rc = al_password_check(creds->secret, st->pw_min, st->pw_max, err);
    return rc;
}

static const dm_auth_ops_t ops = {
    .authenticate = local_authenticate,
    .hash_secret = local_hash_secret,
    .describe = local_describe,
    .normalize_identifier = local_normalize,
    .validate_registration = local_validate,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "auth-local",
    .version = "1.0.0",
    .kind = DM_PLUGIN_AUTH,
    .init = local_init,
    .fini = local_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "email and password (argon2id; verifies legacy bcrypt)",
};

DM_PLUGIN_ENTRY(info)

/*
 * plugin.c — the auth template: an auth plugin that signs in API clients by
 * key id and secret from its config ({"keys": {"<key id>": "<secret>"}}).
 * It keeps the contract of dermaga/auth.h: one answer (DM_EPERM) for an
 * unknown id and a wrong secret, after the same work, and secrets compared
 * in constant time. Replace the lookup with your provider (LDAP, an
 * identity service); README.md next to it says what to fill in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/auth.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "auth-example"
#endif

typedef struct keys {
    const json_t *keys; /* borrowed from the host's config; valid until fini */
} keys;

static int auth_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    const json_t *k = json_object_get(host->config(ctx), "keys");
    const char *id;
    const json_t *v;
    json_object_foreach((json_t *)k, id, v) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return dm_err_set(err, DM_EINVAL, "config: keys.%.64s must be a non-empty string", id);
    }
    keys *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    s->keys = k;
    *state = s;
    return 0;
}

static void auth_fini(void *state)
{
    free(state);
}

/* 1 when a and b are equal; the time depends on their lengths only. */
static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ (i < blen ? b[i] : 0));
    return diff == 0;
}

static int auth_authenticate(void *state, const dm_auth_credentials_t *creds,
                             dm_auth_identity_t *out, dm_err_t *err)
{
    const keys *s = state;
    const char *secret = creds->secret != NULL ? creds->secret : "";
    const json_t *want = json_object_get(s->keys, creds->identifier != NULL ? creds->identifier : "");
    /* An unknown id is compared against a stand-in of its own, so it costs
     * what a wrong secret costs. */
    const char *w = want != NULL ? json_string_value(want) : "unknown-key-stand-in";
    int ok = same(secret, strlen(secret), w, strlen(w)) && want != NULL;
    if (!ok)
        return dm_err_set(err, DM_EPERM, "unknown key id or wrong secret");
    snprintf(out->subject, sizeof out->subject, "key:%s", creds->identifier);
    snprintf(out->name, sizeof out->name, "%s", creds->identifier);
    return 0;
}

static int auth_describe(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("{s:s, s:s, s:s}", "id", PLUGIN_NAME, "name", "API keys", "type", "apikey");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static const dm_auth_ops_t auth_ops = {
    .authenticate = auth_authenticate,
    .describe = auth_describe,
    /* hash_secret, normalize_identifier, validate_registration: optional,
     * for a provider whose users register through Dermaga. */
};

static const dm_plugin_conf_key_t auth_keys[] = {
    { "keys", DM_CONF_OBJECT, 0, "{}", "key id -> secret of every API client" },
    DM_CONF_END
};

static const dm_plugin_info_t auth_info = {
    DM_PLUGIN_HEADER,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_AUTH,
    .init = auth_init,
    .fini = auth_fini,
    DM_PLUGIN_OPS(auth_ops),
    .config_keys = auth_keys,
    .description = "template: API keys from the config",
};

DM_PLUGIN_ENTRY(auth_info)

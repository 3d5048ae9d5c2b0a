/*
 * good_auth.c — a minimal auth plugin: one fixed user, and the same
 * DM_EPERM for an unknown identifier as for a wrong secret.
 */
#include <stdio.h>
#include <string.h>

#include <stdbool.h>

#include <dermaga/auth.h>

static int authenticate(void *st, const dm_auth_credentials_t *c, dm_auth_identity_t *out,
                        dm_err_t *err)
{
#ifdef FIX_ACCEPT_ANY_SECRET /* lax_auth: breaks the contract for plugin-check's test */
    bool wrong = false;
#else
    bool wrong = c->secret == NULL || strcmp(c->secret, "s3cret") != 0;
#endif
    if (c->identifier == NULL || strcmp(c->identifier, "alice@example.com") != 0 || wrong)
        return dm_err_set(err, DM_EPERM, "invalid credentials");
    snprintf(out->subject, sizeof out->subject, "alice");
    snprintf(out->email, sizeof out->email, "%s", c->identifier);
    out->email_verified = true;
    return 0;
}

static const dm_auth_ops_t ops = { .authenticate = authenticate };

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "good_auth",
    .version = "0.1.0",
    .kind = DM_PLUGIN_AUTH,
    DM_PLUGIN_OPS(ops),
};

DM_PLUGIN_ENTRY(info)

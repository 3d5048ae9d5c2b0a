/*
 * bootstrap.c — makes sure the configured administrator exists and can log
 * in, through the auth-local plugin (same normalisation and hashing as a
 * registration), with an audit row for what it did.
 */
#include "accounts/bootstrap.h"

#include <string.h>

#include "accounts/users.h"
#include "audit/audit.h"
#include "db/pg.h"
#include "plugin/call.h"
#include "plugin/registry.h"
#include "util/log.h"

static int upsert(dm_db *db, const char *email, const char *hash, dm_err_t *err)
{
    dm_user u, after;
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__users_get_by_email(db, email, &u, err);
    const char *action = "user.bootstrap_create";
    if (rc == DM_ENOTFOUND) {
        rc = dm__users_create(db, email, "Administrator", "ADMINISTRATOR", "local", hash, &after, err);
    } else if (rc == 0) {
        action = "user.bootstrap_update";
        rc = dm__users_set_password_hash(db, u.id, hash, err);
        if (rc == 0)
            rc = dm__users_admin_update(db, u.id, "ADMINISTRATOR", 1, NULL, &after, err);
    }
    if (rc == 0) {
        dm_audit_entry e = { .actor = "system", .action = action, .target_type = "user",
                             .target_id = after.id, .reason = "auth.adminEmail at start" };
        rc = dm__audit_write(db, &e, NULL, err);
    }
    if (rc == 0)
        rc = dm__db_commit(db, err);
    if (rc != 0)
        dm__db_rollback(db);
    else
        DM_LOG_I("bootstrap administrator %s is ready", email);
    return rc;
}

int dm__bootstrap_admin(const dm_config *cfg, dm_plugin_set *plugins, dm_err_t *err)
{
    if (cfg->admin_email == NULL || cfg->admin_email[0] == '\0')
        return 0;
    if (cfg->admin_password == NULL || strlen(cfg->admin_password) < 8)
        return dm_err_set(err, DM_EINVAL, "config: \"auth.adminPassword\" (DERMAGA_ADMIN_PASSWORD) "
                                          "of at least 8 characters is required with auth.adminEmail");
    const dm_plugin *p = dm__plugins_find(plugins, DM_PLUGIN_AUTH, "auth-local");
    if (!dm__plugin_has_op(p, "normalize_identifier") || !dm__plugin_has_op(p, "hash_secret"))
        return dm_err_set(err, DM_EINVAL, "the bootstrap administrator needs the auth-local plugin enabled");
    char email[DM_AUTH_HASH_MAX], hash[DM_AUTH_HASH_MAX];
    dm_err_t why = { 0 };
    if (dm__auth_normalize_identifier(p, cfg->admin_email, email, sizeof email, &why) != 0)
        return dm_err_set(err, DM_EINVAL, "config: \"auth.adminEmail\": %s", why.msg);
    if (dm__auth_hash_secret(p, cfg->admin_password, hash, sizeof hash, err) != 0)
        return dm__db_failed(err);
    dm_db db;
    int rc = dm__db_init(&db, cfg->database_url, cfg->db_connect_timeout_s, cfg->db_statement_timeout_ms, err);
    if (rc == 0)
        rc = upsert(&db, email, hash, err);
    dm__db_fini(&db);
    memset(hash, 0, sizeof hash);
    return rc;
}

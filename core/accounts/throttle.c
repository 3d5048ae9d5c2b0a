/*
 * throttle.c — counts recent failures with one indexed query per scope and
 * derives Retry-After from the oldest failure still inside the window.
 */
#include "accounts/throttle.h"

#include <stdio.h>
#include <stdlib.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static int code_of(dm_err_t *err)
{
    return dm__db_failed(err);
}

/* Seconds until scope/key is under max again, or 0 when it is now. */
static int wait_for(dm_db *db, const char *scope, const char *key, int max, int *wait_s,
                    dm_err_t *err)
{
    char maxs[16];
    snprintf(maxs, sizeof maxs, "%d", max);
    const char *p[] = { scope, key, maxs };
    /* The (count - max + 1)-th newest failure is the one that has to age
     * out of the window before one more attempt fits. */
    PGresult *r = dm__db_exec(db, "throttle_wait",
                              "SELECT coalesce(ceil(extract(epoch FROM (min(failed_at) + interval '"
                              STR(DM_THROTTLE_WINDOW_S) " seconds' - now())))::int, 0) "
                              "FROM (SELECT failed_at FROM auth_failures WHERE scope = $1 AND key = $2 "
                              "AND failed_at > now() - interval '" STR(DM_THROTTLE_WINDOW_S) " seconds' "
                              "ORDER BY failed_at DESC LIMIT $3::int) recent "
                              "HAVING count(*) >= $3::int",
                              3, p, err);
    if (r == NULL)
        return code_of(err);
    *wait_s = PQntuples(r) > 0 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return 0;
}

int dm__throttle_check(dm_db *db, const char *ip, const char *account, int *retry_after_s,
                       dm_err_t *err)
{
    int ip_wait = 0, acct_wait = 0, rc = 0;
    if (ip != NULL && ip[0] != '\0')
        rc = wait_for(db, "ip", ip, DM_THROTTLE_MAX_PER_IP, &ip_wait, err);
    if (rc == 0 && account != NULL && account[0] != '\0')
        rc = wait_for(db, "account", account, DM_THROTTLE_MAX_PER_ACCOUNT, &acct_wait, err);
    if (rc != 0)
        return rc;
    int wait = ip_wait > acct_wait ? ip_wait : acct_wait;
    if (wait <= 0)
        return 0;
    *retry_after_s = wait;
    return dm_err_set(err, DM_EBUSY, "too many failed logins; retry in %d s", wait);
}

int dm__throttle_failed(dm_db *db, const char *ip, const char *account, dm_err_t *err)
{
    const char *p[] = { ip != NULL && ip[0] != '\0' ? ip : NULL,
                        account != NULL && account[0] != '\0' ? account : NULL };
    return dm__db_run(db, "throttle_failed",
                      "INSERT INTO auth_failures (scope, key) "
                      "SELECT s, k FROM (VALUES ('ip', $1::text), ('account', $2::text)) v(s, k) "
                      "WHERE k IS NOT NULL",
                      2, p, err);
}

int dm__throttle_prune(dm_db *db, long *deleted, dm_err_t *err)
{
    PGresult *r = dm__db_exec(db, "throttle_prune",
                              "DELETE FROM auth_failures WHERE failed_at <= now() - interval '"
                              STR(DM_THROTTLE_WINDOW_S) " seconds'",
                              0, NULL, err);
    if (r == NULL)
        return code_of(err);
    if (deleted != NULL)
        *deleted = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

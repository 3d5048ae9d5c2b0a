/*
 * log_ticket.c — tickets for the live log stream (log_ticket.h). A ticket
 * has the shape and strength of a refresh token (256 random bits,
 * base64url; accounts/tokens.h makes and hashes both), so its hash alone
 * is enough to store.
 */
#include "instances/log_ticket.h"

#include <stdio.h>
#include <string.h>

#include "accounts/tokens.h"
#include "accounts/users.h"
#include "db/sql_time.h"

/* Expired tickets are kept a little while (a refused one can be looked
 * at), then pruned by the next ticket made. */
#define SQL_NEW                                                                                               \
    "WITH pruned AS (DELETE FROM log_tickets WHERE expires_at < now() - interval '1 hour') "                \
    "INSERT INTO log_tickets (token_hash, instance_id, user_id, session_id, expires_at) "                    \
    "VALUES ($1, $2::uuid, $3::uuid, $4::uuid, now() + make_interval(secs => $5::int)) "                    \
    "RETURNING " DM_SQL_TS("expires_at")

/* The one statement that spends a ticket: only an unspent, unexpired
 * ticket of this instance whose user is active and whose session is live
 * matches, and the first caller to update it wins. */
#define SQL_REDEEM                                                                                            \
    "UPDATE log_tickets t SET used_at = now() FROM users u "                                                 \
    "WHERE t.token_hash = $1 AND t.instance_id = $2::uuid AND t.used_at IS NULL "                           \
    "  AND t.expires_at > now() AND u.id = t.user_id AND u.is_active "                                      \
    "  AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = t.session_id "                        \
    "              AND r.user_id = u.id AND r.revoked_at IS NULL) "                                          \
    "RETURNING u.id, u.role, t.session_id"

int dm__log_ticket_new(dm_db *db, const char *instance_id, const dm_principal *who, int ttl_s, char ticket[44],
                       char expires_at[40], dm_err_t *err)
{
    char hash[65], ttl[16];
    if (dm__refresh_token_new(ticket, hash, err) != 0)
        return DM_EIO;
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *p[] = { hash, instance_id, who->id, who->sid, ttl };
    PGresult *res = dm__db_exec(db, "log_ticket_new", SQL_NEW, 5, p, err);
    if (res == NULL) {
        ticket[0] = '\0';
        return dm__db_failed(err);
    }
    snprintf(expires_at, 40, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int dm__log_ticket_redeem(dm_db *db, const char *ticket, const char *instance_id, dm_principal *out,
                          dm_err_t *err)
{
    char hash[65];
    if (dm__refresh_token_check(ticket) != 0 || !dm__users_valid_id(instance_id))
        return dm_err_set(err, DM_EPERM, "not a ticket, or not an instance id");
    if (dm__refresh_token_hash(ticket, hash) != 0)
        return dm_err_set(err, DM_EIO, "cannot hash the ticket");
    const char *p[] = { hash, instance_id };
    PGresult *res = dm__db_exec(db, "log_ticket_redeem", SQL_REDEEM, 2, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(res) != 1) {
        rc = dm_err_set(err, DM_EPERM, "ticket unknown, spent, expired, of another instance, or its session ended");
    } else {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->role, sizeof out->role, "%s", PQgetvalue(res, 0, 1));
        snprintf(out->sid, sizeof out->sid, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return rc;
}

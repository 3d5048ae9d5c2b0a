/*
 * idempotency.c — claims, stored answers and pruning of Idempotency-Keys
 * (idempotency.h). A key is claimed with one INSERT … ON CONFLICT, so of
 * two concurrent requests with the same key exactly one owns it. Claims
 * carry a lock deadline so a node that died mid-request does not block
 * the key until it expires.
 */
#include "app/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_S "86400"    /* stored responses are replayed for 24 h */
/* A claim older than this (its node died) may be taken over. Well above
 * the longest a request may run: the statement timeout and a payment
 * plugin's gateway timeout (at most 120 s). */
#define LOCK_S "300"

/* Printable ASCII without spaces' neighbours that break logs: what Stripe
 * and the IETF draft allow in practice (UUIDs, ULIDs, random tokens). */
bool dm__idem_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > DM_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

int dm__idem_claim(dm_db *db, const char *user_id, const char *key, const char *request_hash, bool *claimed,
                   dm_err_t *err)
{
    const char *p[] = { user_id, key, request_hash };
    /* A fresh claim, or the take-over of an expired entry or of a claim
     * whose lock lapsed; anything else stays as it is (no row returned). */
    PGresult *res = dm__db_exec(
        db, "idem_claim",
        "INSERT INTO idempotency_keys (user_id, key, request_hash, state, locked_until, expires_at) "
        "VALUES ($1::uuid, $2, $3, 'running', now() + interval '" LOCK_S " seconds', "
        "        now() + interval '" KEEP_S " seconds') "
        "ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, state = 'running', "
        "  response_status = NULL, response_body = NULL, locked_until = EXCLUDED.locked_until, "
        "  created_at = now(), expires_at = EXCLUDED.expires_at "
        "WHERE idempotency_keys.expires_at <= now() "
        "   OR (idempotency_keys.state = 'running' AND idempotency_keys.locked_until <= now() "
        "       AND idempotency_keys.request_hash = EXCLUDED.request_hash) "
        "RETURNING 1",
        3, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    *claimed = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

int dm__idem_lookup(dm_db *db, const char *user_id, const char *key, const char *request_hash,
                    dm_idem_record *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = { user_id, key };
    PGresult *res = dm__db_exec(db, "idem_get",
                                "SELECT request_hash, state, response_status, response_body "
                                "FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2",
                                2, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(res) == 1) {
        out->found = true;
        out->same_request = strcmp(PQgetvalue(res, 0, 0), request_hash) == 0;
        out->running = strcmp(PQgetvalue(res, 0, 1), "running") == 0;
        out->status = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
        if (!out->running) {
            out->body_len = (size_t)PQgetlength(res, 0, 3);
            out->body = strndup(PQgetvalue(res, 0, 3), out->body_len);
            if (out->body == NULL)
                rc = dm_err_set(err, DM_ENOMEM, "out of memory");
        }
    }
    PQclear(res);
    return rc;
}

int dm__idem_store(dm_db *db, const char *user_id, const char *key, int status, const char *body,
                   dm_err_t *err)
{
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *p[] = { user_id, key, st, body != NULL ? body : "" };
    return dm__db_run(db, "idem_store",
                      "UPDATE idempotency_keys SET state = 'done', response_status = $3::int, "
                      "response_body = $4 WHERE user_id = $1::uuid AND key = $2 AND state = 'running'",
                      4, p, err);
}

int dm__idem_release(dm_db *db, const char *user_id, const char *key, dm_err_t *err)
{
    const char *p[] = { user_id, key };
    return dm__db_run(db, "idem_release",
                      "DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2 AND state = 'running'",
                      2, p, err);
}

int dm__idem_prune(dm_db *db, long *n, dm_err_t *err)
{
    PGresult *r = dm__db_exec(db, "idem_prune",
                              "WITH d AS (DELETE FROM idempotency_keys WHERE expires_at <= now() "
                              "  AND locked_until <= now() RETURNING 1) SELECT count(*) FROM d",
                              0, NULL, err);
    if (r == NULL)
        return dm__db_failed(err);
    if (n != NULL)
        *n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

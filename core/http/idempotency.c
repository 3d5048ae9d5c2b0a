/*
 * idempotency.c — claim, replay and record Idempotency-Key responses
 * (idempotency.h). A key is claimed with one INSERT … ON CONFLICT DO
 * NOTHING, so of two concurrent requests with the same key exactly one
 * runs; the other sees the claim and answers 409 (still running) or
 * replays the stored response. Claims carry a lock deadline so a node that
 * died mid-request does not block the key until it expires.
 */
#include "http/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/migrate.h"
#include "db/pg.h"
#include "http/response.h"
#include "util/log.h"

#define KEY_MAX 255
#define KEEP_S "86400"    /* stored responses are replayed for 24 h */
/* A claim older than this (its node died) may be taken over. Well above
 * the longest a request may run: the statement timeout and a payment
 * plugin's gateway timeout (at most 120 s). */
#define LOCK_S "300"

/* Printable ASCII without spaces' neighbours that break logs: what Stripe
 * and the IETF draft allow in practice (UUIDs, ULIDs, random tokens). */
static bool valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

/* SHA-256 of what makes two requests "the same": method, path and body. */
static int request_hash(const dm_request *r, char out[65])
{
    dm_buf b;
    dm__buf_init(&b, 0);
    int rc = dm__buf_printf(&b, "%s %s\n", r->method, r->path);
    if (rc == 0 && r->body_len > 0)
        rc = dm__buf_append(&b, r->body, r->body_len);
    if (rc == 0)
        rc = dm__sha256_hex(b.data, b.len, out);
    dm__buf_free(&b);
    return rc;
}

/* The stored state of a key another request claimed first. */
static void answer_existing(dm_request *r, const char *key, const char *hash)
{
    dm_err_t err = { 0 };
    const char *p[] = { r->principal.id, key };
    PGresult *res = dm__db_exec(r->db, "idem_get",
                                "SELECT request_hash, state, response_status, response_body "
                                "FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2",
                                2, p, &err);
    if (res == NULL) {
        dm__res_failure(r, &err, "idempotency: read key");
        return;
    }
    if (PQntuples(res) == 0) { /* released between our INSERT and this read */
        dm__res_error(r, 409, "IDEMPOTENCY_KEY_IN_USE", "a request with this Idempotency-Key is in progress; retry", NULL);
    } else if (strcmp(PQgetvalue(res, 0, 0), hash) != 0) {
        dm__res_error(r, 422, "IDEMPOTENCY_KEY_REUSED",
                      "this Idempotency-Key was used with a different request", NULL);
    } else if (strcmp(PQgetvalue(res, 0, 1), "running") == 0) {
        dm__res_error(r, 409, "IDEMPOTENCY_KEY_IN_USE",
                      "a request with this Idempotency-Key is still in progress", NULL);
    } else {
        int status = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
        dm__res_raw(r, status, "application/json", PQgetvalue(res, 0, 3),
                    (size_t)PQgetlength(res, 0, 3));
        dm__res_header(r, "Idempotent-Replayed", "true");
    }
    PQclear(res);
}

bool dm__idem_begin(dm_request *r)
{
    const char *key = dm__req_header(r, "Idempotency-Key");
    if (key == NULL)
        return true;
    if (!valid_key(key)) {
        dm__res_error(r, 400, "VALIDATION_ERROR", "Idempotency-Key must be 1 to 255 printable characters",
                      json_pack("[{s:s,s:s}]", "field", "Idempotency-Key", "message",
                                "must be 1 to 255 printable ASCII characters"));
        return false;
    }
    char hash[65];
    if (request_hash(r, hash) != 0) {
        dm__res_error(r, 500, "INTERNAL", "internal error", NULL);
        return false;
    }
    dm_err_t err = { 0 };
    const char *p[] = { r->principal.id, key, hash };
    /* A fresh claim, or the take-over of an expired entry or of a claim
     * whose lock lapsed; anything else stays as it is (no row returned). */
    PGresult *res = dm__db_exec(
        r->db, "idem_claim",
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
        3, p, &err);
    if (res == NULL) {
        dm__res_failure(r, &err, "idempotency: claim key");
        return false;
    }
    bool claimed = PQntuples(res) == 1;
    PQclear(res);
    if (!claimed) {
        answer_existing(r, key, hash);
        return false;
    }
    r->idem_key = key; /* header values live in the request's arena */
    return true;
}

void dm__idem_finish(dm_request *r)
{
    if (r->idem_key == NULL)
        return;
    dm_err_t err = { 0 };
    int rc;
    if (r->res.status >= 500 || r->res.status == 0) {
        const char *p[] = { r->principal.id, r->idem_key };
        rc = dm__db_run(r->db, "idem_release",
                        "DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2 AND state = 'running'",
                        2, p, &err);
    } else {
        char status[16];
        snprintf(status, sizeof status, "%d", r->res.status);
        const char *p[] = { r->principal.id, r->idem_key, status, r->res.body.len > 0 ? r->res.body.data : "" };
        rc = dm__db_run(r->db, "idem_store",
                        "UPDATE idempotency_keys SET state = 'done', response_status = $3::int, "
                        "response_body = $4 WHERE user_id = $1::uuid AND key = $2 AND state = 'running'",
                        4, p, &err);
    }
    /* The response already stands; a failure here only means a retry with
     * this key gets 409 until the lock lapses, then runs again. */
    if (rc != 0)
        DM_LOG_W("idempotency: cannot record key: %s", err.msg);
    r->idem_key = NULL;
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

/*
 * idempotency.c — the HTTP side of Idempotency-Key (idempotency.h): the
 * header's shape, what makes two requests "the same", and the answers a
 * request that did not claim its key receives (a replay, 409 or 422). The
 * stored side is app/idempotency.c. A claimed key opens the request's unit
 * of work: the claim, whatever the handler writes (its own transactions
 * nest inside, db/pg.h) and the stored answer commit as one transaction,
 * so a crash at any point leaves either nothing or the change with its
 * answer.
 */
#include "http/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/idempotency.h"
#include "db/pg.h"
#include "http/response.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/sha256.h"

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
    dm_idem_record rec;
    if (dm__idem_lookup(r->db, r->principal.id, key, hash, &rec, &err) != 0) {
        dm__res_failure(r, &err, "idempotency: read key");
        return;
    }
    if (!rec.found) { /* released between our INSERT and this read */
        dm__res_error(r, 409, "IDEMPOTENCY_KEY_IN_USE", "a request with this Idempotency-Key is in progress; retry", NULL);
    } else if (!rec.same_request) {
        dm__res_error(r, 422, "IDEMPOTENCY_KEY_REUSED",
                      "this Idempotency-Key was used with a different request", NULL);
    } else if (rec.running) {
        dm__res_error(r, 409, "IDEMPOTENCY_KEY_IN_USE",
                      "a request with this Idempotency-Key is still in progress", NULL);
    } else {
        dm__res_raw(r, rec.status, "application/json", rec.body, rec.body_len);
        dm__res_header(r, "Idempotent-Replayed", "true");
    }
    free(rec.body);
}

bool dm__idem_begin(dm_request *r)
{
    const char *key = dm__req_header(r, "Idempotency-Key");
    if (key == NULL)
        return true;
    if (!dm__idem_key_valid(key)) {
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
    /* The unit of work: the claim, the handler's change and the stored
     * answer commit together (dm__idem_finish). A concurrent request with
     * the same key waits in the claim until this one commits or rolls
     * back, then replays its answer or runs itself. */
    dm_err_t err = { 0 };
    bool claimed = false;
    if (dm__db_begin(r->db, &err) != 0 || dm__idem_claim(r->db, r->principal.id, key, hash, &claimed, &err) != 0) {
        if (r->db->in_tx)
            dm__db_rollback(r->db);
        dm__res_failure(r, &err, "idempotency: claim key");
        return false;
    }
    if (!claimed) {
        answer_existing(r, key, hash);
        dm__db_rollback(r->db);
        return false;
    }
    r->idem_key = key; /* header values live in the request's arena */
    return true;
}

int dm__idem_checkpoint(dm_request *r, dm_err_t *err)
{
    if (r->idem_key == NULL)
        return 0;
    int rc = dm__db_commit(r->db, err);
    r->idem_durable = rc == 0;
    if (rc == 0)
        rc = dm__db_begin(r->db, err);
    if (rc != 0)
        r->idem_key = NULL; /* nothing is open to store an answer in */
    return rc;
}

void dm__idem_finish(dm_request *r)
{
    if (r->idem_key == NULL)
        return;
    const char *key = r->idem_key;
    r->idem_key = NULL;
    dm_err_t err = { 0 };
    int rc;
    if (r->res.status >= 500 || r->res.status == 0) {
        /* A failed request keeps no claim: a retry runs again. Before a
         * checkpoint nothing of it is kept at all; after one, what it
         * wrote since (a top-up marked FAILED) stands with its durable
         * start. */
        if (!r->idem_durable) {
            dm__db_rollback(r->db);
            return;
        }
        rc = dm__idem_release(r->db, r->principal.id, key, &err);
        rc = dm__db_end(r->db, rc, &err);
        if (rc != 0)
            DM_LOG_W("idempotency: cannot release a failed request's key: %s", err.msg);
        return;
    }
    rc = dm__idem_store(r->db, r->principal.id, key, r->res.status, r->res.body.len > 0 ? r->res.body.data : "",
                        &err);
    if (rc == 0) {
        dm__fault_point("idem.before_commit");
        rc = dm__db_commit(r->db, &err);
    } else {
        dm__db_rollback(r->db);
    }
    if (rc != 0) {
        /* Not committed (or not known to be): answer a failure, so the
         * client retries and finds either nothing or the stored answer. */
        DM_LOG_W("idempotency: the change under key could not commit: %s", err.msg);
        dm__res_failure(r, &err, "idempotency: commit");
        return;
    }
    dm__fault_point("idem.after_commit");
    /* Work the handler queued is visible only now: start it at once. */
    dm__app_wake_jobs(r->app);
}

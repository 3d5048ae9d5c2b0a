/*
 * idempotency.c — the HTTP side of Idempotency-Key (idempotency.h): the
 * header's shape, what makes two requests "the same", and the answers a
 * request that did not claim its key gets (a replay, 409 or 422). The
 * stored side is app/idempotency.c.
 */
#include "http/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/idempotency.h"
#include "db/pg.h"
#include "http/response.h"
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
    dm_err_t err = { 0 };
    bool claimed = false;
    if (dm__idem_claim(r->db, r->principal.id, key, hash, &claimed, &err) != 0) {
        dm__res_failure(r, &err, "idempotency: claim key");
        return false;
    }
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
    if (r->res.status >= 500 || r->res.status == 0)
        rc = dm__idem_release(r->db, r->principal.id, r->idem_key, &err);
    else
        rc = dm__idem_store(r->db, r->principal.id, r->idem_key, r->res.status,
                            r->res.body.len > 0 ? r->res.body.data : "", &err);
    /* The response already stands; a failure here only means a retry with
     * this key gets 409 until the lock lapses, then runs again. */
    if (rc != 0)
        DM_LOG_W("idempotency: cannot record key: %s", err.msg);
    r->idem_key = NULL;
}

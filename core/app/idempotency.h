/*
 * idempotency.h — the stored side of Idempotency-Key (table
 * idempotency_keys, migration 0004): a key belongs to one user, names one
 * request (by the hash of its method, path and body) and, once answered,
 * holds that answer for 24 hours so that a retry replays it instead of
 * moving money again. http/idempotency.c is the HTTP side: reading the
 * header and answering replays, 409 and 422.
 *
 * Every function works inside the caller's transaction when one is open.
 */
#ifndef DM_APP_IDEMPOTENCY_H
#define DM_APP_IDEMPOTENCY_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* Keys are 1..DM_IDEM_KEY_MAX printable ASCII characters. */
#define DM_IDEM_KEY_MAX 255

/* True for a key of the allowed shape. */
bool dm__idem_key_valid(const char *key);

/*
 * Claim key for user_id and the request whose hash is request_hash (64 hex
 * digits): a new row in state "running", or the take-over of an expired
 * row or of a running claim whose lock lapsed (its node died). *claimed
 * tells whether this request now owns the key. All strings borrowed.
 * 0 or the SQL codes.
 */
int dm__idem_claim(dm_db *db, const char *user_id, const char *key, const char *request_hash, bool *claimed,
                   dm_err_t *err);

/* What a key holds, for a request that did not claim it. */
typedef struct dm_idem_record {
    bool  found;          /* false: released between the claim and this read */
    bool  same_request;   /* the stored hash is this request's */
    bool  running;        /* no answer stored yet */
    int   status;         /* the stored answer's HTTP status */
    char *body;           /* the stored answer's body (new string), or NULL */
    size_t body_len;
} dm_idem_record;

/* Read key of user_id into *out (free out->body). 0 or the SQL codes. */
int dm__idem_lookup(dm_db *db, const char *user_id, const char *key, const char *request_hash,
                    dm_idem_record *out, dm_err_t *err);

/* Store the answer (status, body of body_len bytes, borrowed) under a key
 * this request claimed. 0 or the SQL codes. */
int dm__idem_store(dm_db *db, const char *user_id, const char *key, int status, const char *body,
                   dm_err_t *err);

/* Give up a claim (the request failed before it changed anything), so a
 * retry runs again. 0 or the SQL codes. */
int dm__idem_release(dm_db *db, const char *user_id, const char *key, dm_err_t *err);

/* Delete the keys whose 24 h are over (and whose handler is not running):
 * an expired key is only ever replaced by its own user sending it again,
 * so without this the stored responses pile up. *n (may be NULL) gets how
 * many. 0 or the SQL codes. Run by the daily wallet.prune_notifications
 * task. */
int dm__idem_prune(dm_db *db, long *n, dm_err_t *err);

#endif

/*
 * idempotency.h — Idempotency-Key for requests that move money (routes
 * with DM_ROUTE_IDEMPOTENT). The first response to a key is stored for
 * 24 h and replayed to the same user sending the same key with the same
 * request; the same key with another request is 422. A concurrent
 * duplicate waits until the first commits and then gets its answer, or
 * 409 when the first is still running past a checkpoint. Runs on the pool
 * worker, around the handler, after the auth guard (keys belong to a
 * user). The stored side is app/idempotency.h.
 *
 * The claim, the handler's writes and the stored answer are one database
 * transaction: dm__idem_begin opens it, the handler's own transactions
 * nest inside it, dm__idem_finish stores the answer and commits (or rolls
 * everything back for a 5xx, so a retry runs again).
 */
#ifndef DM_IDEMPOTENCY_H
#define DM_IDEMPOTENCY_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "http/request.h"

/* Before the handler. True: run it (when a key was claimed, r->idem_key is
 * set and its transaction is open on r->db). False: the response is set
 * (a replay, 400, 409, 422, 503) and nothing is open. */
bool dm__idem_begin(dm_request *r);

/* For a handler that must make its first writes durable before a slow
 * outside call (a top-up's PENDING row before the gateway hears of it):
 * commit the claim, still "running", with what the handler wrote so far,
 * and open the transaction the rest and the answer will commit in. A
 * retry meanwhile gets 409; after a crash here the claim's lock lapses
 * and a retry runs again. No-op without a claim. 0 or the SQL codes (the
 * request then no longer holds an open unit of work). */
int dm__idem_checkpoint(dm_request *r, dm_err_t *err);

/* After the handler: store the response under the claimed key and commit,
 * or roll everything back when the handler failed with a 5xx so that a
 * retry runs again. A commit that fails turns the response into a
 * failure. */
void dm__idem_finish(dm_request *r);

#endif

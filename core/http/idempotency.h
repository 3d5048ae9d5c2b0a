/*
 * idempotency.h — Idempotency-Key for POSTs that move money (routes with
 * DM_ROUTE_IDEMPOTENT). The first response to a key is stored for 24 h and
 * replayed to the same user sending the same key with the same request;
 * the same key with another request is 422, and while the first is still
 * running 409. Runs on the pool worker, around the handler, after the
 * auth guard (keys belong to a user). The stored side is app/idempotency.h.
 */
#ifndef DM_IDEMPOTENCY_H
#define DM_IDEMPOTENCY_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "http/request.h"

/* Before the handler. True: run it (r->idem_key is set when a key was
 * claimed). False: the response is set (a replay, 400, 409, 422, 503). */
bool dm__idem_begin(dm_request *r);

/* After the handler: store the response under the claimed key, or release
 * the key when the handler failed with a 5xx so that a retry runs again. */
void dm__idem_finish(dm_request *r);

#endif

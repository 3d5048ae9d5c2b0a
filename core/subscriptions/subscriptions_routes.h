/*
 * subscriptions_routes.h — the subscriptions' route groups: the user's
 * /api/subscriptions (subscriptions_routes.c) and the administrators'
 * /api/admin/subscriptions (admin_subscriptions_routes.c), and the answer
 * both give an operation's outcome.
 */
#ifndef DM_SUBSCRIPTIONS_ROUTES_H
#define DM_SUBSCRIPTIONS_ROUTES_H

#include <jansson.h>

#include <dermaga/error.h>

typedef struct dm_router dm_router;   /* http/router.h */
typedef struct dm_request dm_request; /* http/request.h */

/* Register the /api/subscriptions routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__subscriptions_routes_add(dm_router *rt);

/* Register the /api/admin/subscriptions routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__admin_subscriptions_routes_add(dm_router *rt);

/* Answer an operation's outcome as subscriptions.h and sub_admin.h give
 * it: ok_status with body (stolen) when rc is 0; the refusal *code names
 * (NOT_FOUND 404, VALIDATION_ERROR 400 for the field err->msg starts with,
 * INSUFFICIENT_CREDITS 402, others 409) with err->msg; else a failure
 * logged as what. */
void dm__subs_answer(dm_request *r, int ok_status, int rc, const char *code, json_t *body, const dm_err_t *err,
                     const char *what);

#endif

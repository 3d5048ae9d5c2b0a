/*
 * wallet_routes.h — the wallet's route groups: the nine /api/wallet routes
 * of docs/openapi.yaml (wallet_routes.c: balance, top-ups through payment plugins,
 * the caller's ledger, cancel, status re-read, payment methods, summary;
 * webhook_routes.c: the public gateway webhook; both over wallet.h) and
 * the administrators' money routes (admin_wallet_routes.c,
 * admin_stats_routes.c).
 */
#ifndef DM_WALLET_ROUTES_H
#define DM_WALLET_ROUTES_H

typedef struct dm_router dm_router;   /* http/router.h */
typedef struct dm_request dm_request; /* http/request.h */

/* Register the /api/wallet routes, the webhook included. 0 or DM_ENOMEM /
 * DM_EINVAL. */
int dm__wallet_routes_add(dm_router *rt);

/* Register the public POST /api/wallet/webhooks/:gateway (webhook_routes.c;
 * called by dm__wallet_routes_add). */
int dm__wallet_webhook_routes_add(dm_router *rt);

/* Register POST /api/admin/users/:id/credits, GET /api/admin/transactions,
 * GET /api/admin/stats and POST /api/admin/transactions/:id/confirm|reject.
 * Every change is audited in the same transaction as the change.
 * 0 or DM_ENOMEM / DM_EINVAL. */
int dm__admin_wallet_routes_add(dm_router *rt);

/* GET /api/admin/stats?period=day|week|month&from&to (admin_stats_routes.c;
 * a pool handler): users, the total of all balances, revenue per period
 * and top-ups by status. Answers 200, 400 VALIDATION_ERROR naming the
 * parameter, or a failure. Reads only: no audit row. */
void dm__admin_wallet_stats(dm_request *r);

#endif

/*
 * admin_wallet.h — the administrators' money routes (API.md, Admin):
 * signed credit adjustments, the whole ledger with filters, revenue and
 * top-up statistics, and confirming or rejecting manual transfers. Every
 * change is audited in the same transaction as the change.
 */
#ifndef DM_ADMIN_WALLET_H
#define DM_ADMIN_WALLET_H

#include "http/router.h"

/* Register POST /api/admin/users/:id/credits, GET /api/admin/transactions,
 * GET /api/admin/stats and POST /api/admin/transactions/:id/confirm|reject.
 * 0 or DM_ENOMEM / DM_EINVAL. */
int dm__admin_wallet_routes_add(dm_router *rt);

#endif

/*
 * wallet.h — the nine /api/wallet routes of API.md (balance, top-ups
 * through payment plugins, the caller's ledger, cancel, status re-read,
 * payment methods, summary, and the public gateway webhook) and the
 * periodic job that expires unpaid top-ups.
 */
#ifndef DM_WALLET_H
#define DM_WALLET_H

#include <dermaga/error.h>

#include "db/pg.h"
#include "http/router.h"
#include "jobs/jobs.h"

typedef struct dm_plugin_set dm_plugin_set;

/* Register the /api/wallet routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__wallet_routes_add(dm_router *rt);

/* Register the public POST /api/wallet/webhooks/:gateway (wallet_webhook.c;
 * called by dm__wallet_routes_add). */
int dm__wallet_webhook_routes_add(dm_router *rt);

/* Periodic job body ("wallet.expire_topups"): every PENDING top-up past its
 * expiry is re-read at its gateway when the gateway can be asked, settled
 * with what the gateway says, else EXPIRED. ctx is the dm_plugin_set
 * (borrowed). 0, or DM_EIO / DM_EUNAVAIL (the job is retried). */
int dm__wallet_expire_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

/* Periodic job body ("wallet.prune_notifications", daily): drops refused
 * notifications older than 30 days (dm__wallet_notice_prune) and expired
 * Idempotency-Keys (dm__idem_prune). */
int dm__wallet_prune_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

#endif

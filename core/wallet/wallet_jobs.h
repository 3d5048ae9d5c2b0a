/*
 * wallet_jobs.h — the wallet's periodic tasks: unpaid top-ups expire (after
 * their gateway has been asked once more), and what anyone can send
 * without effect (refused notifications, expired Idempotency-Keys) is
 * pruned.
 */
#ifndef DM_WALLET_JOBS_H
#define DM_WALLET_JOBS_H

#include <dermaga/error.h>

#include "db/pg.h"
#include "jobs/jobs.h"

typedef struct dm_plugin_set dm_plugin_set;

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

/*
 * period_end.h — what happens when a subscription's period ends:
 * auto-renew when the balance covers the price, else SUSPENDED (instance
 * stopped) for subscriptions.graceDays, then EXPIRED (instance terminated,
 * slot freed); cancellations scheduled for the period end. Driven by a
 * periodic job; the work itself takes the time as a parameter.
 */
#ifndef DM_SUB_LIFECYCLE_H
#define DM_SUB_LIFECYCLE_H

#include <stdint.h>

#include <dermaga/error.h>

#include "db/pg.h"
#include "jobs/jobs.h"

/* What one dm__sub_period_end run did. */
typedef struct dm_sub_period_report {
    int subscriptions; /* subscriptions processed (each in its own transaction) */
    int renewed;       /* periods renewed (RENEWAL rows written) */
    int suspended;     /* ACTIVE → SUSPENDED */
    int cancelled;     /* cancel_at_period_end → CANCELLED */
    int expired;       /* grace over → EXPIRED */
    int failed;        /* subscriptions whose transaction failed and rolled back */
} dm_sub_period_report;

/*
 * Process up to max subscriptions due at now_ms (ms since the epoch), each
 * in its own transaction (rows another node holds are skipped):
 *   ACTIVE, period over, cancel_at_period_end → CANCELLED;
 *   ACTIVE, period over, auto_renew, not a bonus, balance covers the price
 *     → RENEWAL of -price, the period moves on by billing_period_days
 *     (repeated, one period at a time, while the period is still over and
 *     the balance covers it);
 *   ACTIVE, period over, otherwise → SUSPENDED, grace_until = period end +
 *     grace_days, instance stop job (grace already over → EXPIRED at once);
 *   SUSPENDED with grace_until <= now → EXPIRED (slot freed, terminate job).
 * db must have no open transaction. rep (may be NULL) is zeroed and filled.
 * Running it twice at the same now_ms changes nothing the second time.
 * 0 (also when some subscriptions failed: rep->failed counts them, each is
 * logged and left alone for the rest of the run, which goes on with the
 * others); DM_ENOMEM; DM_EINVAL for max < 1 or grace_days < 0; DM_EIO / DM_EUNAVAIL
 * when the list of due subscriptions cannot be read.
 */
int dm__sub_period_end(dm_db *db, int64_t now_ms, int grace_days, int max, dm_sub_period_report *rep,
                       dm_err_t *err);

/* Periodic job body ("subscriptions.period_end"); ctx is the dm_config
 * (borrowed). Processes everything due at the wall clock now with
 * cfg->grace_days. */
int dm__sub_period_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

#endif

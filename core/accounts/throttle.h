/*
 * throttle.h — failed-login throttling over the auth_failures table
 * (migration 0002): sliding windows per client address and per account.
 * Counting in PostgreSQL keeps the limits right across several nodes.
 * Worker threads only.
 *
 * Limits (docs/sessions.md repeats them):
 *   per account: 10 failures in 15 minutes (so at most 40 an hour, under
 *                the 100 an hour the product promises at most)
 *   per address: 30 failures in 15 minutes
 * A successful login does not erase failures: an attacker who also knows
 * one valid password gains nothing by interleaving it.
 */
#ifndef DM_THROTTLE_H
#define DM_THROTTLE_H

#include <dermaga/error.h>

#include "db/pg.h"

#define DM_THROTTLE_WINDOW_S 900
#define DM_THROTTLE_MAX_PER_ACCOUNT 10
#define DM_THROTTLE_MAX_PER_IP 30

/* 0 when a login attempt may proceed; DM_EBUSY with *retry_after_s (>= 1)
 * when the address or the account (normalised email; may be NULL) is over
 * its limit. ip may be NULL (then only the account counts). */
int dm__throttle_check(dm_db *db, const char *ip, const char *account, int *retry_after_s,
                       dm_err_t *err);

/* Record one failed attempt for ip and account (either may be NULL). */
int dm__throttle_failed(dm_db *db, const char *ip, const char *account, dm_err_t *err);

/* Delete failures older than the window (a periodic job). *deleted may be NULL. */
int dm__throttle_prune(dm_db *db, long *deleted, dm_err_t *err);

#endif

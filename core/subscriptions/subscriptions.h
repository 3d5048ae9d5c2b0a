/*
 * subscriptions.h — the user's subscription operations behind
 * /api/subscriptions (docs/openapi.yaml, Subscriptions: subscribe, list, upgrade,
 * cancel, auto-renew, renew), which take the time as a parameter so tests
 * can drive it. The routes are subscriptions_routes.c.
 */
#ifndef DM_SUBSCRIPTIONS_H
#define DM_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

/*
 * The operations. Each runs as ONE SQL transaction of its own on db (it
 * begins, commits, and rolls back on any failure, so a refusal leaves
 * nothing behind), locks the subscription row first, and on success sets
 * *out to the subscription as dm__sub_json shapes it (new reference).
 * All ids and strings are borrowed. now_ms is the wall clock in ms.
 *
 * On a refusal *code names the API error (a static string), err->msg is
 * the API's message (for VALIDATION_ERROR "field: why"), and the return
 * value says its class:
 *   DM_ENOTFOUND  "NOT_FOUND"            no such subscription of user_id
 *   DM_EINVAL     "VALIDATION_ERROR"     the plan named in the body is
 *                                        unknown, inactive or not allowed
 *                                        (err->msg says why)
 *   DM_ECONFLICT  "ALREADY_SUBSCRIBED" | "QUOTA_EXHAUSTED" |
 *                 "INVALID_STATE"        (409) or
 *                 "INSUFFICIENT_CREDITS" (402)
 * Any other negative code (DM_EIO, DM_EUNAVAIL, DM_ENOMEM) leaves *code
 * NULL: an internal failure, nothing saved.
 */

/* Subscribe user_id to plan_id: slot, PENDING instance, provision job and
 * a SUBSCRIPTION ledger row of -price. */
int dm__subs_subscribe(dm_db *db, const char *user_id, const char *plan_id, bool auto_renew, int64_t now_ms,
                       json_t **out, const char **code, dm_err_t *err);

/* Move ACTIVE subscription sub_id to the dearer plan new_plan_id of the
 * same service and period (dm__sub_upgrade_to with the user's rules),
 * charging ceil of the price difference for the remaining time as an
 * UPGRADE row; the period end stays. Bonus subscriptions are not upgraded
 * by their user (INVALID_STATE). */
int dm__subs_upgrade(dm_db *db, const char *user_id, const char *sub_id, const char *new_plan_id,
                     int64_t now_ms, json_t **out, const char **code, dm_err_t *err);

/* Cancel live subscription sub_id (reason may be NULL) and refund by
 * refund_policy ("prorated" → the value of the time left, rounded down, as
 * a REFUND row, when above 0 and not a bonus — all that was paid in when
 * the instance never reached RUNNING; "none" → nothing), through
 * dm__sub_cancel_now.
 * The refund is capped at what the subscription paid in, net of earlier
 * refunds (an administrator's "full" refund, free upgrades and extended
 * days are never paid out twice or as cash). A second cancel is
 * INVALID_STATE and refunds nothing. */
int dm__subs_cancel(dm_db *db, const char *user_id, const char *sub_id, const char *reason,
                    const char *refund_policy, int64_t now_ms, json_t **out, const char **code, dm_err_t *err);

/* Renew ACTIVE or SUSPENDED subscription sub_id now (dm__sub_renewal): a
 * RENEWAL row of -price, and one more billing period — after the current
 * end for an ACTIVE one; from now for a SUSPENDED one, which becomes
 * ACTIVE again with its instance's start job queued. Bonus subscriptions
 * are not renewed by their user (INVALID_STATE). */
int dm__subs_renew(dm_db *db, const char *user_id, const char *sub_id, int64_t now_ms, json_t **out,
                   const char **code, dm_err_t *err);

/* Turn auto-renewal of live subscription sub_id on or off. */
int dm__subs_auto_renew(dm_db *db, const char *user_id, const char *sub_id, bool enabled, json_t **out,
                        const char **code, dm_err_t *err);

/* One page of user_id's subscriptions, newest first; status (may be NULL)
 * one of ACTIVE, SUSPENDED, EXPIRED, CANCELLED (else DM_EINVAL). *items a
 * new array of dm__sub_json objects, *total the matches. */
int dm__subs_list(dm_db *db, const char *user_id, const char *status, long page, long limit, json_t **items,
                  long *total, dm_err_t *err);

#endif

/*
 * admin_subscriptions_routes.h — the seven administrator subscription routes of
 * API.md (Admin/Subscriptions): list, detail, bonus, upgrade, force-cancel,
 * expire, extend; every change audited with its reason. The routes live in
 * admin_subscriptions_routes.c (list, detail, bonus, upgrade, registration) and
 * admin_subscriptions_end_routes.c (force-cancel, expire, extend); the pieces
 * they share are declared below for those two files only.
 */
#ifndef DM_ADMIN_SUBSCRIPTIONS_H
#define DM_ADMIN_SUBSCRIPTIONS_H

#include <stdbool.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "subscriptions/sub_core.h"

typedef struct dm_request dm_request; /* http/request.h */

/* ---- shared by admin_subscriptions*.c ---------------------------------- */

/* Why a change was refused: answered as status/code/message, or as 400
 * VALIDATION_ERROR for field when field is set. status 0 = not refused. */
typedef struct dm_admin_sub_refusal {
    int         status;
    const char *code;
    const char *field;
    char        message[200];
} dm_admin_sub_refusal;

/* Fill no and return DM_ECONFLICT (so a change function can `return` it). */
int dm__admin_sub_refuse(dm_admin_sub_refusal *no, int status, const char *code, const char *field,
                         const char *message);

/* One change to locked live-or-not subscription s inside the route's
 * transaction; arg is the route's own. 0; DM_ECONFLICT with *no filled;
 * other codes roll the change back as failures. */
typedef int (*dm_admin_sub_fn)(dm_request *r, dm_sub *s, void *arg, dm_admin_sub_refusal *no, dm_err_t *err);

/* In one transaction: lock subscription :id, run fn, write the audit row
 * (action, reason, the subscription before and after) and commit. *after
 * the subscription after the change (new reference) on 0. DM_ENOTFOUND;
 * DM_ECONFLICT (*no filled); failures. Nothing is written unless 0. */
int dm__admin_sub_change(dm_request *r, const char *action, const char *reason, dm_admin_sub_fn fn, void *arg,
                         json_t **after, dm_admin_sub_refusal *no, dm_err_t *err);

/* Answer the outcome of dm__admin_sub_change: ok_status with after
 * (stolen), the refusal, 404, or a failure logged as what. */
void dm__admin_sub_answer(dm_request *r, int rc, const dm_admin_sub_refusal *no, const dm_err_t *err,
                          json_t *after, int ok_status, const char *what);

/* Handlers of admin_subscriptions_end_routes.c. */
void dm__admin_sub_force_cancel(dm_request *r);
void dm__admin_sub_expire(dm_request *r);
void dm__admin_sub_extend(dm_request *r);

#endif

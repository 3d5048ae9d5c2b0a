/*
 * instances.h — the instance routes (API.md, Instances): list, detail and
 * status history under /api/instances, and the runtime operations
 * (restart, stop, start, retry-provision) under both /api/instances/:id
 * and /api/subscriptions/:id. An operation only moves the status (through
 * instance_state.h) and queues the instance.<kind> job; runtimes do the rest.
 */
#ifndef DM_INSTANCES_H
#define DM_INSTANCES_H

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"
#include "http/router.h"

/* Register the routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__instances_routes_add(dm_router *rt);

/* Which instance an operation targets: exactly one of the two ids is set. */
typedef struct dm_instance_target {
    const char *instance_id;
    const char *subscription_id;
} dm_instance_target;

/*
 * Apply op (restart, stop, start, retry-provision) for user_id (NULL: an
 * administrator, any owner) in one transaction: lock the subscription, then
 * the instance; the subscription must be ACTIVE; move the status, write the
 * event (actor) and queue the job (instance.provision for retry-provision).
 * *out (new reference) gets {id, subscriptionId, status}. 0; DM_ENOTFOUND
 * (unknown, or another user's); DM_ECONFLICT (the subscription or the
 * instance's status forbids it; nothing written); DM_EIO / DM_EUNAVAIL.
 */
int dm__instance_operate(dm_db *db, const dm_instance_target *t, const char *user_id, const char *actor,
                         const char *op, json_t **out, dm_err_t *err);

#endif

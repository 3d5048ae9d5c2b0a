/*
 * instances.h — the instance model (docs/openapi.yaml, Instances): list, detail and
 * status history, and the runtime operations (restart, stop, start,
 * retry-provision). An operation only moves the status (through
 * instance_state.h) and queues the instance job (instance_job.h); runtimes
 * do the rest. Wherever user_id is a parameter, NULL means an
 * administrator (any owner); another user's instance is DM_ENOTFOUND,
 * exactly like an unknown one.
 */
#ifndef DM_INSTANCES_H
#define DM_INSTANCES_H

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* One page of user_id's instances in the API shape {id, subscriptionId,
 * status, runtime, unitName, urls, healthStatus, lastHealthCheck,
 * createdAt, updatedAt}, newest first: *items a new array, *total the
 * count. 0, DM_EIO / DM_EUNAVAIL. */
int dm__instances_list(dm_db *db, const char *user_id, long page, long limit, json_t **items, long *total,
                       dm_err_t *err);

/* Instance id in that shape (*out new). 0, DM_ENOTFOUND, DM_EIO / DM_EUNAVAIL. */
int dm__instance_get(dm_db *db, const char *id, const char *user_id, json_t **out, dm_err_t *err);

/* One page of instance id's status history, newest first: *items a new
 * array of {id, operation, fromStatus, toStatus, reason, actor, createdAt}.
 * 0, DM_ENOTFOUND, DM_EIO / DM_EUNAVAIL. */
int dm__instance_events(dm_db *db, const char *id, const char *user_id, long page, long limit, json_t **items,
                        long *total, dm_err_t *err);

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

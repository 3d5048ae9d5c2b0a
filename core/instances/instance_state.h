/*
 * instance_state.h — the instance lifecycle (docs/openapi.yaml, Instances): the one
 * table of allowed transitions, as data, and the single function that moves
 * an instance's status and records the change in instance_events. Routes,
 * job handlers and the reconciler all go through dm__instance_transition.
 */
#ifndef DM_INSTANCE_STATE_H
#define DM_INSTANCE_STATE_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* The statuses of docs/openapi.yaml, in a fixed order (tests index by it). */
#define DM_INSTANCE_NSTATUS 10
extern const char *const dm__instance_statuses[DM_INSTANCE_NSTATUS];

/* The operations: requests (provision, start, stop, restart, terminate,
 * retry-provision) and job outcomes (running, stopped, error, terminated). */
#define DM_INSTANCE_NOPS 11
extern const char *const dm__instance_ops[DM_INSTANCE_NOPS];

/* True when status is one of dm__instance_statuses. */
bool dm__instance_status_valid(const char *status);

/* Where op takes an instance in status `from`: *to (may be NULL) gets a
 * static string. 0; DM_ECONFLICT when the table forbids it; DM_EINVAL for
 * an unknown op or status. Pure: no database. */
int dm__instance_next(const char *from, const char *op, const char **to);

/*
 * Apply op to instance instance_id (borrowed) inside the caller's open
 * transaction: lock the row (FOR UPDATE), check the table, set the new
 * status (and, for op "error", the instance's message to reason), and
 * write the instance_events row with actor ('system' or a user id) and
 * reason (may be NULL; cut to 2000 characters). new_status (may be NULL)
 * gets the status now held. 0; DM_ENOTFOUND (no such instance, or a
 * malformed id); DM_ECONFLICT when the current status forbids op (nothing
 * written; the message names the current status; the transaction stays
 * usable); DM_EINVAL (unknown op, bad actor); DM_EIO / DM_EUNAVAIL (the
 * caller rolls back).
 */
int dm__instance_transition(dm_db *db, const char *instance_id, const char *op, const char *actor,
                            const char *reason, char new_status[16], dm_err_t *err);

/*
 * An instance_events row that changes nothing: operation op ("retry"), the
 * status as it is now on both sides, actor 'system', reason (cut to 2000
 * characters). So a failure the system retries is seen while it lasts, not
 * only when the retries are spent. One statement (autocommit is fine).
 * 0; DM_ENOTFOUND when the instance is gone; the SQL codes.
 */
int dm__instance_note(dm_db *db, const char *instance_id, const char *op, const char *reason,
                      dm_err_t *err);

#endif

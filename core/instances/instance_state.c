/*
 * instance_state.c — the instance lifecycle table (instance_state.h) and
 * the transition that applies it: lock, check, update, record the event.
 * Every status change of an instance goes through here, so the table below
 * is the whole truth about what may follow what.
 */
#include "instances/instance_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"

enum {
    S_PENDING, S_PROVISIONING, S_RUNNING, S_STOPPING, S_STOPPED,
    S_STARTING, S_RESTARTING, S_ERROR, S_TERMINATING, S_TERMINATED
};

const char *const dm__instance_statuses[DM_INSTANCE_NSTATUS] = {
    "PENDING", "PROVISIONING", "RUNNING", "STOPPING", "STOPPED",
    "STARTING", "RESTARTING", "ERROR", "TERMINATING", "TERMINATED",
};

#define B(s) (1u << (s))
#define ALL ((1u << DM_INSTANCE_NSTATUS) - 1u)

/*
 * The allowed transitions. Requests:
 *   provision        PENDING                                  → PROVISIONING
 *   start            STOPPED                                  → STARTING
 *   stop             RUNNING, ERROR                           → STOPPING
 *   restart          RUNNING, ERROR                           → RESTARTING
 *   terminate        anything but TERMINATING, TERMINATED     → TERMINATING
 *   retry-provision  ERROR, TERMINATED                        → PENDING
 * Job outcomes:
 *   running          PENDING, PROVISIONING, STARTING, RESTARTING → RUNNING
 *   stopped          STOPPING                                 → STOPPED
 *   error            anything but ERROR, TERMINATED           → ERROR
 *   terminated       TERMINATING                              → TERMINATED
 * Observed by the reconciler:
 *   exited           RUNNING                                  → STOPPED
 *     (the workload ended cleanly by itself — the runtime says stopped,
 *     not failed, e.g. exit code 0: nothing failed, so nothing is
 *     redeployed, and the user starts it again when they want)
 * stop is allowed from ERROR so that a crash-looping unit can be parked;
 * error is not allowed from ERROR (nothing would change but the message)
 * nor from TERMINATED (final: only retry-provision leaves it).
 */
static const struct rule {
    const char *op;
    unsigned    from; /* bit s set: allowed from status s */
    int         to;
} rules[DM_INSTANCE_NOPS] = {
    { "provision", B(S_PENDING), S_PROVISIONING },
    { "start", B(S_STOPPED), S_STARTING },
    { "stop", B(S_RUNNING) | B(S_ERROR), S_STOPPING },
    { "restart", B(S_RUNNING) | B(S_ERROR), S_RESTARTING },
    { "terminate", ALL & ~(B(S_TERMINATING) | B(S_TERMINATED)), S_TERMINATING },
    { "retry-provision", B(S_ERROR) | B(S_TERMINATED), S_PENDING },
    { "running", B(S_PENDING) | B(S_PROVISIONING) | B(S_STARTING) | B(S_RESTARTING), S_RUNNING },
    { "stopped", B(S_STOPPING), S_STOPPED },
    { "error", ALL & ~(B(S_ERROR) | B(S_TERMINATED)), S_ERROR },
    { "terminated", B(S_TERMINATING), S_TERMINATED },
    { "exited", B(S_RUNNING), S_STOPPED },
};

const char *const dm__instance_ops[DM_INSTANCE_NOPS] = {
    "provision", "start", "stop", "restart", "terminate", "retry-provision",
    "running", "stopped", "error", "terminated", "exited",
};

static int status_index(const char *s)
{
    for (int i = 0; s != NULL && i < DM_INSTANCE_NSTATUS; i++)
        if (strcmp(dm__instance_statuses[i], s) == 0)
            return i;
    return -1;
}

bool dm__instance_status_valid(const char *status)
{
    return status_index(status) >= 0;
}

int dm__instance_next(const char *from, const char *op, const char **to)
{
    int f = status_index(from);
    if (f < 0)
        return DM_EINVAL;
    for (size_t i = 0; op != NULL && i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(rules[i].op, op) != 0)
            continue;
        if ((rules[i].from & B(f)) == 0)
            return DM_ECONFLICT;
        if (to != NULL)
            *to = dm__instance_statuses[rules[i].to];
        return 0;
    }
    return DM_EINVAL;
}

/* The current status of instance id, locked. */
static int lock_status(dm_db *db, const char *id, char status[16], dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "inst_lock", "SELECT status FROM instances WHERE id = $1::uuid FOR UPDATE", 1,
                              p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such instance");
    else
        snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int dm__instance_transition(dm_db *db, const char *instance_id, const char *op, const char *actor,
                            const char *reason, char new_status[16], dm_err_t *err)
{
    if (actor == NULL || (strcmp(actor, "system") != 0 && !dm__users_valid_id(actor)))
        return dm_err_set(err, DM_EINVAL, "instance transition: bad actor");
    if (!dm__users_valid_id(instance_id))
        return dm_err_set(err, DM_ENOTFOUND, "no such instance");
    const char *to = NULL;
    if (dm__instance_next("PENDING", op, NULL) == DM_EINVAL)
        return dm_err_set(err, DM_EINVAL, "instance transition: unknown operation %s", op ? op : "(null)");
    char cur[16];
    int rc = lock_status(db, instance_id, cur, err);
    if (rc != 0)
        return rc;
    rc = dm__instance_next(cur, op, &to);
    if (rc == DM_ECONFLICT)
        return dm_err_set(err, DM_ECONFLICT, "the instance is %s: %s is not allowed now", cur, op);
    if (rc != 0)
        return dm_err_set(err, DM_EIO, "instance %s has unknown status %s", instance_id, cur);
    /* Only a failure's reason is the instance's message; any other change
     * clears a stale one once the instance runs again. */
    const char *p[] = { instance_id, to, op, reason, actor, cur };
    rc = dm__db_run(db, "inst_set",
                    "UPDATE instances SET status = $2, updated_at = now(), "
                    "  message = CASE WHEN $3 = 'error' THEN left($4, 2000) "
                    "                 WHEN $3 = 'running' THEN NULL ELSE message END "
                    "WHERE id = $1::uuid",
                    4, p, err);
    if (rc == 0)
        rc = dm__db_run(db, "inst_event",
                        "INSERT INTO instance_events (instance_id, operation, from_status, to_status, reason, actor) "
                        "VALUES ($1::uuid, $3, $6, $2, left($4, 2000), $5)",
                        6, p, err);
    if (rc == 0 && new_status != NULL)
        snprintf(new_status, 16, "%s", to);
    return rc;
}

int dm__instance_note(dm_db *db, const char *instance_id, const char *op, const char *reason,
                      dm_err_t *err)
{
    const char *p[] = { instance_id, op, reason };
    PGresult *r = dm__db_exec(db, "inst_note",
                              "INSERT INTO instance_events (instance_id, operation, from_status, to_status, "
                              "  reason, actor) "
                              "SELECT id, $2, status, status, left($3, 2000), 'system' FROM instances "
                              "WHERE id = $1::uuid",
                              3, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = strcmp(PQcmdTuples(r), "0") == 0 ? dm_err_set(err, DM_ENOTFOUND, "no such instance") : 0;
    PQclear(r);
    return rc;
}

/*
 * reconciler.c — the periodic task "instances.reconcile" (reconciler.h):
 * running instances whose workload died or vanished, intermediate statuses
 * whose job was lost, and workloads whose instance is gone. Every repair
 * re-checks what it saw under the instance's row lock, so a user's request
 * racing the run always wins.
 */
#include "instances/reconciler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <dermaga/runtime.h>

#include "accounts/users.h"
#include "instances/instance_job.h"
#include "instances/instance_runtime.h"
#include "instances/instance_state.h"
#include "plugin/call.h"
#include "util/log.h"

#define LAST_EVENT "(SELECT COALESCE(max(e.id), 0) FROM instance_events e WHERE e.instance_id = i.id)"
#define LIVE_JOB DM_INSTANCE_JOB_LIVE_SQL("i.id")

/* check_running's answer when the runtime cannot be asked: not drift. */
#define ENGINE_DOWN 1

/* The runtime plugins found unavailable during one run: their instances
 * and their orphans wait for the next run, the others' do not. */
#define DOWN_MAX 16
typedef struct down_set {
    const dm_plugin *p[DOWN_MAX];
    int              n;
} down_set;

static bool is_down(const down_set *d, const dm_plugin *rt)
{
    for (int i = 0; i < d->n; i++)
        if (d->p[i] == rt)
            return true;
    return false;
}

static void mark_down(down_set *d, const dm_plugin *rt)
{
    if (!is_down(d, rt) && d->n < DOWN_MAX)
        d->p[d->n++] = rt;
}

/* Inside an open transaction: lock instance id and check that it is still
 * in status with last event last_event (nothing happened to it since it
 * was read). *same false when something did. 0 or the SQL codes. The lock
 * comes first, in its own statement: a statement that waited for the lock
 * would read the events as they were before the wait. */
static int still(dm_db *db, const char *id, const char *status, const char *last_event, bool *same,
                 dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "rc_lock", "SELECT 1 FROM instances WHERE id = $1::uuid FOR UPDATE", 1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    PQclear(r);
    r = dm__db_exec(db, "rc_still", "SELECT i.status, " LAST_EVENT "::text FROM instances i WHERE i.id = $1::uuid",
                    1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *same = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), status) == 0 &&
            strcmp(PQgetvalue(r, 0, 1), last_event) == 0;
    PQclear(r);
    return 0;
}

/* Whether a redeploy is wanted: the subscription is ACTIVE and no other
 * instance job is queued or running (a suspension's stop, a cancel's
 * terminate, which a redeploy would overtake). Under the row lock. */
static int redeploy_wanted(dm_db *db, const char *id, bool *wanted, dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "rc_wanted",
                              "SELECT s.status = 'ACTIVE' AND NOT " LIVE_JOB " FROM instances i "
                              "JOIN subscriptions s ON s.id = i.subscription_id WHERE i.id = $1::uuid",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *wanted = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

/* Queue job k for id inside the open transaction. */
static int enqueue(dm_db *db, const char *id, dm_instance_job_kind k, const char *reason, dm_err_t *err)
{
    return dm__instance_job_enqueue(db, k, id, NULL, reason, 0, NULL, err);
}

/* How many automatic redeploys id had in the last hour. */
static int recent_restarts(dm_db *db, const char *id, long *n, dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "rc_restarts",
                              "SELECT count(*) FROM instance_events WHERE instance_id = $1::uuid "
                              "  AND operation = 'retry-provision' AND actor = 'system' "
                              "  AND created_at > now() - interval '1 hour'",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

/* ---- running instances ------------------------------------------------- */

/* The workload of RUNNING instance id is gone or down (what says how):
 * ERROR, then a redeploy when its policy asks and the budget allows. */
static int died(dm_db *db, const char *id, const char *last_event, bool restart, const char *what, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    bool same = false;
    if (rc == 0)
        rc = still(db, id, "RUNNING", last_event, &same, err);
    if (rc == 0 && same) {
        char reason[DM_RUNTIME_MESSAGE_MAX + 96];
        snprintf(reason, sizeof reason, "reconciler: %s", what);
        DM_LOG_W("instance %s: %s", id, what);
        rc = dm__instance_transition(db, id, "error", "system", reason, NULL, err);
        long n = 0;
        if (rc == 0 && restart)
            rc = redeploy_wanted(db, id, &restart, err);
        if (rc == 0 && restart)
            rc = recent_restarts(db, id, &n, err);
        if (rc == 0 && restart && n < DM_RECONCILE_RESTARTS_PER_HOUR) {
            const char *why = "reconciler: redeploying (restart on-failure)";
            rc = dm__instance_transition(db, id, "retry-provision", "system", why, NULL, err);
            if (rc == 0)
                rc = enqueue(db, id, DM_INSTANCE_JOB_PROVISION, why, err);
        } else if (rc == 0 && restart) {
            DM_LOG_W("instance %s: %ld automatic redeploys in the last hour; left in ERROR", id, n);
        }
    }
    return dm__db_end(db, rc, err);
}

/* The workload of RUNNING instance id ended by itself without failing (the
 * runtime reports it stopped, e.g. "exited with code 0"): STOPPED with an
 * event saying so. */
static int exited(dm_db *db, const char *id, const char *last_event, const char *how, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    bool same = false;
    if (rc == 0)
        rc = still(db, id, "RUNNING", last_event, &same, err);
    if (rc == 0 && same) {
        char reason[DM_RUNTIME_MESSAGE_MAX + 96];
        snprintf(reason, sizeof reason, "reconciler: the workload ended by itself (%s); stopped, not redeployed",
                 how);
        DM_LOG_I("instance %s: the workload ended by itself (%s)", id, how);
        rc = dm__instance_transition(db, id, "exited", "system", reason, NULL, err);
    }
    return dm__db_end(db, rc, err);
}

/* A backend may give a workload a new unit (a new pod): keep the name. */
static int refresh_unit(dm_db *db, const char *id, const char *unit, dm_err_t *err)
{
    const char *p[] = { id, unit };
    return dm__db_run(db, "rc_unit",
                      "UPDATE instances SET unit_name = $2 WHERE id = $1::uuid AND status = 'RUNNING' "
                      "  AND unit_name IS DISTINCT FROM $2",
                      2, p, err);
}

/* Look at one RUNNING instance (row i of r) on the runtime it records
 * (dm__instance_runtime). ENGINE_DOWN when that runtime cannot be asked. */
static int check_running(dm_db *db, const dm_plugin *rt, PGresult *r, int i, dm_err_t *err)
{
    const char *id = PQgetvalue(r, i, 0), *unit = PQgetvalue(r, i, 1);
    dm_runtime_status_t st;
    dm_err_t e = { 0, "" };
    int rc = dm__runtime_status(rt, id, &st, &e);
    json_decref(st.endpoints);
    if (rc == DM_EUNAVAIL || rc == DM_ETIMEDOUT) {
        DM_LOG_W("reconciler: the runtime is unavailable (%s); trying again next run", e.msg);
        return ENGINE_DOWN;
    }
    if (rc != 0) {
        DM_LOG_W("reconciler: status of %s: %s", id, e.msg);
        return 0;
    }
    const bool restart = strcmp(PQgetvalue(r, i, 2), "on-failure") == 0;
    char what[DM_RUNTIME_MESSAGE_MAX + 64];
    switch (st.phase) {
    case DM_RUNTIME_RUNNING:
        return st.unit_name[0] != '\0' && strcmp(st.unit_name, unit) != 0 ? refresh_unit(db, id, st.unit_name, err)
                                                                            : 0;
    case DM_RUNTIME_ABSENT:
        snprintf(what, sizeof what, "the workload vanished (%s)", st.message[0] ? st.message : "not found");
        break;
    case DM_RUNTIME_STOPPED:
        /* A clean end (exit 0) is no failure: STOPPED, whatever the
         * restart policy, and never a redeploy. */
        if (strcmp(st.message, DM_RECONCILE_CLEAN_EXIT) == 0)
            return exited(db, id, PQgetvalue(r, i, 3), st.message, err);
        /* killed (137, 143) behind Dermaga's back is a failure */
        __attribute__((fallthrough));
    case DM_RUNTIME_FAILED:
        snprintf(what, sizeof what, "the workload stopped behind Dermaga's back (%s)",
                 st.message[0] ? st.message : "no reason given");
        break;
    default: /* pending or unknown: the backend is busy with it; look again next run */
        return 0;
    }
    return died(db, id, PQgetvalue(r, i, 3), restart, what, err);
}

static int reconcile_running(dm_db *db, const dm_plugin_set *set, down_set *down, dm_err_t *err)
{
    char limit[16];
    snprintf(limit, sizeof limit, "%d", DM_RECONCILE_BATCH);
    const char *p[] = { limit };
    PGresult *r = dm__db_exec(db, "rc_running",
                              "SELECT i.id, COALESCE(i.unit_name, ''), COALESCE(i.supervision ->> 'restart', 'never'), "
                              "  " LAST_EVENT "::text, COALESCE(i.runtime, '') FROM instances i "
                              "WHERE i.status = 'RUNNING' "
                              "ORDER BY i.last_health_check NULLS FIRST, i.id LIMIT $1::int",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const dm_plugin *rt = NULL;
        dm_err_t e = { 0, "" };
        if (dm__instance_runtime(set, PQgetvalue(r, i, 4), NULL, NULL, &rt, &e) != 0) {
            /* Its workload is on a runtime this node does not run: not
             * drift, and no other runtime may be asked in its place. */
            DM_LOG_W("reconciler: instance %s: %s", PQgetvalue(r, i, 0), e.msg);
            continue;
        }
        if (is_down(down, rt))
            continue;
        rc = check_running(db, rt, r, i, err);
        if (rc == ENGINE_DOWN) {
            mark_down(down, rt);
            rc = 0;
        }
    }
    PQclear(r);
    return rc;
}

/* ---- lost work ---------------------------------------------------------- */

/* An instance in an intermediate status with no live job: nothing will ever
 * finish its move. A lost terminate is queued again (the subscription has
 * ended: the workload must go); anything else becomes ERROR, from which the
 * user can retry. */
static int rescue(dm_db *db, const char *id, const char *status, const char *last_event, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    bool same = false;
    if (rc == 0)
        rc = still(db, id, status, last_event, &same, err);
    if (rc == 0 && same) {
        /* Re-checked under the lock: an operation queues its job in the
         * transaction that moves the status, which needs this lock. */
        const char *p[] = { id };
        PGresult *r = dm__db_exec(db, "rc_live", "SELECT " LIVE_JOB " FROM instances i WHERE i.id = $1::uuid",
                                  1, p, err);
        if (r == NULL)
            rc = dm__db_failed(err);
        same = r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "f") == 0;
        PQclear(r);
    }
    if (rc == 0 && same) {
        DM_LOG_W("instance %s: its %s work was lost", id, status);
        if (strcmp(status, "TERMINATING") == 0) {
            rc = enqueue(db, id, DM_INSTANCE_JOB_TERMINATE, "reconciler: terminating again (the work was lost)", err);
        } else {
            char reason[128];
            snprintf(reason, sizeof reason, "reconciler: the work of %s was lost (no job is queued or running)",
                     status);
            rc = dm__instance_transition(db, id, "error", "system", reason, NULL, err);
        }
    }
    return dm__db_end(db, rc, err);
}

static int reconcile_lost(dm_db *db, dm_err_t *err)
{
    char age[16], limit[16];
    snprintf(age, sizeof age, "%d", DM_RECONCILE_LOST_AFTER_S);
    snprintf(limit, sizeof limit, "%d", DM_RECONCILE_BATCH);
    const char *p[] = { age, limit };
    PGresult *r = dm__db_exec(db, "rc_lost",
                              "SELECT i.id, i.status, " LAST_EVENT "::text FROM instances i "
                              "WHERE i.status IN ('PENDING', 'PROVISIONING', 'STOPPING', 'STARTING', 'RESTARTING', "
                              "  'TERMINATING') AND i.updated_at < now() - make_interval(secs => $1::int) "
                              "  AND NOT " LIVE_JOB " LIMIT $2::int",
                              2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = rescue(db, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), err);
    PQclear(r);
    return rc;
}

/* ---- orphans ------------------------------------------------------------ */

/* Remove id's workload when its instance is TERMINATED or unknown. The row
 * lock is held across the runtime call, so a retry-provision cannot start
 * a new workload that this would then remove. An ERROR instance whose
 * subscription has ended (its terminate failed) gets a terminate job. */
static int remove_if_orphan(dm_db *db, const dm_plugin *rt, const char *id, dm_err_t *err)
{
    bool orphan = !dm__users_valid_id(id), ended = false;
    int rc = dm__db_begin(db, err);
    if (rc == 0 && !orphan) {
        const char *p[] = { id };
        PGresult *r = dm__db_exec(db, "rc_orphan",
                                  "SELECT i.status, i.status = 'ERROR' AND s.status IN ('CANCELLED', 'EXPIRED') "
                                  "  AND NOT " LIVE_JOB " FROM instances i "
                                  "JOIN subscriptions s ON s.id = i.subscription_id WHERE i.id = $1::uuid "
                                  "FOR UPDATE OF i",
                                  1, p, err);
        if (r == NULL)
            rc = dm__db_failed(err);
        orphan = r != NULL && (PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 0), "TERMINATED") == 0);
        ended = r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        PQclear(r);
    }
    if (rc == 0 && ended) {
        const char *why = "reconciler: the subscription has ended";
        rc = dm__instance_transition(db, id, "terminate", "system", why, NULL, err);
        if (rc == 0)
            rc = enqueue(db, id, DM_INSTANCE_JOB_TERMINATE, why, err);
    }
    if (rc == 0 && orphan) {
        dm_err_t e = { 0, "" };
        DM_LOG_W("reconciler: removing the workload of %s (no live instance)", id);
        if (dm__runtime_terminate(rt, id, &e) != 0)
            DM_LOG_W("reconciler: removing the workload of %s: %s", id, e.msg);
    }
    return dm__db_end(db, rc, err);
}

static int reconcile_orphans(dm_db *db, const dm_plugin *rt, dm_err_t *err)
{
    PGresult *r = dm__db_exec(db, "rc_owner", "SELECT id::text FROM installation", 0, NULL, err);
    if (r == NULL)
        return dm__db_failed(err);
    char owner[37] = "";
    if (PQntuples(r) == 1)
        snprintf(owner, sizeof owner, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (owner[0] == '\0')
        return 0;
    json_t *ids = NULL;
    dm_err_t e = { 0, "" };
    int rc = dm__runtime_workloads(rt, owner, &ids, &e);
    if (rc == DM_EUNSUPPORTED)
        return 0; /* a runtime older than ABI 1.4 cannot tell */
    if (rc != 0) {
        DM_LOG_W("reconciler: listing the workloads of %s: %s", rt->name, e.msg);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (rc == 0 && json_is_string(v))
            rc = remove_if_orphan(db, rt, json_string_value(v), err);
    }
    json_decref(ids);
    return rc;
}

int dm__reconcile_run(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job;
    const dm_plugin_set *set = ctx;
    if (dm__plugins_find(set, DM_PLUGIN_RUNTIME, NULL) == NULL)
        return 0;
    down_set down = { .n = 0 };
    int rc = reconcile_running(db, set, &down, err);
    if (rc == 0 && down.n == 0) /* an engine outage is not drift: lost work waits too */
        rc = reconcile_lost(db, err);
    /* The orphan sweep asks every loaded runtime plugin (that answered):
     * an instance's workload may be on any of them, and a workload is an
     * orphan whichever runtime holds it. */
    for (size_t i = 0; rc == 0 && i < dm__plugins_count(set); i++) {
        const dm_plugin *rt = dm__plugins_at(set, i);
        if (rt->kind == DM_PLUGIN_RUNTIME && !is_down(&down, rt))
            rc = reconcile_orphans(db, rt, err);
    }
    return rc;
}

int dm__reconciler_register(dm_jobs_runner *r, dm_plugin_set *plugins, int every_s, dm_err_t *err)
{
    if (dm__plugins_find(plugins, DM_PLUGIN_RUNTIME, NULL) == NULL)
        return 0;
    return dm__jobs_register_periodic(r, "instances.reconcile", every_s, dm__reconcile_run, plugins, err);
}

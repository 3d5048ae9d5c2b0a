/*
 * instances.c — the instance model behind /api/instances and the runtime
 * operations under /api/subscriptions/:id (instances.h): reads in the API
 * shape, and operations that move the status (through instance_state.h)
 * and queue the instance job in one transaction. A user reaches their own
 * instances, an administrator (user_id NULL) any.
 */
#include "instances/instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "db/sql_time.h"
#include "instances/instance_job.h"
#include "instances/instance_state.h"
#include "subscriptions/policy.h"

#define INSTANCE_JSON                                                                                         \
    "json_build_object('id', i.id, 'subscriptionId', i.subscription_id, 'status', i.status, "                \
    "  'runtime', i.runtime, 'unitName', i.unit_name, 'urls', i.urls, 'healthStatus', i.health_status, "     \
    "  'lastHealthCheck', " DM_SQL_TS("i.last_health_check") ", 'createdAt', " DM_SQL_TS("i.created_at") ", "              \
    "  'updatedAt', " DM_SQL_TS("i.updated_at") ")"

/* The first column of r's first row parsed as JSON into *out. */
static int row_json(PGresult *r, int col, json_t **out, dm_err_t *err)
{
    if (PQntuples(r) == 0)
        return dm_err_set(err, DM_ENOTFOUND, "no such instance");
    if ((*out = json_loads(PQgetvalue(r, 0, col), 0, NULL)) == NULL)
        return dm_err_set(err, DM_EIO, "instance: unreadable row JSON");
    return 0;
}

/* The subscription of instance id when user_id (NULL: anyone's) owns it. */
static int instance_sub(dm_db *db, const char *id, const char *user_id, char sub_id[37], dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such instance");
    const char *p[] = { id, user_id };
    PGresult *r = dm__db_exec(db, "inst_sub",
                              "SELECT subscription_id FROM instances "
                              "WHERE id = $1::uuid AND ($2::uuid IS NULL OR user_id = $2::uuid)",
                              2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such instance");
    else
        snprintf(sub_id, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Inside the open transaction: lock, check, move, record, queue. */
static int operate_locked(dm_db *db, const char *sub_id, const char *user_id, const char *actor, const char *op,
                          json_t **out, dm_err_t *err)
{
    dm_sub s;
    dm_instance_job_kind kind;
    if (dm__instance_job_kind_of_op(op, &kind) != 0)
        return dm_err_set(err, DM_EINVAL, "unknown operation %s", op);
    /* The subscription first, then the instance: the order every
     * subscription operation takes its locks in. */
    int rc = dm__sub_lock(db, sub_id, user_id, &s, err);
    if (rc != 0)
        return rc;
    if (s.instance_id[0] == '\0')
        return dm_err_set(err, DM_ECONFLICT, "the subscription has no instance");
    if (dm__sub_next(s.status, DM_SUB_OP_RUNTIME, NULL) != 0)
        return dm_err_set(err, DM_ECONFLICT, "the subscription is %s: %s is not allowed now", s.status, op);
    char status[16];
    char reason[48];
    snprintf(reason, sizeof reason, "%s requested", op);
    rc = dm__instance_transition(db, s.instance_id, op, actor, reason, status, err);
    if (rc == 0)
        rc = dm__instance_job_enqueue(db, kind, s.instance_id, s.id, reason, 0, NULL, err);
    if (rc == 0 && (*out = json_pack("{s:s,s:s,s:s}", "id", s.instance_id, "subscriptionId", s.id, "status",
                                     status)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    return rc;
}

int dm__instance_operate(dm_db *db, const dm_instance_target *t, const char *user_id, const char *actor,
                         const char *op, json_t **out, dm_err_t *err)
{
    char sub_id[37];
    int rc = 0;
    if (t->instance_id != NULL)
        rc = instance_sub(db, t->instance_id, user_id, sub_id, err);
    else
        snprintf(sub_id, sizeof sub_id, "%.36s", t->subscription_id != NULL ? t->subscription_id : "");
    if (rc != 0)
        return rc;
    if ((rc = dm__db_begin(db, err)) != 0)
        return rc;
    json_t *j = NULL;
    rc = operate_locked(db, sub_id, user_id, actor, op, &j, err);
    if (rc == DM_ENOTFOUND)
        dm_err_set(err, DM_ENOTFOUND, "%s", t->instance_id != NULL ? "no such instance" : "no such subscription");
    rc = dm__db_end(db, rc, err);
    if (rc == 0)
        *out = j;
    else
        json_decref(j);
    return rc;
}

int dm__instances_list(dm_db *db, const char *user_id, long page, long limit, json_t **items, long *total,
                       dm_err_t *err)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { user_id, lim, off };
    PGresult *res = dm__db_exec(db, "inst_list",
                                "SELECT (SELECT count(*) FROM instances WHERE user_id = $1::uuid), "
                                "  coalesce((SELECT json_agg(x.j ORDER BY x.created_at DESC, x.id DESC) FROM ("
                                "    SELECT " INSTANCE_JSON " AS j, i.created_at, i.id FROM instances i "
                                "    WHERE i.user_id = $1::uuid ORDER BY i.created_at DESC, i.id DESC "
                                "    LIMIT $2::bigint OFFSET $3::bigint) x), '[]')::text",
                                3, p, err);
    int rc = res == NULL ? dm__db_failed(err) : row_json(res, 1, items, err);
    *total = rc == 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return rc;
}

int dm__instance_get(dm_db *db, const char *id, const char *user_id, json_t **out, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such instance");
    const char *p[] = { id, user_id };
    PGresult *res = dm__db_exec(db, "inst_get",
                                "SELECT " INSTANCE_JSON "::text FROM instances i "
                                "WHERE i.id = $1::uuid AND ($2::uuid IS NULL OR i.user_id = $2::uuid)",
                                2, p, err);
    int rc = res == NULL ? dm__db_failed(err) : row_json(res, 0, out, err);
    PQclear(res);
    return rc;
}

int dm__instance_events(dm_db *db, const char *id, const char *user_id, long page, long limit, json_t **items,
                        long *total, dm_err_t *err)
{
    char sub_id[37], lim[24], off[24];
    int rc = instance_sub(db, id, user_id, sub_id, err);
    if (rc != 0)
        return rc;
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { id, lim, off };
    PGresult *res = dm__db_exec(
        db, "inst_events",
        "SELECT (SELECT count(*) FROM instance_events WHERE instance_id = $1::uuid), "
        "  coalesce((SELECT json_agg(json_build_object('id', e.id, 'operation', e.operation, "
        "    'fromStatus', e.from_status, 'toStatus', e.to_status, 'reason', e.reason, 'actor', e.actor, "
        "    'createdAt', " DM_SQL_TS("e.created_at") ") ORDER BY e.id DESC) FROM ("
        "    SELECT * FROM instance_events WHERE instance_id = $1::uuid ORDER BY id DESC "
        "    LIMIT $2::bigint OFFSET $3::bigint) e), '[]')::text",
        3, p, err);
    rc = res == NULL ? dm__db_failed(err) : row_json(res, 1, items, err);
    *total = rc == 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    /* A failure here is not "no such instance": that was settled above. */
    return rc == DM_ENOTFOUND ? dm_err_set(err, DM_EIO, "instance events: no row") : rc;
}

/*
 * instances.c — /api/instances (list, detail, events, restart|stop|start)
 * and the runtime operations under /api/subscriptions/:id (restart, stop,
 * start, retry-provision); see instances.h. A caller reaches their own
 * instances, an administrator any by id; another user's is 404, exactly
 * like an unknown one. The lists show only the caller's own.
 */
#include "db/sql_time.h"
#include "domain/instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auth_body.h"
#include "domain/instance_state.h"
#include "domain/sub_core.h"
#include "domain/users.h"
#include "http/response.h"
#include "http/server.h"
#include "jobs/jobs.h"

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

/* The job an operation queues: retry-provision deploys afresh. */
static const char *job_kind(const char *op)
{
    return strcmp(op, "retry-provision") == 0 ? "provision" : op;
}

/* Inside the open transaction: lock, check, move, record, queue. */
static int operate_locked(dm_db *db, const char *sub_id, const char *user_id, const char *actor, const char *op,
                          json_t **out, dm_err_t *err)
{
    dm_sub s;
    /* The subscription first, then the instance: the order every
     * subscription operation takes its locks in. */
    int rc = dm__sub_lock(db, sub_id, user_id, &s, err);
    if (rc != 0)
        return rc;
    if (s.instance_id[0] == '\0')
        return dm_err_set(err, DM_ECONFLICT, "the subscription has no instance");
    if (strcmp(s.status, "ACTIVE") != 0)
        return dm_err_set(err, DM_ECONFLICT, "the subscription is %s: %s is not allowed now", s.status, op);
    char status[16];
    char reason[48];
    snprintf(reason, sizeof reason, "%s requested", op);
    rc = dm__instance_transition(db, s.instance_id, op, actor, reason, status, err);
    if (rc == 0)
        rc = dm__sub_instance_job(db, &s, job_kind(op), reason, err);
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

/* ---- handlers ---------------------------------------------------------- */

/* A failure of a lookup or an operation, as the API answers it. */
static void answer_error(dm_request *r, int rc, const dm_err_t *err, const char *what)
{
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err->msg[0] ? err->msg : "not found", NULL);
    else if (rc == DM_ECONFLICT)
        dm__res_error(r, 409, "INVALID_STATE", err->msg, NULL);
    else
        dm__res_failure(r, err, what);
}

static void list(dm_request *r)
{
    long page, limit;
    if (!dm__query_paging(r, &page, &limit))
        return;
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { r->principal.id, lim, off };
    dm_err_t err = { 0 };
    PGresult *res = dm__db_exec(r->db, "inst_list",
                                "SELECT (SELECT count(*) FROM instances WHERE user_id = $1::uuid), "
                                "  coalesce((SELECT json_agg(x.j ORDER BY x.created_at DESC, x.id DESC) FROM ("
                                "    SELECT " INSTANCE_JSON " AS j, i.created_at, i.id FROM instances i "
                                "    WHERE i.user_id = $1::uuid ORDER BY i.created_at DESC, i.id DESC "
                                "    LIMIT $2::bigint OFFSET $3::bigint) x), '[]')::text",
                                3, p, &err);
    json_t *items = NULL;
    int rc = res == NULL ? dm__db_failed(&err) : row_json(res, 1, &items, &err);
    long total = rc == 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (rc != 0)
        dm__res_failure(r, &err, "list instances");
    else
        dm__res_list(r, items, page, limit, total);
}

static void detail(dm_request *r)
{
    const char *id = dm__req_param(r, "id");
    dm_err_t err = { 0 };
    json_t *j = NULL;
    int rc = dm__users_valid_id(id) ? 0 : dm_err_set(&err, DM_ENOTFOUND, "no such instance");
    if (rc == 0) {
        const char *p[] = { id, dm__principal_is_admin(&r->principal) ? NULL : r->principal.id };
        PGresult *res = dm__db_exec(r->db, "inst_get",
                                    "SELECT " INSTANCE_JSON "::text FROM instances i "
                                    "WHERE i.id = $1::uuid AND ($2::uuid IS NULL OR i.user_id = $2::uuid)",
                                    2, p, &err);
        rc = res == NULL ? dm__db_failed(&err) : row_json(res, 0, &j, &err);
        PQclear(res);
    }
    if (rc != 0)
        answer_error(r, rc, &err, "get instance");
    else
        dm__res_ok(r, 200, j);
}

static void events(dm_request *r)
{
    long page, limit;
    if (!dm__query_paging(r, &page, &limit))
        return;
    const char *id = dm__req_param(r, "id");
    char sub_id[37], lim[24], off[24];
    dm_err_t err = { 0 };
    int rc = instance_sub(r->db, id, dm__principal_is_admin(&r->principal) ? NULL : r->principal.id, sub_id, &err);
    if (rc != 0) {
        answer_error(r, rc, &err, "instance events");
        return;
    }
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { id, lim, off };
    PGresult *res = dm__db_exec(
        r->db, "inst_events",
        "SELECT (SELECT count(*) FROM instance_events WHERE instance_id = $1::uuid), "
        "  coalesce((SELECT json_agg(json_build_object('id', e.id, 'operation', e.operation, "
        "    'fromStatus', e.from_status, 'toStatus', e.to_status, 'reason', e.reason, 'actor', e.actor, "
        "    'createdAt', " DM_SQL_TS("e.created_at") ") ORDER BY e.id DESC) FROM ("
        "    SELECT * FROM instance_events WHERE instance_id = $1::uuid ORDER BY id DESC "
        "    LIMIT $2::bigint OFFSET $3::bigint) e), '[]')::text",
        3, p, &err);
    json_t *items = NULL;
    rc = res == NULL ? dm__db_failed(&err) : row_json(res, 1, &items, &err);
    long total = rc == 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (rc != 0)
        dm__res_failure(r, &err, "instance events");
    else
        dm__res_list(r, items, page, limit, total);
}

/* One operation from the route's last path segment. */
static void operate(dm_request *r, bool by_instance, const char *op)
{
    dm_instance_target t = { NULL, NULL };
    if (by_instance)
        t.instance_id = dm__req_param(r, "id");
    else
        t.subscription_id = dm__req_param(r, "id");
    json_t *out = NULL;
    dm_err_t err = { 0 };
    int rc = dm__instance_operate(r->db, &t, dm__principal_is_admin(&r->principal) ? NULL : r->principal.id, r->principal.id, op, &out,
                                  &err);
    if (rc != 0) {
        answer_error(r, rc, &err, op);
        return;
    }
    if (r->server->jobs != NULL) /* the job is queued: run it now */
        dm__jobs_runner_wake(r->server->jobs);
    dm__res_ok(r, 202, out);
}

static void inst_restart(dm_request *r) { operate(r, true, "restart"); }
static void inst_stop(dm_request *r) { operate(r, true, "stop"); }
static void inst_start(dm_request *r) { operate(r, true, "start"); }
static void sub_restart(dm_request *r) { operate(r, false, "restart"); }
static void sub_stop(dm_request *r) { operate(r, false, "stop"); }
static void sub_start(dm_request *r) { operate(r, false, "start"); }
static void sub_retry(dm_request *r) { operate(r, false, "retry-provision"); }

int dm__instances_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    static const struct {
        const char *method, *path;
        dm_handler_fn fn;
    } routes[] = {
        { "GET", "/api/instances", list },
        { "GET", "/api/instances/:id", detail },
        { "GET", "/api/instances/:id/events", events },
        { "PUT", "/api/instances/:id/restart", inst_restart },
        { "PUT", "/api/instances/:id/stop", inst_stop },
        { "PUT", "/api/instances/:id/start", inst_start },
        { "POST", "/api/subscriptions/:id/restart", sub_restart },
        { "POST", "/api/subscriptions/:id/stop", sub_stop },
        { "POST", "/api/subscriptions/:id/start", sub_start },
        { "POST", "/api/subscriptions/:id/retry-provision", sub_retry },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dm__router_add(rt, routes[i].method, routes[i].path, routes[i].fn, user);
        if (rc != 0)
            return rc;
    }
    return 0;
}

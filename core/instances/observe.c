/*
 * observe.c — the read-only views of an instance (observe.h): which
 * instance a caller may look at (the owner or an administrator; another
 * user's is "not found" like an unknown id), its metrics against the
 * plan, its recent log, its health history and the runtime's inventory.
 * Runtime calls go through plugin/call.h.
 */
#include "instances/observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "db/sql_time.h"
#include "instances/instance_runtime.h"
#include "plugin/call.h"
#include "util/clock.h"

/* The columns every lookup returns: the instance, its status, the plan's
 * limits and the urls shown to the user (null unless a string). */
#define OBSERVED_COLUMNS                                                                                      \
    "SELECT i.id, i.status, p.cpu_millicores, p.memory_mb, json_build_object("                              \
    "  'public', CASE WHEN jsonb_typeof(i.urls->'public') = 'string' THEN i.urls->>'public' END, "         \
    "  'admin', CASE WHEN jsonb_typeof(i.urls->'admin') = 'string' THEN i.urls->>'admin' END)::text, "     \
    "  COALESCE(i.runtime, '') "

/* A left join, so that a subscription without an instance is told apart. */
#define SQL_BY_SUB                                                                                            \
    OBSERVED_COLUMNS "FROM subscriptions s JOIN plans p ON p.id = s.plan_id "                                \
                     "LEFT JOIN instances i ON i.subscription_id = s.id "                                    \
                     "WHERE s.id = $1::uuid AND ($2::uuid IS NULL OR s.user_id = $2::uuid)"

#define SQL_BY_INSTANCE                                                                                       \
    OBSERVED_COLUMNS "FROM instances i JOIN subscriptions s ON s.id = i.subscription_id "                    \
                     "JOIN plans p ON p.id = s.plan_id "                                                      \
                     "WHERE i.id = $1::uuid AND ($2::uuid IS NULL OR i.user_id = $2::uuid)"

int dm__observe_find(dm_db *db, const char *id, bool by_sub, const char *user_id, dm_observed *o, dm_err_t *err)
{
    const char *what = by_sub ? "no such subscription" : "no such instance";
    memset(o, 0, sizeof *o);
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "%s", what);
    const char *p[] = { id, user_id };
    PGresult *res = dm__db_exec(db, by_sub ? "obs_by_sub" : "obs_by_inst", by_sub ? SQL_BY_SUB : SQL_BY_INSTANCE, 2,
                                p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(res) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "%s", what);
    else if (PQgetisnull(res, 0, 0))
        rc = dm_err_set(err, DM_ENOTFOUND, "the subscription has no instance");
    else if ((o->urls = json_loads(PQgetvalue(res, 0, 4), 0, NULL)) == NULL)
        rc = dm_err_set(err, DM_EIO, "observe: unreadable urls");
    if (rc == 0) {
        snprintf(o->id, sizeof o->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(o->status, sizeof o->status, "%s", PQgetvalue(res, 0, 1));
        o->cpu_limit = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        o->mem_limit = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        snprintf(o->runtime, sizeof o->runtime, "%s", PQgetvalue(res, 0, 5));
    }
    PQclear(res);
    return rc;
}

void dm__observed_clear(dm_observed *o)
{
    json_decref(o->urls);
    o->urls = NULL;
}

bool dm__observe_has_workload(const char *status)
{
    return strcmp(status, "PENDING") != 0 && strcmp(status, "TERMINATED") != 0;
}

int dm__observe_runtime(const dm_plugin_set *set, const dm_observed *o, const dm_plugin **rt, dm_err_t *err)
{
    /* No service or default: a view never chooses, it only follows what
     * the instance records (or, for a row recording none, the first). */
    return dm__instance_runtime(set, o->runtime, NULL, NULL, rt, err);
}

/* ---- metrics --------------------------------------------------------------- */

/* used × 100 / limit, rounded to nearest; 0 when there is no limit. */
static long long percentage(long long used, long long limit)
{
    if (limit <= 0 || used <= 0)
        return 0;
    return (used * 100 + limit / 2) / limit;
}

static json_t *resource(long long used, long long limit)
{
    return json_pack("{s:I, s:I, s:I}", "used", (json_int_t)used, "limit", (json_int_t)limit, "percentage",
                     (json_int_t)percentage(used, limit));
}

double dm__observe_mib(uint64_t bytes)
{
    /* Whole hundredths, rounded half up, in integers: 1.37 is then the
     * double nearest 1.37, which the response writes as "1.37". */
    uint64_t hundredths = bytes / 1048576u * 100u + ((bytes % 1048576u) * 100u + 524288u) / 1048576u;
    return (double)hundredths / 100.0;
}

/* memory: used and limit in MiB with two decimals (used from bytes, limit
 * from the plan's whole MB); the percentage an integer like cpu's. */
static json_t *memory_resource(uint64_t used_bytes, long long limit_mib)
{
    double used = dm__observe_mib(used_bytes);
    long long pct = 0;
    if (limit_mib > 0 && used_bytes > 0)
        pct = (long long)(((double)used_bytes / 1048576.0) * 100.0 / (double)limit_mib + 0.5);
    return json_pack("{s:f, s:f, s:I}", "used", used, "limit", (double)limit_mib, "percentage", (json_int_t)pct);
}

int dm__observe_metrics(const dm_plugin_set *set, dm_observed *o, json_t **out, dm_err_t *err)
{
    *out = NULL;
    dm_runtime_usage_t u = { 0 };
    /* Only a RUNNING workload uses anything; the others are not asked. */
    if (strcmp(o->status, "RUNNING") == 0) {
        const dm_plugin *rt = NULL;
        int rc = dm__observe_runtime(set, o, &rt, err);
        if (rc != 0)
            return rc;
        rc = dm__runtime_usage(rt, o->id, &u, err);
        /* A workload that is gone or not running (DM_ENOTFOUND,
         * DM_ECONFLICT) uses nothing: the reconciler will notice, the
         * answer stays truthful. */
        if (rc == DM_ENOTFOUND || rc == DM_ECONFLICT)
            memset(&u, 0, sizeof u);
        else if (rc != 0)
            return rc;
    }
    long long cpu = u.cpu_millicores > 0 ? (long long)u.cpu_millicores : 0;
    uint64_t mem = u.memory_bytes > 0 ? (uint64_t)u.memory_bytes : 0;
    char ts[40];
    dm__clock_rfc3339(dm__clock_wall_ms(), ts, sizeof ts);
    json_t *urls = o->urls;
    o->urls = NULL;
    *out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "instanceId", o->id, "status", o->status, "cpu",
                     resource(cpu, o->cpu_limit), "memory", memory_resource(mem, o->mem_limit), "urls", urls, "timestamp", ts);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* ---- logs, health, inventory ------------------------------------------------ */

int dm__observe_logs(const dm_plugin_set *set, const dm_observed *o, uint32_t tail, size_t line_max, json_t **out,
                     dm_err_t *err)
{
    *out = NULL;
    json_t *lines = NULL;
    int rc = 0;
    const dm_plugin *rt = NULL;
    if (dm__observe_has_workload(o->status) && (rc = dm__observe_runtime(set, o, &rt, err)) != 0)
        return rc;
    if (rt != NULL)
        rc = dm__instance_logs_read(rt, o->id, tail, line_max, DM_OBSERVE_LOG_BYTES, &lines, err);
    if (rc == DM_ENOTFOUND || (rc == 0 && lines == NULL)) { /* nothing to read */
        rc = 0;
        lines = json_array();
    }
    if (rc != 0)
        return rc;
    *out = json_pack("{s:s, s:o}", "instanceId", o->id, "lines", lines);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

int dm__observe_health(dm_db *db, const char *instance_id, long page, long limit, json_t **items, long *total,
                       dm_err_t *err)
{
    *items = NULL;
    *total = 0;
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { instance_id, lim, off };
    PGresult *res = dm__db_exec(
        db, "obs_health",
        "SELECT (SELECT count(*) FROM instance_health WHERE instance_id = $1::uuid), "
        "  coalesce((SELECT json_agg(json_build_object('status', h.status, 'message', h.message, "
        "    'checkedAt', " DM_SQL_TS("h.checked_at") ") ORDER BY h.id DESC) FROM ("
        "    SELECT * FROM instance_health WHERE instance_id = $1::uuid ORDER BY id DESC "
        "    LIMIT $2::bigint OFFSET $3::bigint) h), '[]')::text",
        3, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if ((*items = json_loads(PQgetvalue(res, 0, 1), 0, NULL)) == NULL)
        rc = dm_err_set(err, DM_EIO, "instance health: unreadable row JSON");
    else
        *total = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int dm__observe_inventory(const dm_plugin_set *set, const char *runtime, const char *default_rt, const char *what,
                          const char *ns, json_t **out, char *rt_name, size_t rt_len, dm_err_t *err)
{
    const dm_plugin *rt = NULL;
    *out = NULL;
    if (rt_len > 0)
        rt_name[0] = '\0';
    /* The one owner of the choice: a named runtime that is not loaded is
     * an error, never answered by another runtime's inventory. */
    if (dm__instance_runtime(set, runtime, NULL, default_rt, &rt, err) != 0)
        return DM_ENOTFOUND;
    snprintf(rt_name, rt_len, "%s", rt->name != NULL ? rt->name : "runtime");
    int rc = dm__runtime_inventory(rt, what, ns, out, err);
    if (rc == DM_EUNSUPPORTED || rc == DM_ENOTFOUND || rc == DM_EINVAL)
        return dm_err_set(err, DM_ENOTFOUND, "%.64s has no inventory of \"%.60s\"", rt_name, what);
    if (rc == 0 && *out == NULL && (*out = json_array()) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    return rc;
}

int dm__observe_inventory_page(const json_t *all, int managed, long page, long limit, json_t **items, long *total,
                               dm_err_t *err)
{
    *total = 0;
    *items = json_array();
    if (*items == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    /* The plugin answers the whole list; paging is the host's so that
     * every runtime pages alike (the documented page/limit envelope). */
    long first = (page - 1) * limit;
    size_t i;
    const json_t *it;
    json_array_foreach(all, i, it) {
        if (managed >= 0 && json_is_true(json_object_get(it, "managed")) != (managed == 1))
            continue;
        if (*total >= first && *total - first < limit && json_array_append(*items, (json_t *)it) != 0) {
            json_decref(*items);
            *items = NULL;
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
        (*total)++;
    }
    return 0;
}

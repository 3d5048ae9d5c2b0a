/*
 * ops_extra.c — gathers figures owned elsewhere for /readyz and /metrics
 * (pools, jobs, plugin calls). Every source here is a snapshot under its
 * owner's lock; nothing blocks.
 */
#include "ops/ops_extra.h"

#include "app/app.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "plugin/call.h"
#include "plugin/registry.h"

/* Plugins loaded and enabled plugins refused at start. */
static void plugin_counts(dm_server *s, size_t *loaded, size_t *refused)
{
    /* The set is read-only once the server runs, so any thread may read it. */
    const dm_plugin_set *set = s->app != NULL ? s->app->plugins : NULL;
    *loaded = set != NULL ? dm__plugins_count(set) : 0;
    *refused = set != NULL ? json_array_size(dm__plugins_refusals(set)) : 0;
}

json_t *dm__ops_ready_data(dm_server *s)
{
    size_t loaded = 0, refused = 0;
    plugin_counts(s, &loaded, &refused);
    json_t *list = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(list != NULL && refused > 0 ? dm__plugins_refusals(s->app->plugins) : NULL, i, r) {
        json_array_append_new(list, json_pack("{s:O?,s:O?}", "name", json_object_get(r, "name"), "reason",
                                              json_object_get(r, "reason")));
    }
    return json_pack("{s:s,s:s,s:I,s:I,s:o}", "status", refused > 0 ? "degraded" : "ready", "database", "ok",
                     "plugins", (json_int_t)loaded, "pluginsRefused", (json_int_t)refused, "refused", list);
}

/* Jobs by status, from the runner's last snapshot (refreshed by its
 * maintenance thread), so a scrape never waits on the database. */
static int render_jobs(dm_server *s, dm_buf *out)
{
    if (s->app == NULL || s->app->jobs == NULL)
        return 0;
    dm_job_counts jc;
    dm__jobs_counts(s->app->jobs, &jc);
    if (!jc.valid)
        return 0;
    return dm__buf_printf(out,
                          "# HELP dermaga_jobs Durable jobs by status (snapshot).\n"
                          "# TYPE dermaga_jobs gauge\n"
                          "dermaga_jobs{status=\"queued\"} %lld\n"
                          "dermaga_jobs{status=\"running\"} %lld\n"
                          "dermaga_jobs{status=\"succeeded\"} %lld\n"
                          "dermaga_jobs{status=\"failed\"} %lld\n",
                          (long long)jc.queued, (long long)jc.running, (long long)jc.succeeded,
                          (long long)jc.failed);
}

/* Busy threads and waiting requests of a side pool (hashing, remote
 * calls) as dermaga_<name>_pool_busy and _queue_depth; nothing when the
 * server has no such pool. */
static int render_side_pool(dm_pool *p, const char *name, const char *busy_help, const char *queue_help,
                            dm_buf *out)
{
    if (p == NULL)
        return 0;
    dm_pool_stats st;
    dm__pool_stats(p, &st);
    return dm__buf_printf(out,
                          "# HELP dermaga_%s_pool_busy %s\n"
                          "# TYPE dermaga_%s_pool_busy gauge\n"
                          "dermaga_%s_pool_busy %d\n"
                          "# HELP dermaga_%s_pool_queue_depth %s\n"
                          "# TYPE dermaga_%s_pool_queue_depth gauge\n"
                          "dermaga_%s_pool_queue_depth %d\n",
                          name, busy_help, name, name, st.busy, name, queue_help, name, name, st.queued);
}

int dm__ops_render_runtime_metrics(dm_server *s, dm_buf *out)
{
    dm_pool_stats ps;
    dm__pool_stats(s->pool, &ps);
    int rc = render_jobs(s, out);
    if (rc == 0)
        rc = render_side_pool(s->hash_pool, "hash", "Password-hashing threads at work.",
                              "Password requests waiting for a thread.", out);
    if (rc == 0)
        rc = render_side_pool(s->remote_pool, "remote", "Threads serving routes that wait on a gateway or the runtime.",
                              "Requests waiting for a remote-call thread.", out);
    if (rc == 0)
        rc = dm__plugin_calls_render(out);
    if (rc != 0)
        return rc;
    return dm__buf_printf(out,
                          "# HELP dermaga_pool_workers Worker threads.\n"
                          "# TYPE dermaga_pool_workers gauge\n"
                          "dermaga_pool_workers %d\n"
                          "# HELP dermaga_pool_queue_depth Requests waiting for a worker.\n"
                          "# TYPE dermaga_pool_queue_depth gauge\n"
                          "dermaga_pool_queue_depth %d\n"
                          "# HELP dermaga_db_connections Database connections of the worker pool by state.\n"
                          "# TYPE dermaga_db_connections gauge\n"
                          "dermaga_db_connections{state=\"busy\"} %d\n"
                          "dermaga_db_connections{state=\"idle\"} %d\n"
                          "dermaga_db_connections{state=\"closed\"} %d\n",
                          ps.workers, ps.queued, ps.busy,
                          ps.db_open - ps.busy > 0 ? ps.db_open - ps.busy : 0,
                          ps.workers - ps.db_open);
}

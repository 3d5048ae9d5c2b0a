/*
 * ops_extra.c — gathers figures owned elsewhere for /readyz and /metrics.
 * Every source here is a snapshot under its owner's lock; nothing blocks.
 */
#include "ops/ops_extra.h"

#include "plugin/registry.h"

size_t dm__ops_plugin_count(dm_server *s)
{
    return s->plugins != NULL ? dm__plugins_count(s->plugins) : 0;
}

int dm__ops_render_runtime_metrics(dm_server *s, dm_buf *out)
{
    dm_pool_stats ps;
    dm__pool_stats(s->pool, &ps);
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

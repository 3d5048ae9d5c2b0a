/*
 * ops_extra.h — figures /readyz and /metrics read from other owners (the
 * worker pool, the plugin registry, the job runner).
 */
#ifndef DM_OPS_EXTRA_H
#define DM_OPS_EXTRA_H

#include <stddef.h>

#include "http/server.h"
#include "util/buf.h"

size_t dm__ops_plugin_count(dm_server *s);
/* Pool, database and job figures in Prometheus text. 0 or DM_EBUSY/ENOMEM. */
int dm__ops_render_runtime_metrics(dm_server *s, dm_buf *out);

#endif

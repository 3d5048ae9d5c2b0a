/*
 * ops_extra.h — figures /readyz and /metrics read from other owners (the
 * worker pools, the plugin registry and call layer, the job runner).
 */
#ifndef DM_OPS_EXTRA_H
#define DM_OPS_EXTRA_H

#include <stddef.h>

#include <jansson.h>

#include "util/buf.h"

typedef struct dm_server dm_server; /* http/server.h */

/* /readyz's data once the database answered: {"status": "ready" or, while
 * an optional plugin is refused, "degraded"; "database": "ok"; "plugins":
 * loaded; "pluginsRefused": refused; "refused": [{"name", "reason"}] of
 * each refused plugin, [] when none}. A refused plugin that is not
 * optional stopped the start, so every one listed here is in
 * plugins.optional. New or NULL. */
json_t *dm__ops_ready_data(dm_server *s);
/* Pool, database, job and plugin-call figures in Prometheus text. 0 or
 * DM_EBUSY/ENOMEM. */
int dm__ops_render_runtime_metrics(dm_server *s, dm_buf *out);

#endif

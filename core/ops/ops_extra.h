/*
 * ops_extra.h — figures /readyz and /metrics read from other owners (the
 * worker pools, the plugin registry and call layer, the job runner).
 */
#ifndef DM_OPS_EXTRA_H
#define DM_OPS_EXTRA_H

#include <stddef.h>

#include "util/buf.h"

typedef struct dm_server dm_server; /* http/server.h */

/* Plugins loaded and enabled plugins refused at start. */
void dm__ops_plugin_counts(dm_server *s, size_t *loaded, size_t *refused);
/* Pool, database, job and plugin-call figures in Prometheus text. 0 or
 * DM_EBUSY/ENOMEM. */
int dm__ops_render_runtime_metrics(dm_server *s, dm_buf *out);

#endif

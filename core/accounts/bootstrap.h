/*
 * bootstrap.h — the bootstrap administrator: created, or updated to an
 * active ADMINISTRATOR with the configured password, at every start when
 * auth.adminEmail is set. Runs on the main thread before the loop starts.
 */
#ifndef DM_BOOTSTRAP_H
#define DM_BOOTSTRAP_H

#include <dermaga/error.h>

#include "app/config.h"

typedef struct dm_plugin_set dm_plugin_set;

/* 0 (also when no adminEmail is configured), or DM_EINVAL (no password,
 * bad email, no auth-local plugin) / a database code, with err set. */
int dm__bootstrap_admin(const dm_config *cfg, dm_plugin_set *plugins, dm_err_t *err);

#endif

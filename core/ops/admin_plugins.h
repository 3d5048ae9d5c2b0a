/*
 * admin_plugins.h — GET /api/admin/plugins (administrators only): every
 * enabled plugin with what became of it. Loaded ones in load order
 * ({"name","kind","version","abi","file","description","state":"loaded"},
 * payment plugins with their "methods"), then refused ones
 * ({"name" (the configured name),"file","state":"refused","reason", and
 * kind, version and abi when the file could be read}).
 */
#ifndef DM_OPS_ADMIN_PLUGINS_H
#define DM_OPS_ADMIN_PLUGINS_H

#include <jansson.h>

#include "plugin/registry.h"

typedef struct dm_router dm_router; /* http/router.h */

/* The listing for set (NULL: nothing loaded). New; NULL when out of memory. */
json_t *dm__admin_plugins_json(const dm_plugin_set *set);

/* Register GET /api/admin/plugins. 0 or a router error. */
int dm__admin_plugins_routes_add(dm_router *rt);

#endif

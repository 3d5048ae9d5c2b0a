/*
 * instance_runtime.h — the one owner of "which runtime plugin runs this
 * instance". Every path that calls a runtime about an instance (the
 * instance jobs, the reconciler's per-instance checks, the health checks,
 * metrics, recent and live logs) asks dm__instance_runtime; nothing else
 * picks a runtime plugin for an instance.
 *
 * The rule: an instance records the runtime it runs on (instances.runtime)
 * before its first runtime call, and that name is final. While it records
 * none (a provision has not started yet), the choice is the service's
 * catalog runtime (services.runtime), else instances.defaultRuntime, else
 * the first loaded runtime plugin. A named plugin that is not loaded is an
 * error ("runtime X is not enabled"): another runtime is never used in its
 * place, since the instance's workload is not there.
 */
#ifndef DM_INSTANCE_RUNTIME_H
#define DM_INSTANCE_RUNTIME_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "plugin/registry.h"

/*
 * The runtime plugin for an instance: recorded (the instance's runtime
 * column) when not NULL or empty; else service_rt (its service's catalog
 * runtime), else default_rt (instances.defaultRuntime), else the first
 * loaded runtime plugin. Every argument but set and out may be NULL or "".
 * Paths that act on an instance that may predate the recording (rows
 * written before it existed ran on the first runtime plugin) pass NULL
 * for service_rt and default_rt.
 * 0 and *out (borrowed from set); DM_EUNSUPPORTED with "runtime X is not
 * enabled" or "no runtime plugin enabled" (*out NULL).
 */
int dm__instance_runtime(const dm_plugin_set *set, const char *recorded, const char *service_rt,
                         const char *default_rt, const dm_plugin **out, dm_err_t *err);

/* Whether a catalog or configuration value names a runtime plugin in the
 * form plugin names take ([a-z0-9][a-z0-9_-]{0,63}, as the column checks). */
bool dm__instance_runtime_name_ok(const char *name);

#endif

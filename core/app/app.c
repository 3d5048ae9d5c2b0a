/*
 * app.c — the little the application context does itself (app.h): waking
 * the job runner, and judging the loaded plugins against the
 * configuration before a start goes on (shared by `serve` and `check`).
 */
#include "app/app.h"

#include <stdio.h>

#include "jobs/jobs.h"
#include "plugin/registry.h"

void dm__app_wake_jobs(const dm_app *app)
{
    if (app != NULL && app->jobs != NULL)
        dm__jobs_runner_wake(app->jobs);
}

/* Append {"name", "reason"}; false when out of memory. */
static bool add_blocker(json_t *arr, const char *name, const char *reason)
{
    json_t *o = json_pack("{s:s?,s:s?}", "name", name, "reason", reason);
    return o != NULL && json_array_append_new(arr, o) == 0;
}

json_t *dm__app_plugin_blockers(const dm_config *cfg, const dm_plugin_set *set)
{
    json_t *out = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(out != NULL ? dm__plugins_refusals(set) : NULL, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (dm__config_plugin_optional(cfg, name))
            continue;
        char why[512];
        snprintf(why, sizeof why, "plugin %s refused: %s (fix it, disable it in plugins.enabled, or list it in "
                                  "plugins.optional to start without it)",
                 name != NULL ? name : "?", json_string_value(json_object_get(r, "reason")) ?: "(no reason)");
        if (!add_blocker(out, name, why))
            goto oom;
    }
    /* A default that names no enabled runtime would make every new
     * instance fail its provision: refuse to start instead. */
    if (out != NULL && cfg->default_runtime != NULL && cfg->default_runtime[0] != '\0'
        && dm__plugins_find(set, DM_PLUGIN_RUNTIME, cfg->default_runtime) == NULL) {
        char why[256];
        snprintf(why, sizeof why, "instances.defaultRuntime: %s is not an enabled runtime plugin (enable it in "
                                  "plugins.enabled, or leave the key empty for the first enabled runtime plugin)",
                 cfg->default_runtime);
        if (!add_blocker(out, cfg->default_runtime, why))
            goto oom;
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}

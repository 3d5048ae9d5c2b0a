/*
 * instance_runtime.c — which runtime plugin runs an instance (the rule is
 * in instance_runtime.h). Pure: it reads the loaded plugin set and the
 * names it is given; the callers read and record instances.runtime.
 */
#include "instances/instance_runtime.h"

#include <string.h>

static bool named(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int dm__instance_runtime(const dm_plugin_set *set, const char *recorded, const char *service_rt,
                         const char *default_rt, const dm_plugin **out, dm_err_t *err)
{
    /* The first name given wins; the later ones are only consulted when
     * the earlier ones are absent, never when they name a missing plugin. */
    const char *name = named(recorded) ? recorded : named(service_rt) ? service_rt
                     : named(default_rt) ? default_rt : NULL;
    *out = set != NULL ? dm__plugins_find(set, DM_PLUGIN_RUNTIME, name) : NULL;
    if (*out != NULL)
        return 0;
    if (name != NULL)
        return dm_err_set(err, DM_EUNSUPPORTED, "runtime %.64s is not enabled", name);
    return dm_err_set(err, DM_EUNSUPPORTED, "no runtime plugin enabled");
}

bool dm__instance_runtime_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char c = name[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return false;
    }
    return true;
}

/*
 * instance_service.c — which service plugin renders a service (the rule
 * is in instance_service.h). Pure: it reads the loaded plugin set and the
 * names it is given; the callers read the catalog.
 */
#include "instances/instance_service.h"

#include <stdio.h>
#include <string.h>

static const char *type_of(const char *service_type)
{
    return service_type != NULL && service_type[0] != '\0' ? service_type : DM_SERVICE_TYPE_DEFAULT;
}

int dm__instance_service(const dm_plugin_set *set, const char *service_type, const dm_plugin **out,
                         dm_err_t *err)
{
    const char *name = type_of(service_type);
    *out = set != NULL ? dm__plugins_find(set, DM_PLUGIN_SERVICE, name) : NULL;
    if (*out != NULL)
        return 0;
    return dm_err_set(err, DM_EUNSUPPORTED, "service plugin %.64s is not enabled", name);
}

int dm__instance_service_check(const dm_plugin_set *set, const char *service_type, const char *template_,
                               const char **field, char *msg, size_t msg_len)
{
    const dm_plugin *p = NULL;
    dm_err_t err = { 0, "" };
    if (dm__instance_service(set, service_type, &p, &err) != 0) {
        *field = "serviceType";
        snprintf(msg, msg_len, "names no enabled service plugin: %s", err.msg);
        return DM_EINVAL;
    }
    if (strcmp(p->name, DM_SERVICE_TYPE_DEFAULT) == 0 && (template_ == NULL || template_[0] == '\0')) {
        *field = "template";
        snprintf(msg, msg_len, "is required for a %s service", DM_SERVICE_TYPE_DEFAULT);
        return DM_EINVAL;
    }
    return 0;
}

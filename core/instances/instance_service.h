/*
 * instance_service.h — the one owner of "which service plugin renders this
 * service". Every path that asks a service plugin about a service (the
 * instance jobs' provision and update, and the catalog checks of
 * `dermaga seed` and the admin routes) goes through here; nothing else
 * picks a service plugin.
 *
 * The rule: a service's catalog serviceType (services.service_type) names
 * the service plugin that renders it; "" or NULL means the default,
 * "service-template". A name that is not a loaded service plugin is an
 * error ("service plugin X is not enabled"): another plugin is never used
 * in its place. Only service-template services need a template (which of
 * its templates); the other plugins are given the service's slug as
 * dm_service_request_t.service_slug (the jobs select
 * COALESCE(template, slug)).
 */
#ifndef DM_INSTANCE_SERVICE_H
#define DM_INSTANCE_SERVICE_H

#include <stddef.h>

#include <dermaga/error.h>

#include "plugin/registry.h"

#define DM_SERVICE_TYPE_DEFAULT "service-template"

/* The service plugin for service_type (NULL or "" = the default).
 * 0 and *out (borrowed from set); DM_EUNSUPPORTED with
 * "service plugin X is not enabled" (*out NULL). */
int dm__instance_service(const dm_plugin_set *set, const char *service_type, const dm_plugin **out,
                         dm_err_t *err);

/*
 * Check a catalog service before it is written: service_type (NULL or ""
 * = the default) must name a loaded service plugin, and template must be
 * given (not NULL nor "") when that plugin is service-template. 0, or
 * DM_EINVAL with the field ("serviceType" or "template", static) in
 * *field and the reason in msg.
 */
int dm__instance_service_check(const dm_plugin_set *set, const char *service_type, const char *template_,
                               const char **field, char *msg, size_t msg_len);

#endif

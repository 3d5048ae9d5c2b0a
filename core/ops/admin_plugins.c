/*
 * admin_plugins.c — GET /api/admin/plugins (admin_plugins.h): what the
 * registry loaded and refused, with each payment plugin's methods asked of
 * it now (a CPU-only op, run on the request's thread).
 */
#include "ops/admin_plugins.h"

#include "app/app.h"
#include "http/response.h"
#include "http/router.h"
#include "plugin/call.h"
#include "util/log.h"

/* A payment plugin's methods, or an empty array (logged) when it fails. */
static json_t *methods_of(const dm_plugin *p)
{
    json_t *list = NULL;
    dm_err_t err = { 0, "" };
    if (dm__payment_methods(p, &list, &err) != 0 || !json_is_array(list)) {
        DM_LOG_W("%s: methods: %s", p->name, err.msg[0] != '\0' ? err.msg : "not an array");
        json_decref(list);
        return json_array();
    }
    return list;
}

static json_t *refused_entry(const json_t *r)
{
    json_t *e = json_pack("{s:O?, s:O?, s:s, s:O?}", "name", json_object_get(r, "name"), "file",
                          json_object_get(r, "file"), "state", "refused", "reason",
                          json_object_get(r, "reason"));
    const char *const extra[] = { "kind", "version", "abi", "declaredName" };
    for (size_t i = 0; e != NULL && i < sizeof extra / sizeof extra[0]; i++) {
        json_t *v = json_object_get(r, extra[i]);
        if (v != NULL)
            json_object_set(e, extra[i], v);
    }
    return e;
}

json_t *dm__admin_plugins_json(const dm_plugin_set *set)
{
    json_t *out = dm__plugins_list_json(set);
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) {
        const dm_plugin *p = dm__plugins_at(set, i);
        json_object_set_new(e, "state", json_string("loaded"));
        if (p != NULL && p->kind == DM_PLUGIN_PAYMENT)
            json_object_set_new(e, "methods", methods_of(p));
    }
    const json_t *r;
    json_array_foreach(dm__plugins_refusals(set), i, r) {
        if (out != NULL && json_array_append_new(out, refused_entry(r)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static void list_plugins(dm_request *r)
{
    json_t *out = dm__admin_plugins_json(r->app != NULL ? r->app->plugins : NULL);
    if (out == NULL) {
        dm__res_error(r, 500, "INTERNAL", "cannot list plugins", NULL);
        return;
    }
    dm__res_ok(r, 200, out);
}

int dm__admin_plugins_routes_add(dm_router *rt)
{
    return dm__router_add(rt, "GET", "/api/admin/plugins", list_plugins, DM_ROUTE_POOL | DM_ROUTE_ADMIN);
}

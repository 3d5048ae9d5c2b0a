/*
 * check_service.c — the service contract: catalog() lists services (slug
 * and name each); every service of the sample catalog that this plugin
 * renders (its serviceType names the plugin) renders for every plan, with
 * an image and resources inside the plan's limits; rendering again with
 * what the first render stored keeps the stored secrets; presentation, when
 * offered, answers an object. Services the sample catalog does not mention
 * are rendered for a small default plan.
 */
#include <stdlib.h>
#include <string.h>

#include "app/install_paths.h"
#include "plugin/call.h"
#include "plugincheck/check.h"

#define SUB_ID "00000000-0000-4000-8000-00000000c0de"
#define INST_ID "00000000-0000-4000-8000-00000000c0df"

/* The plan as a service plugin sees it, from a catalog plan. New. */
static json_t *plan_of(const json_t *pl)
{
    const json_t *f = json_object_get(pl, "features");
    return json_pack("{s:s, s:I, s:I, s:I, s:O}", "name",
                     json_string_value(json_object_get(pl, "name")) ?: "plan", "cpuMillicores",
                     json_integer_value(json_object_get(pl, "cpuMillicores")), "memoryMb",
                     json_integer_value(json_object_get(pl, "memoryMb")), "storageGb",
                     json_integer_value(json_object_get(pl, "storageGb")), "features",
                     json_is_array(f) ? f : json_array());
}

/* One resource of the spec within the plan's limit (absent is fine). */
static bool within(const json_t *spec, const json_t *plan, const char *key, char *why, size_t cap)
{
    const json_t *v = json_object_get(json_object_get(spec, "resources"), key);
    json_int_t lim = json_integer_value(json_object_get(plan, key));
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (lim > 0 && json_integer_value(v) > lim)) {
        snprintf(why, cap, "resources.%s %lld exceeds the plan's %lld", key,
                 (long long)json_integer_value(v), (long long)lim);
        return false;
    }
    return true;
}

/* Render slug for plan; checks the spec and the stored round trip. */
static void render(dm_check *c, const dm_plugin *p, const char *slug, const char *plan_name,
                   const json_t *plan)
{
    char what[200];
    snprintf(what, sizeof what, "service %s, plan %s", slug, plan_name);
    dm_service_request_t req = { slug, SUB_ID, INST_ID, plan, NULL, "plugin-check.example.com" };
    json_t *spec = NULL;
    dm_err_t err = { 0, "" };
    if (dm__service_workload(p, &req, &spec, &err) != 0 || !json_is_object(spec)) {
        dm__check_fail(c, what, "workload: %s", err.msg[0] ? err.msg : "not an object");
        json_decref(spec);
        return;
    }
    char why[300] = "";
    bool ok = json_is_string(json_object_get(spec, "image"));
    if (!ok)
        snprintf(why, sizeof why, "no image");
    ok = ok && within(spec, plan, "cpuMillicores", why, sizeof why) &&
         within(spec, plan, "memoryMb", why, sizeof why) &&
         within(spec, plan, "storageGb", why, sizeof why);
    dm__check_expect(c, ok, what, "%s%s", ok ? "image " : why,
                     ok ? json_string_value(json_object_get(spec, "image")) : "");
    /* What it generated must survive a second render (the same secrets). */
    const json_t *stored = json_object_get(spec, "stored");
    if (ok && json_is_object(stored) && json_object_size(stored) > 0) {
        req.stored = stored;
        json_t *again = NULL;
        int rc = dm__service_workload(p, &req, &again, &err);
        const json_t *kept = json_object_get(again, "stored");
        snprintf(what, sizeof what, "service %s, plan %s, rendered again", slug, plan_name);
        dm__check_expect(c, rc == 0 && json_equal(kept, stored), what, "%s",
                         rc != 0 ? err.msg : json_equal(kept, stored) ? "stored values kept"
                                                                     : "stored values changed");
        json_decref(again);
    }
    json_t *pres = NULL;
    int rc = dm__service_presentation(p, &req, &pres, &err);
    snprintf(what, sizeof what, "service %s, plan %s, presentation", slug, plan_name);
    if (rc != DM_EUNSUPPORTED) /* optional: only what is offered is judged */
        dm__check_expect(c, rc == 0 && json_is_object(pres), what, "%s",
                         rc != 0 ? err.msg : json_is_object(pres) ? "an object" : "not an object");
    json_decref(pres);
    json_decref(spec);
}

/* Render every service of the sample catalog naming p, for every plan;
 * mark the rendered slugs in done. */
static void sample_catalog(dm_check *c, const dm_plugin *p, const json_t *cat, json_t *done)
{
    size_t i, j, k;
    const json_t *category, *svc, *pl;
    json_array_foreach(json_object_get(cat, "categories"), i, category) {
        json_array_foreach(json_object_get(category, "services"), j, svc) {
            const char *type = json_string_value(json_object_get(svc, "serviceType"));
            if (strcmp(type != NULL ? type : "service-template", p->name) != 0)
                continue;
            const char *slug = json_string_value(json_object_get(svc, "template"));
            if (slug == NULL)
                slug = json_string_value(json_object_get(svc, "slug"));
            if (slug == NULL)
                continue;
            json_object_set_new(done, slug, json_true());
            json_array_foreach(json_object_get(svc, "plans"), k, pl) {
                json_t *plan = plan_of(pl);
                render(c, p, slug, json_string_value(json_object_get(pl, "slug")) ?: "?", plan);
                json_decref(plan);
            }
        }
    }
}

void dm__check_service(dm_check *c, const dm_plugin *p, const dm_check_opts *o)
{
    fprintf(c->out, "---- service contract\n");
    json_t *offered = NULL;
    dm_err_t err = { 0, "" };
    int rc = dm__service_catalog(p, &offered, &err);
    size_t i;
    const json_t *s;
    bool ok = rc == 0 && json_is_array(offered) && json_array_size(offered) > 0;
    json_array_foreach(ok ? offered : NULL, i, s) ok = ok && json_is_string(json_object_get(s, "slug")) &&
                                                    json_is_string(json_object_get(s, "name"));
    if (!dm__check_expect(c, ok, "service catalog", "%s",
                          rc != 0 ? err.msg : ok ? "services with slug and name" :
                                                   "not a non-empty array of {slug, name, …}")) {
        json_decref(offered);
        return;
    }
    char *path = o->catalog != NULL ? strdup(o->catalog) : dm__install_share_path("catalog.json");
    char why[400] = "";
    json_t *cat = path != NULL ? dm__check_read_json(path, why, sizeof why) : NULL;
    json_t *done = json_object();
    if (cat == NULL)
        dm__check_skip(c, "sample catalog", "%s", path == NULL ? "out of memory" : why);
    else
        sample_catalog(c, p, cat, done);
    /* What the sample catalog does not sell: a small default plan. */
    json_t *plan = json_pack("{s:s, s:i, s:i, s:i, s:[]}", "name", "plugin-check", "cpuMillicores",
                             500, "memoryMb", 512, "storageGb", 5, "features");
    json_array_foreach(offered, i, s) {
        const char *slug = json_string_value(json_object_get(s, "slug"));
        if (json_object_get(done, slug) == NULL)
            render(c, p, slug, "plugin-check default", plan);
    }
    json_decref(plan);
    json_decref(done);
    json_decref(cat);
    free(path);
    json_decref(offered);
}

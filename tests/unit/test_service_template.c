/*
 * test_service_template.c — the service-template plugin as the server will
 * see it: the built plugins/service-template.so loaded through the real
 * loader, over the shipped config/services templates (each loads and
 * renders, agrees with config/catalog.json) and over temporary directories
 * of broken templates (each refused, naming the file and the field).
 */
#include <stdio.h>
#include <string.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/service-template.so"

static const char *const SLUGS[] = { "n8n", "postgresql", "redis", "static-site", "uptime-kuma" };
#define N_SLUGS (sizeof SLUGS / sizeof SLUGS[0])

/* ---- paths ---- */

/* The source tree: DERMAGA_TEST_SOURCE_DIR, else three levels above this
 * file (CMake compiles it by its absolute path). */
static void source_dir(char *out, size_t len)
{
    const char *env = getenv("DERMAGA_TEST_SOURCE_DIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, len, "%s", env);
        return;
    }
    snprintf(out, len, "%s", __FILE__);
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(out, '/');
        ck_assert_msg(slash != NULL, "cannot find the source tree from %s", __FILE__);
        *slash = '\0';
    }
}

static void shipped_dir(char *out, size_t len)
{
    char src[3072];
    source_dir(src, sizeof src);
    snprintf(out, len, "%s/config/services", src);
}

/* ---- loading ---- */

typedef struct plug {
    fx_plugin               f;   /* dir, set, p (NULL when refused), log */
    const dm_service_ops_t *ops;
} plug;

/* Load service-template with `config` (new, stolen); pl->f.p is NULL when
 * the plugin was refused. */
static void try_open(plug *pl, json_t *config)
{
    fx_plugin_open(&pl->f, PLUGIN_SO, "service-template", DM_PLUGIN_SERVICE, config);
    pl->ops = dm__plugin_service_ops(pl->f.p);
}

static const char *refusal(const plug *pl)
{
    const char *r = json_string_value(
        json_object_get(json_array_get(dm__plugins_refusals(pl->f.set), 0), "reason"));
    return r != NULL ? r : "(no refusal)";
}

static void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
}

/* Load over templates_dir with image_map (borrowed, may be NULL). */
static void open_dir(plug *pl, const char *templates_dir, const json_t *image_map)
{
    json_t *cfg = json_pack("{s:s}", "dir", templates_dir);
    if (image_map != NULL)
        json_object_set(cfg, "image_map", (json_t *)image_map);
    try_open(pl, cfg);
    ck_assert_msg(pl->f.p != NULL, "service-template was refused: %s\nlog:\n%s", refusal(pl), pl->f.log);
    ck_assert_msg(pl->ops != NULL && pl->ops->presentation != NULL, "service ops missing");
}

static void open_shipped(plug *pl, const json_t *image_map)
{
    char dir[4096];
    shipped_dir(dir, sizeof dir);
    open_dir(pl, dir, image_map);
}

/* ---- requests ---- */

static json_t *plan(int cpu, int mem, int storage)
{
    json_t *p = json_pack("{s:s,s:i,s:i,s:i,s:[s]}", "name", "Basic", "cpuMillicores", cpu, "memoryMb",
                          mem, "storageGb", storage, "features", "x");
    ck_assert_msg(p != NULL, "json_pack failed");
    return p;
}

static dm_service_request_t request(const char *slug, const json_t *pl, const json_t *stored,
                                    const char *instance)
{
    dm_service_request_t r = { .service_slug = slug,
                               .subscription_id = "5b7c2c1e-0000-4000-8000-00000000aaaa",
                               .instance_id = instance,
                               .plan = pl,
                               .stored = stored,
                               .public_host = NULL };
    return r;
}

static json_t *workload(const plug *pl, const dm_service_request_t *req)
{
    json_t *out = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->workload(pl->f.p->state, req, &out, &err);
    ck_assert_msg(rc == 0 && out != NULL, "workload(%s): %d (%s)", req->service_slug, rc, err.msg);
    return out;
}

static json_t *presentation(const plug *pl, const dm_service_request_t *req)
{
    json_t *out = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->presentation(pl->f.p->state, req, &out, &err);
    ck_assert_msg(rc == 0 && out != NULL, "presentation(%s): %d (%s)", req->service_slug, rc, err.msg);
    return out;
}

static const char *jstr(const json_t *j, const char *path0, const char *path1)
{
    const json_t *v = json_object_get(j, path0);
    if (path1 != NULL)
        v = json_object_get(v, path1);
    return json_string_value(v);
}

/* No "${" left in any string of j (recursively). */
static void expect_rendered(const json_t *j, const char *where)
{
    if (json_is_string(j)) {
        ck_assert_msg(strstr(json_string_value(j), "${") == NULL, "%s: unrendered \"%s\"", where,
                      json_string_value(j));
        return;
    }
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) expect_rendered(v, where);
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) expect_rendered(v, where);
    }
}

/* ---- the shipped templates ---- */

START_TEST(shipped_catalog_lists_every_template)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *cat = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(pl.ops->catalog(pl.f.p->state, &cat, &err) == 0, "catalog: %s", err.msg);
    ck_assert_msg(json_array_size(cat) == N_SLUGS, "catalog has %zu entries, want %zu",
                  json_array_size(cat), N_SLUGS);
    for (size_t i = 0; i < N_SLUGS; i++) {
        json_t *e = json_array_get(cat, i);
        ck_assert_str_eq(jstr(e, "slug", NULL), SLUGS[i]);
        ck_assert_msg(jstr(e, "name", NULL) != NULL && jstr(e, "category", NULL) != NULL &&
                          jstr(e, "description", NULL) != NULL,
                      "catalog entry %s lacks name, category or description", SLUGS[i]);
        ck_assert_msg(json_object_size(e) == 4, "catalog entry %s has %zu fields, want 4", SLUGS[i],
                      json_object_size(e));
    }
    json_decref(cat);
    close_plugin(&pl);
}
END_TEST

/* config/catalog.json of the source tree at src; the test fails without it. */
static json_t *load_demo_catalog(const char *src)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config/catalog.json", src);
    json_error_t je;
    json_t *demo = json_load_file(path, 0, &je);
    ck_assert_msg(demo != NULL, "%s: %s", path, je.text);
    return demo;
}

/* Every service of config/catalog.json has a template with its slug, in
 * the same category, under the same name. */
START_TEST(shipped_templates_match_demo_catalog)
{
    char src[3072];
    source_dir(src, sizeof src);
    json_t *demo = load_demo_catalog(src);
    plug pl;
    open_shipped(&pl, NULL);
    json_t *cat = NULL;
    ck_assert_msg(pl.ops->catalog(pl.f.p->state, &cat, NULL) == 0, "catalog failed");
    size_t i, j, k, seen = 0;
    json_t *c, *s, *e;
    json_array_foreach(json_object_get(demo, "categories"), i, c) {
        json_array_foreach(json_object_get(c, "services"), j, s) {
            const char *tslug = jstr(s, "template", NULL);
            json_t *found = NULL;
            json_array_foreach(cat, k, e) {
                if (tslug != NULL && strcmp(jstr(e, "slug", NULL), tslug) == 0)
                    found = e;
            }
            ck_assert_msg(found != NULL, "catalog.json service %s: no template \"%s\"",
                          jstr(s, "slug", NULL), tslug != NULL ? tslug : "(none)");
            ck_assert_str_eq(jstr(found, "category", NULL), jstr(c, "slug", NULL));
            ck_assert_str_eq(jstr(found, "name", NULL), jstr(s, "name", NULL));
            seen++;
        }
    }
    ck_assert_msg(seen == N_SLUGS, "catalog.json has %zu services, want %zu", seen, N_SLUGS);
    json_decref(cat);
    json_decref(demo);
    close_plugin(&pl);
}
END_TEST

/* The demo catalog sells only what a plan really gets: its first three
 * features are the cpu, memory and volume the plan's numbers give the
 * runtime (plan_resources_land_in_spec checks they reach the workload), and
 * no text offers what Dermaga does not do (backups, TLS, domains, support). */
static void expect_no_false_promise(const char *where, const char *text)
{
    static const char *const never[] = { "backup", "https", "tls", "domain", "support", "sla", "up to" };
    char lower[512];
    size_t n = 0;
    for (; text[n] != '\0' && n + 1 < sizeof lower; n++)
        lower[n] = (char)((text[n] >= 'A' && text[n] <= 'Z') ? text[n] - 'A' + 'a' : text[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        ck_assert_msg(strstr(lower, never[i]) == NULL, "%s promises \"%s\": \"%s\"", where, never[i], text);
}

START_TEST(demo_catalog_promises_only_what_plans_get)
{
    char src[3072];
    source_dir(src, sizeof src);
    json_t *demo = load_demo_catalog(src);
    size_t i, j, k, f;
    json_t *c, *s, *p, *feat;
    json_array_foreach(json_object_get(demo, "categories"), i, c) {
        expect_no_false_promise(jstr(c, "slug", NULL), jstr(c, "description", NULL));
        json_array_foreach(json_object_get(c, "services"), j, s) {
            const char *svc = jstr(s, "slug", NULL);
            expect_no_false_promise(svc, jstr(s, "description", NULL));
            char tpath[4200];
            snprintf(tpath, sizeof tpath, "%s/config/services/%s.json", src, jstr(s, "template", NULL));
            json_error_t je;
            json_t *tpl = json_load_file(tpath, 0, &je);
            ck_assert_msg(tpl != NULL, "%s: %s", tpath, je.text);
            expect_no_false_promise(tpath, jstr(tpl, "description", NULL));
            json_decref(tpl);
            json_array_foreach(json_object_get(s, "plans"), k, p) {
                json_int_t cpu = json_integer_value(json_object_get(p, "cpuMillicores"));
                json_int_t mem = json_integer_value(json_object_get(p, "memoryMb"));
                json_int_t gb = json_integer_value(json_object_get(p, "storageGb"));
                char want[3][64];
                snprintf(want[0], sizeof want[0], "%g vCPU", (double)cpu / 1000.0);
                if (mem >= 1024 && mem % 1024 == 0)
                    snprintf(want[1], sizeof want[1], "%lld GB memory", (long long)(mem / 1024));
                else
                    snprintf(want[1], sizeof want[1], "%lld MB memory", (long long)mem);
                snprintf(want[2], sizeof want[2], "%lld GB volume", (long long)gb);
                json_t *feats = json_object_get(p, "features");
                for (int w = 0; w < 3; w++) {
                    const char *got = json_string_value(json_array_get(feats, (size_t)w));
                    ck_assert_msg(got != NULL && strcmp(got, want[w]) == 0, "%s/%s feature %d is \"%s\", the plan gives \"%s\"",
                                  svc, jstr(p, "slug", NULL), w, got != NULL ? got : "(none)", want[w]);
                }
                json_array_foreach(feats, f, feat) {
                    char where[160];
                    snprintf(where, sizeof where, "%s/%s", svc, jstr(p, "slug", NULL));
                    expect_no_false_promise(where, json_string_value(feat));
                }
            }
        }
    }
    json_decref(demo);
}
END_TEST

/* Each template renders for each of its catalog plans' shapes: image,
 * resources, volumes sized from storage, ports, everything rendered. */
START_TEST(shipped_templates_render_workloads)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(250, 512, 3);
    for (size_t i = 0; i < N_SLUGS; i++) {
        dm_service_request_t req = request(SLUGS[i], p, NULL, "0d1f7a52-0000-4000-8000-000000000001");
        json_t *spec = workload(&pl, &req);
        const char *image = jstr(spec, "image", NULL);
        ck_assert_msg(image != NULL && strchr(image, ':') != NULL, "%s: image %s has no tag", SLUGS[i],
                      image != NULL ? image : "(none)");
        ck_assert_msg(strncmp(image, "localhost/", 10) != 0, "%s: shipped image %s is a local one",
                      SLUGS[i], image);
        json_t *res = json_object_get(spec, "resources");
        ck_assert_msg(json_integer_value(json_object_get(res, "cpuMillicores")) == 250 &&
                          json_integer_value(json_object_get(res, "memoryMb")) == 512 &&
                          json_integer_value(json_object_get(res, "storageGb")) == 3,
                      "%s: resources %s", SLUGS[i], json_dumps(res, JSON_COMPACT));
        ck_assert_msg(json_array_size(json_object_get(spec, "ports")) >= 1, "%s: no ports", SLUGS[i]);
        json_t *vols = json_object_get(spec, "volumes");
        ck_assert_msg(json_array_size(vols) >= 1, "%s: no volume", SLUGS[i]);
        ck_assert_msg(json_integer_value(json_object_get(json_array_get(vols, 0), "sizeGb")) == 3,
                      "%s: volume sizeGb is not the plan's storageGb", SLUGS[i]);
        ck_assert_msg(json_is_object(json_object_get(spec, "health")), "%s: no health probe", SLUGS[i]);
        ck_assert_msg(json_is_object(json_object_get(json_object_get(spec, "stored"), "secrets")),
                      "%s: no stored.secrets", SLUGS[i]);
        expect_rendered(spec, SLUGS[i]);
        json_decref(spec);
    }
    json_decref(p);
    close_plugin(&pl);
}
END_TEST

/* ---- secrets ---- */

static int all_in(const char *s, const char *alphabet)
{
    for (; *s != '\0'; s++) {
        if (strchr(alphabet, *s) == NULL)
            return 0;
    }
    return 1;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

START_TEST(secrets_generated_distinct_and_reused)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(250, 256, 1);
    dm_service_request_t r1 = request("postgresql", p, NULL, "inst-1");
    dm_service_request_t r2 = request("postgresql", p, NULL, "inst-2");
    json_t *a = workload(&pl, &r1), *b = workload(&pl, &r2);
    const char *pa = jstr(json_object_get(a, "stored"), "secrets", "password");
    const char *pb = jstr(json_object_get(b, "stored"), "secrets", "password");
    ck_assert_msg(pa != NULL && strlen(pa) == 32 && all_in(pa, ALNUM),
                  "password \"%s\" is not 32 alphanumerics", pa != NULL ? pa : "(none)");
    ck_assert_msg(pb != NULL && strcmp(pa, pb) != 0, "two instances got the same password");
    ck_assert_str_eq(jstr(a, "env", "POSTGRES_PASSWORD"), pa);

    /* Re-provisioning with what was stored keeps the password, and keeps
     * whatever else the host stored. */
    json_t *stored = json_deep_copy(json_object_get(a, "stored"));
    json_object_set_new(stored, "endpoints", json_pack("{s:{s:s,s:i}}", "postgres", "host", "h", "port", 1));
    dm_service_request_t again = request("postgresql", p, stored, "inst-1");
    json_t *c = workload(&pl, &again);
    ck_assert_str_eq(jstr(c, "env", "POSTGRES_PASSWORD"), pa);
    ck_assert_str_eq(jstr(json_object_get(c, "stored"), "secrets", "password"), pa);
    ck_assert_msg(json_object_get(json_object_get(c, "stored"), "endpoints") != NULL,
                  "the host's stored.endpoints was dropped");
    json_decref(a), json_decref(b), json_decref(c), json_decref(stored), json_decref(p);
    close_plugin(&pl);
}
END_TEST

/* The secret lands in the command where the template puts it. */
START_TEST(secret_in_command)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(250, 256, 1);
    dm_service_request_t r = request("redis", p, NULL, "inst-1");
    json_t *spec = workload(&pl, &r);
    const char *pw = jstr(json_object_get(spec, "stored"), "secrets", "password");
    json_t *cmd = json_object_get(spec, "command");
    int found = 0;
    for (size_t i = 0; i + 1 < json_array_size(cmd); i++) {
        if (strcmp(json_string_value(json_array_get(cmd, i)), "--requirepass") == 0)
            found = pw != NULL && strcmp(json_string_value(json_array_get(cmd, i + 1)), pw) == 0;
    }
    ck_assert_msg(found, "redis command lacks --requirepass <stored password>: %s",
                  json_dumps(cmd, JSON_COMPACT));
    json_decref(spec), json_decref(p);
    close_plugin(&pl);
}
END_TEST

/* ---- image map, resources, unknown slugs ---- */

START_TEST(image_map_substitutes)
{
    json_t *map = json_pack("{s:s}", "docker.io/joseluisq/static-web-server:2",
                            "localhost/dermaga/static-site:test");
    plug pl;
    open_shipped(&pl, map);
    json_t *p = plan(100, 128, 1);
    dm_service_request_t r = request("static-site", p, NULL, "i");
    json_t *spec = workload(&pl, &r);
    ck_assert_str_eq(jstr(spec, "image", NULL), "localhost/dermaga/static-site:test");
    ck_assert_str_eq(jstr(spec, "env", "PORT"), "8080");
    json_decref(spec);
    r = request("redis", p, NULL, "i");
    spec = workload(&pl, &r);
    ck_assert_str_eq(jstr(spec, "image", NULL), "docker.io/library/redis:7-alpine");
    json_decref(spec), json_decref(p), json_decref(map);
    close_plugin(&pl);
}
END_TEST

START_TEST(plan_resources_land_in_spec)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(321, 777, 9);
    dm_service_request_t r = request("n8n", p, NULL, "i");
    json_t *spec = workload(&pl, &r);
    json_t *res = json_object_get(spec, "resources");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "cpuMillicores")), 321);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "memoryMb")), 777);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "storageGb")), 9);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(spec, "volumes"), 0), "sizeGb")), 9);
    json_decref(spec), json_decref(p);
    close_plugin(&pl);
}
END_TEST

START_TEST(plan_missing_field_refused)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = json_pack("{s:s,s:i,s:i}", "name", "x", "cpuMillicores", 100, "storageGb", 1);
    dm_service_request_t r = request("redis", p, NULL, "i");
    json_t *out = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl.ops->workload(pl.f.p->state, &r, &out, &err);
    ck_assert_msg(rc == DM_EINVAL && out == NULL, "plan without memoryMb: %d, want DM_EINVAL", rc);
    ck_assert_msg(strstr(err.msg, "memoryMb") != NULL, "message does not name memoryMb: %s", err.msg);
    json_decref(p);
    close_plugin(&pl);
}
END_TEST

START_TEST(unknown_slug_not_found)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(100, 128, 1), *out = NULL;
    dm_service_request_t r = request("mongodb", p, NULL, "i");
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl.ops->workload(pl.f.p->state, &r, &out, &err);
    ck_assert_msg(rc == DM_ENOTFOUND && out == NULL, "workload(mongodb): %d, want DM_ENOTFOUND", rc);
    ck_assert_msg(strstr(err.msg, "mongodb") != NULL, "message does not name the slug: %s", err.msg);
    rc = pl.ops->presentation(pl.f.p->state, &r, &out, &err);
    ck_assert_msg(rc == DM_ENOTFOUND && out == NULL, "presentation(mongodb): %d, want DM_ENOTFOUND", rc);
    json_decref(p);
    close_plugin(&pl);
}
END_TEST

/* ---- presentation ---- */

START_TEST(presentation_renders)
{
    plug pl;
    open_shipped(&pl, NULL);
    json_t *p = plan(250, 256, 1);
    dm_service_request_t r = request("redis", p, NULL, "i");
    json_t *spec = workload(&pl, &r);
    json_t *stored = json_deep_copy(json_object_get(spec, "stored"));
    const char *pw = jstr(stored, "secrets", "password");

    /* No endpoint known yet: URLs that need one are left out. */
    r.stored = stored;
    json_t *pres = presentation(&pl, &r);
    ck_assert_msg(json_object_size(json_object_get(pres, "urls")) == 0, "urls without endpoint: %s",
                  json_dumps(pres, JSON_COMPACT));
    ck_assert_str_eq(jstr(pres, "credentials", "password"), pw);
    ck_assert_msg(jstr(pres, "credentials", "uri") == NULL, "uri rendered without an endpoint");
    json_decref(pres);

    /* With the runtime's endpoint. */
    json_object_set_new(stored, "endpoints",
                        json_pack("{s:{s:s,s:i}}", "redis", "host", "127.0.0.1", "port", 20001));
    pres = presentation(&pl, &r);
    ck_assert_str_eq(jstr(pres, "urls", "public"), "redis://127.0.0.1:20001");
    char uri[256];
    snprintf(uri, sizeof uri, "redis://default:%s@127.0.0.1:20001/0", pw);
    ck_assert_str_eq(jstr(pres, "credentials", "uri"), uri);
    json_decref(pres);

    /* A web service behind the host name the host assigned. */
    dm_service_request_t w = request("static-site", p, NULL, "i");
    w.public_host = "site-1.apps.example.test";
    pres = presentation(&pl, &w);
    ck_assert_str_eq(jstr(pres, "urls", "public"), "http://site-1.apps.example.test");
    ck_assert_msg(json_object_size(json_object_get(pres, "credentials")) == 0, "static-site has credentials");
    json_decref(pres);

    /* ${url.http}: the endpoint as a URL, its scheme from the runtime (an
     * Ingress with TLS), the scheme's own port left out. */
    json_t *ws = json_object();
    w.stored = ws;
    const struct { const char *scheme; int port; const char *want; } urls[] = {
        { NULL, 20001, "http://127.0.0.1:20001" },
        { "http", 80, "http://127.0.0.1" },
        { "https", 443, "https://127.0.0.1" },
        { "https", 8443, "https://127.0.0.1:8443" },
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        json_t *ep = json_pack("{s:s, s:i}", "host", "127.0.0.1", "port", urls[i].port);
        if (urls[i].scheme != NULL)
            json_object_set_new(ep, "scheme", json_string(urls[i].scheme));
        json_object_set_new(ws, "endpoints", json_pack("{s:o}", "http", ep));
        pres = presentation(&pl, &w);
        ck_assert_str_eq(jstr(pres, "urls", "public"), urls[i].want);
        json_decref(pres);
    }
    json_decref(ws);
    json_decref(spec), json_decref(stored), json_decref(p);
    close_plugin(&pl);
}
END_TEST

/* ---- temporary template directories ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_msg(fputs(text, f) >= 0, "write %s failed", path);
    fclose(f);
}

#define GOOD_TEMPLATE                                                                   \
    "{\"slug\":\"good\",\"name\":\"Good\",\"category\":\"misc\",\"description\":\"d\","  \
    "\"image\":\"docker.io/library/busybox:1\",\"ports\":[{\"name\":\"http\",\"port\":80}]}"

/* A template "broken" built from parts, so each case changes one thing. */
#define T(extra) "{\"slug\":\"broken\",\"name\":\"B\",\"category\":\"misc\",\"description\":\"d\"," extra "}"
#define IMG "\"image\":\"busybox:1\""

static const struct {
    const char *text;
    const char *field; /* what the refusal must name besides the file */
} broken[] = {
    { "{\"slug\":\"broken\",", "line" },                                       /* bad JSON */
    { T("\"ports\":[]"), "image: is required" },                                /* missing image */
    { T(IMG ",\"env\":{\"A\":\"${secret.nope}\"}"), "env.A" },                 /* undeclared secret */
    { T(IMG ",\"command\":[\"x\",\"${foo.bar}\"]"), "command[1]" },            /* unknown namespace */
    { T(IMG ",\"env\":{\"A\":\"${plan.price}\"}"), "env.A" },                  /* unknown plan field */
    { T(IMG ",\"env\":{\"A\":\"${instance.name}\"}"), "env.A" },               /* instance.id only */
    { T(IMG ",\"env\":{\"A\":\"${secret.x\"}"), "env.A" },                     /* unclosed */
    { T(IMG ",\"ports\":[{\"name\":\"http\",\"port\":70000}]"), "ports[0].port" },
    { T(IMG ",\"ports\":[{\"name\":\"http\",\"port\":\"80\"}]"), "ports[0].port" },
    { T(IMG ",\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"http\",\"port\":81}]"), "ports[1].name" },
    { T(IMG ",\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":80}]"), "ports[1].port" },
    { T(IMG ",\"ports\":[{\"name\":\"http\",\"port\":80,\"proto\":\"tcp\"}]"), "ports[0].proto" },
    { T(IMG ",\"restart\":\"always\""), "restart" },                           /* unknown field */
    { T(IMG ",\"secrets\":{\"pw\":{\"length\":4}}"), "secrets.pw.length" },
    { T(IMG ",\"secrets\":{\"pw\":{\"length\":16,\"alphabet\":\"emoji\"}}"), "secrets.pw.alphabet" },
    { T(IMG ",\"env\":{\"A\":\"${endpoint.http}\"},\"ports\":[{\"name\":\"http\",\"port\":80}]"), "env.A" },
    { T(IMG ",\"presentation\":{\"urls\":{\"public\":\"http://${endpoint.web}\"}}"), "presentation.urls.public" },
    { T(IMG ",\"presentation\":{\"urls\":{\"public\":\"${url.web}\"}}"), "presentation.urls.public" },
    { T(IMG ",\"env\":{\"A\":\"${url.http}\"},\"ports\":[{\"name\":\"http\",\"port\":80}]"), "env.A" },
    { T(IMG ",\"health\":{\"type\":\"http\",\"port\":81},\"ports\":[{\"name\":\"http\",\"port\":80}]"), "health.port" },
    { T(IMG ",\"health\":{\"type\":\"grpc\"}"), "health.type" },
    { T(IMG ",\"resources\":{\"memoryMb\":\"${plan.name}\"}"), "resources.memoryMb" },
    { T(IMG ",\"resources\":{\"gpus\":1}"), "resources.gpus" },
    { T(IMG ",\"volumes\":[{\"name\":\"data\",\"mountPath\":\"data\"}]"), "volumes[0].mountPath" },
    { T(IMG ",\"env\":{\"1A\":\"x\"}"), "env.1A" },
    { T(IMG ",\"volumes\":[{\"name\":\"d\",\"mountPath\":\"/a\"},{\"name\":\"d\",\"mountPath\":\"/b\"}]"), "volumes[1].name" },
    { T(IMG ",\"health\":{\"type\":\"exec\",\"command\":[]}"), "health.command" },
    { T(IMG ",\"entrypoint\":[]"), "entrypoint" },
    { T(IMG ",\"entrypoint\":[\"sh\",\"${foo.bar}\"]"), "entrypoint[1]" },
    { T(IMG ",\"name\":\"dup key\""), "line" },
    { T("\"image\":\"busybox:${plan.name}\""), "image" },
    { "{\"slug\":\"other\",\"name\":\"B\",\"category\":\"misc\",\"description\":\"d\"," IMG "}", "slug" },
    { "[1,2]", "(top)" },
};

/* A bad template is refused alone: logged with its file and reason, the
 * others served. */
START_TEST(broken_template_refused)
{
    char dir[512];
    fx_mkdtemp(dir, sizeof dir);
    write_file(dir, "good.json", GOOD_TEMPLATE);
    write_file(dir, "broken.json", broken[_i].text);
    plug pl;
    open_dir(&pl, dir, NULL);
    const char *log = pl.f.log;
    const char *line = strstr(log, "template refused: ");
    ck_assert_msg(line != NULL, "case %d (%s) was not refused:\n%s", _i, broken[_i].text, log);
    ck_assert_msg(strstr(line, "/broken.json: ") != NULL, "case %d: the log does not name the file: %s", _i, log);
    ck_assert_msg(strstr(line, broken[_i].field) != NULL, "case %d: the log does not name \"%s\": %s", _i,
                  broken[_i].field, log);
    json_t *p = plan(100, 64, 0);
    dm_service_request_t r = request("good", p, NULL, "i");
    json_decref(workload(&pl, &r));
    json_t *out = NULL;
    dm_err_t err = { 0, "" };
    r.service_slug = "broken";
    ck_assert_int_eq(pl.ops->workload(pl.f.p->state, &r, &out, &err), DM_ENOTFOUND);
    ck_assert_ptr_null(out);
    json_decref(p);
    close_plugin(&pl);
    fx_rmdir(dir);
}
END_TEST

/* dirs: a later directory adds templates and overrides an earlier one's
 * of the same slug (logged with both paths); a bad file in the later one
 * leaves the earlier template of its slug in place. */
START_TEST(template_dirs_add_and_override)
{
    char one[512], two[512];
    fx_mkdtemp(one, sizeof one);
    fx_mkdtemp(two, sizeof two);
    write_file(one, "good.json", GOOD_TEMPLATE);
    write_file(one, "broken.json", T(IMG));
    write_file(two, "good.json", "{\"slug\":\"good\",\"name\":\"Better\",\"category\":\"misc\","
                                 "\"description\":\"d\",\"image\":\"busybox:2\"}");
    write_file(two, "broken.json", T("\"ports\":[]"));
    write_file(two, "extra.json", "{\"slug\":\"extra\",\"name\":\"E\",\"category\":\"misc\","
                                  "\"description\":\"d\",\"image\":\"busybox:3\"}");
    plug pl;
    try_open(&pl, json_pack("{s:[s,s]}", "dirs", one, two));
    ck_assert_msg(pl.f.p != NULL, "refused: %s", refusal(&pl));
    char line[1200];
    snprintf(line, sizeof line, "template good: %s/good.json overrides %s/good.json", two, one);
    ck_assert_msg(strstr(pl.f.log, line) != NULL, "the override is not logged:\n%s", pl.f.log);
    json_t *p = plan(100, 64, 0);
    const char *want[][2] = { { "good", "busybox:2" }, { "broken", "busybox:1" }, { "extra", "busybox:3" } };
    for (size_t i = 0; i < 3; i++) {
        dm_service_request_t r = request(want[i][0], p, NULL, "i");
        json_t *spec = workload(&pl, &r);
        ck_assert_str_eq(jstr(spec, "image", NULL), want[i][1]);
        json_decref(spec);
    }
    json_decref(p);
    close_plugin(&pl);
    fx_rmdir(one);
    fx_rmdir(two);
}
END_TEST

/* The good template alone loads (so the cases above fail for their own
 * fault), with defaults filled in. */
START_TEST(minimal_template_defaults)
{
    char dir[512];
    fx_mkdtemp(dir, sizeof dir);
    write_file(dir, "good.json", GOOD_TEMPLATE);
    plug pl;
    open_dir(&pl, dir, NULL);
    json_t *p = plan(100, 64, 0);
    dm_service_request_t r = request("good", p, NULL, "i");
    json_t *spec = workload(&pl, &r);
    json_t *port = json_array_get(json_object_get(spec, "ports"), 0);
    ck_assert_str_eq(jstr(port, "protocol", NULL), "tcp");
    ck_assert_msg(json_is_false(json_object_get(port, "public")), "public should default to false");
    ck_assert_msg(json_object_get(spec, "command") == NULL, "no command was declared");
    ck_assert_msg(json_object_get(spec, "entrypoint") == NULL, "no entrypoint was declared");
    ck_assert_msg(json_object_get(spec, "health") == NULL, "no health was declared");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(spec, "resources"), "memoryMb")), 64);
    json_decref(spec), json_decref(p);
    close_plugin(&pl);
    fx_rmdir(dir);
}
END_TEST

/* Other placeholders, the "$${" escape, alphabets and fixed resources. */
START_TEST(placeholders_render)
{
    char dir[512];
    fx_mkdtemp(dir, sizeof dir);
    write_file(dir, "t.json",
               "{\"slug\":\"t\",\"name\":\"T\",\"category\":\"misc\",\"description\":\"d\","
               "\"image\":\"busybox:1\",\"secrets\":{\"k\":{\"length\":40,\"alphabet\":\"hex\"}},"
               "\"entrypoint\":[\"/bin/sh\",\"-c\"],\"command\":[\"sh\",\"-c\",\"echo $${HOME} $HOME ${instance.id}\"],"
               "\"env\":{\"SUB\":\"${subscription.id}\",\"PLAN\":\"${plan.name}/${plan.memoryMb}MB\","
               "\"K\":\"${secret.k}\"},"
               "\"health\":{\"type\":\"exec\",\"command\":[\"check\",\"${secret.k}\"]},"
               "\"resources\":{\"cpuMillicores\":50,\"memoryMb\":\"${plan.memoryMb}\"}}");
    plug pl;
    open_dir(&pl, dir, NULL);
    json_t *p = plan(100, 64, 2);
    dm_service_request_t r = request("t", p, NULL, "inst-7");
    json_t *spec = workload(&pl, &r);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "command"), 2)),
                     "echo ${HOME} $HOME inst-7");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "entrypoint"), 0)), "/bin/sh");
    ck_assert_int_eq(json_array_size(json_object_get(spec, "entrypoint")), 2);
    ck_assert_str_eq(jstr(spec, "env", "SUB"), "5b7c2c1e-0000-4000-8000-00000000aaaa");
    ck_assert_str_eq(jstr(spec, "env", "PLAN"), "Basic/64MB");
    const char *k = jstr(spec, "env", "K");
    ck_assert_msg(k != NULL && strlen(k) == 40 && all_in(k, "0123456789abcdef"), "hex secret: %s",
                  k != NULL ? k : "(none)");
    json_t *probe = json_object_get(json_object_get(spec, "health"), "command");
    ck_assert_msg(json_array_size(probe) == 2 && strcmp(json_string_value(json_array_get(probe, 1)), k) == 0,
                  "exec probe command not rendered: %s", json_dumps(probe, JSON_COMPACT));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(spec, "health"), "periodS")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(spec, "resources"), "cpuMillicores")), 50);
    ck_assert_int_eq(json_array_size(json_object_get(spec, "volumes")), 0);
    json_decref(spec), json_decref(p);
    close_plugin(&pl);
    fx_rmdir(dir);
}
END_TEST

/* ---- configuration refusals ---- */

START_TEST(config_refusals)
{
    char empty[512];
    fx_mkdtemp(empty, sizeof empty);
    struct {
        json_t     *cfg;
        const char *needle;
    } cases[] = {
        { json_pack("{}"), "dir (or dirs) must name the templates directory" },
        { json_pack("{s:s}", "dir", "/nonexistent/dermaga-templates"), "cannot be read" },
        { json_pack("{s:s}", "dir", empty), "no *.json templates" },
        { json_pack("{s:s,s:[s]}", "dir", empty, "dirs", empty), "dir and dirs are both set" },
        { json_pack("{s:[]}", "dirs"), "dirs must list 1 to 16" },
        { json_pack("{s:s,s:{s:i}}", "dir", empty, "image_map", "a:1", 5), "image_map.a:1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plug pl;
        try_open(&pl, cases[i].cfg);
        ck_assert_msg(pl.f.p == NULL, "config case %zu was accepted", i);
        ck_assert_msg(strstr(refusal(&pl), cases[i].needle) != NULL, "config case %zu: %s lacks \"%s\"", i,
                      refusal(&pl), cases[i].needle);
        close_plugin(&pl);
    }
    fx_rmdir(empty);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("service_template");
    TCase *tc = tcase_create("shipped");
    tcase_add_test(tc, shipped_catalog_lists_every_template);
    tcase_add_test(tc, shipped_templates_match_demo_catalog);
    tcase_add_test(tc, demo_catalog_promises_only_what_plans_get);
    tcase_add_test(tc, shipped_templates_render_workloads);
    tcase_add_test(tc, secrets_generated_distinct_and_reused);
    tcase_add_test(tc, secret_in_command);
    tcase_add_test(tc, image_map_substitutes);
    tcase_add_test(tc, plan_resources_land_in_spec);
    tcase_add_test(tc, plan_missing_field_refused);
    tcase_add_test(tc, unknown_slug_not_found);
    tcase_add_test(tc, presentation_renders);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("validation");
    tcase_add_test(bad, template_dirs_add_and_override);
    tcase_add_loop_test(bad, broken_template_refused, 0, (int)(sizeof broken / sizeof broken[0]));
    tcase_add_test(bad, minimal_template_defaults);
    tcase_add_test(bad, placeholders_render);
    tcase_add_test(bad, config_refusals);
    suite_add_tcase(s, bad);
    return s;
}

DM_TEST_MAIN(make_suite)

/*
 * check.c — `dermaga plugin-check FILE [options]`: the command line, the
 * loading of the one plugin (the loader's own open, configure and init, so
 * it is judged exactly as the server judges it), the tally and the exit
 * status. The kinds' contract tests are in check_<kind>.c.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin/call.h"
#include "plugin/kinds.h"
#include "plugin/loader.h"
#include "plugincheck/check.h"

static void line(dm_check *c, const char *tag, const char *what, const char *fmt, va_list ap)
{
    fprintf(c->out, "%s %s", tag, what);
    if (fmt != NULL && fmt[0] != '\0') {
        fputs(": ", c->out);
        vfprintf(c->out, fmt, ap);
    }
    fputc('\n', c->out);
    fflush(c->out);
}

void dm__check_pass(dm_check *c, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(c, "PASS", what, fmt, ap);
    va_end(ap);
    c->passed++;
}

void dm__check_fail(dm_check *c, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(c, "FAIL", what, fmt, ap);
    va_end(ap);
    c->failed++;
}

void dm__check_skip(dm_check *c, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(c, "SKIP", what, fmt, ap);
    va_end(ap);
    c->skipped++;
}

bool dm__check_expect(dm_check *c, bool ok, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line(c, ok ? "PASS" : "FAIL", what, fmt, ap);
    va_end(ap);
    if (ok)
        c->passed++;
    else
        c->failed++;
    return ok;
}

json_t *dm__check_read_json(const char *path, char *why, size_t cap)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        snprintf(why, cap, "%s: line %d: %s", path, je.line, je.text);
    return j;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dermaga plugin-check FILE.so [--config FILE.json] [options]\n"
            "  Loads the plugin as the server would, runs its init, then the contract\n"
            "  tests of its kind. One PASS/FAIL/SKIP line per check; exit 0 when none\n"
            "  failed, 1 when one did or the plugin was refused, 2 on bad usage.\n"
            "  Each option's value may also follow an '=' (--config=FILE.json).\n"
            "  --config FILE     the plugin's config block (a JSON object; default {})\n"
            "  --against URL     payment: the gateway's or its simulator's base URL\n"
            "  --spec FILE       runtime: the workload spec to run (default: a small web server)\n"
            "  --wait S          runtime: seconds a phase may take (default 60)\n"
            "  --catalog FILE    service: the sample catalog (default: the installed catalog)\n"
            "  --identity ID --secret S   auth: credentials that must be accepted\n");
}

/* "--name=value" as "--name" (copied into name) and its value; false,
 * with name and *value left alone, for any other argument. */
static bool split_inline(const char *arg, char *name, size_t cap, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (strncmp(arg, "--", 2) != 0 || eq == NULL || eq[1] == '\0' || (size_t)(eq - arg) >= cap)
        return false;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    *value = eq + 1;
    return true;
}

/* Parse argv into o; false (usage printed) when it makes no sense. Every
 * option takes its value as the next argument or after '='. */
static bool parse(int argc, char **argv, dm_check_opts *o)
{
    memset(o, 0, sizeof *o);
    o->wait_s = 60;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char name[32];
        bool inline_value = split_inline(a, name, sizeof name, &v);
        if (inline_value)
            a = name;
        const char **slot = strcmp(a, "--config") == 0     ? &o->config
                            : strcmp(a, "--against") == 0  ? &o->against
                            : strcmp(a, "--spec") == 0     ? &o->spec
                            : strcmp(a, "--catalog") == 0  ? &o->catalog
                            : strcmp(a, "--identity") == 0 ? &o->identity
                            : strcmp(a, "--secret") == 0   ? &o->secret
                                                           : NULL;
        if (slot != NULL && v != NULL) {
            *slot = v;
            i += inline_value ? 0 : 1;
        } else if (strcmp(a, "--wait") == 0 && v != NULL) {
            char *end;
            long s = strtol(v, &end, 10);
            if (*end != '\0' || s < 1 || s > 3600)
                return false;
            o->wait_s = (int)s;
            i += inline_value ? 0 : 1;
        } else if (inline_value) {
            return false; /* an option that takes no value, or an unknown one */
        } else if (a[0] != '-' && o->file == NULL) {
            o->file = a;
        } else {
            return false;
        }
    }
    return o->file != NULL;
}

/* Open, configure and init the plugin, one line each; NULL when refused. */
static dm_plugin *load(dm_check *c, const dm_check_opts *o)
{
    dm_plugin *p = NULL;
    dm_err_t err = { 0, "" };
    if (dm__plugin_open(o->file, &p, &err) != 0) {
        dm__check_fail(c, "load", "%s", err.msg);
        return NULL;
    }
    dm__check_pass(c, "load", "%s %s (%s, ABI %u.%u; host ABI %d.%d)", p->name, p->version,
                   dm__plugin_kind_name(p->kind), p->abi_major, p->abi_minor,
                   DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    json_t *cfg = NULL;
    char why[400];
    if (o->config != NULL && (cfg = dm__check_read_json(o->config, why, sizeof why)) == NULL) {
        dm__check_fail(c, "config", "%s", why);
        dm__plugin_close(p);
        return NULL;
    }
    int rc = dm__plugin_configure(p, cfg, &err);
    json_decref(cfg);
    if (rc != 0) {
        dm__check_fail(c, "configure", "%s", err.msg);
        dm__plugin_close(p);
        return NULL;
    }
    dm__check_pass(c, "configure", "%s", o->config != NULL ? o->config : "{} (no --config)");
    if (dm__plugin_init(p, &err) != 0) {
        dm__check_fail(c, "init", "%s", err.msg);
        dm__plugin_close(p);
        return NULL;
    }
    dm__check_pass(c, "init", NULL);
    return p;
}

int dm__plugin_check_main(int argc, char **argv)
{
    dm_check_opts o;
    if (!parse(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    dm_check c = { .out = stdout };
    dm_err_t err = { 0, "" };
    /* The server's own bounds on plugin calls (plugins.* defaults). */
    dm_plugin_calls_cfg calls = { .payment_timeout_ms = 30000, .runtime_timeout_ms = 120000,
                                  .max_threads = 8 };
    if (dm__plugins_global_init() != 0 || dm__plugin_calls_start(&calls, &err) != 0) {
        fprintf(stderr, "dermaga plugin-check: cannot start: %s\n", err.msg);
        return 1;
    }
    dm_plugin *p = load(&c, &o);
    if (p != NULL) {
        switch (p->kind) {
        case DM_PLUGIN_RUNTIME: dm__check_runtime(&c, p, &o); break;
        case DM_PLUGIN_SERVICE: dm__check_service(&c, p, &o); break;
        case DM_PLUGIN_AUTH:    dm__check_auth(&c, p, &o); break;
        case DM_PLUGIN_PAYMENT: dm__check_payment(&c, p, &o); break;
        default: dm__check_fail(&c, "kind", "no contract tests for kind %d", (int)p->kind);
        }
    }
    bool stopped = dm__plugin_calls_stop(10000) == 0;
    if (p != NULL && stopped)
        dm__plugin_close(p); /* fini; never while a call may still be inside */
    fprintf(c.out, "%s: %d passed, %d failed, %d skipped\n", c.failed == 0 && p != NULL ? "PASS" : "FAIL",
            c.passed, c.failed, c.skipped);
    fflush(c.out);
    dm__plugins_global_cleanup();
    return c.failed == 0 && p != NULL ? 0 : 1;
}

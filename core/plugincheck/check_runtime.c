/*
 * check_runtime.c — the runtime contract, against whatever backend the
 * plugin's config points at: provision → RUNNING and ready, provision again
 * converges (the same unit), stop → STOPPED, start → RUNNING, restart →
 * RUNNING, logs (a one-off read), usage, terminate → ABSENT, terminate
 * again succeeds, an unknown instance is ABSENT. Every op goes through the
 * call layer, with the server's timeouts. The instance id is fresh each
 * run, shaped like the server's (a UUID), and terminated whatever failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin/call.h"
#include "plugincheck/check.h"
#include "util/clock.h"

#define POLL_MS 250

static const char *phase_name(uint32_t ph)
{
    static const char *const names[] = { "UNKNOWN", "PENDING", "RUNNING", "STOPPED", "FAILED",
                                         "ABSENT" };
    return ph < sizeof names / sizeof names[0] ? names[ph] : "?";
}

/* A random UUID (version 4) for the instance. */
static void new_id(char *out, size_t cap)
{
    unsigned char b[16] = { 0 };
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(b, 1, sizeof b, f) != sizeof b)
            memset(b, 0x5a, sizeof b);
        fclose(f);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, cap, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/* The spec to run: --spec, or a small web server. New reference or NULL. */
static json_t *spec_of(dm_check *c, const dm_check_opts *o)
{
    if (o->spec == NULL)
        return json_pack("{s:s, s:[{s:s, s:i, s:s, s:b}], s:{s:i, s:i, s:i}, s:s}", "image",
                         "docker.io/library/nginx:alpine", "ports", "name", "http", "port", 80,
                         "protocol", "tcp", "public", 1, "resources", "cpuMillicores", 250,
                         "memoryMb", 128, "storageGb", 1, "restart", "on-failure");
    char why[400];
    json_t *s = dm__check_read_json(o->spec, why, sizeof why);
    if (s == NULL || !json_is_object(s)) {
        dm__check_fail(c, "runtime spec", "%s", s == NULL ? why : "not a JSON object");
        json_decref(s);
        return NULL;
    }
    return s;
}

/* Poll status until phase (RUNNING: and ready) or o->wait_s pass. */
static bool wait_for(dm_check *c, const dm_plugin *p, const char *id, uint32_t phase,
                     const dm_check_opts *o, const char *what, dm_runtime_status_t *st)
{
    uint64_t until = dm__clock_mono_ns() + (uint64_t)o->wait_s * 1000000000ull;
    dm_err_t err = { 0, "" };
    int rc;
    for (;;) {
        json_decref(st->endpoints);
        memset(st, 0, sizeof *st);
        rc = dm__runtime_status(p, id, st, &err);
        if (rc == 0 && st->phase == phase && (phase != DM_RUNTIME_RUNNING || st->ready))
            break;
        if (rc != 0 || st->phase == DM_RUNTIME_FAILED || dm__clock_mono_ns() > until)
            break;
        struct timespec ts = { 0, POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    bool ok = rc == 0 && st->phase == phase && (phase != DM_RUNTIME_RUNNING || st->ready);
    if (rc != 0)
        dm__check_fail(c, what, "status failed: %s", err.msg);
    else
        dm__check_expect(c, ok, what, "%s%s (unit %s)%s%s%s%s", phase_name(st->phase),
                         st->phase == DM_RUNTIME_RUNNING ? (st->ready ? ", ready" : ", not ready") : "",
                         st->unit_name, ok ? "" : ", want ", ok ? "" : phase_name(phase),
                         st->message[0] != '\0' ? ": " : "", st->message);
    return ok;
}

static bool op_ok(dm_check *c, const char *what, int rc, const dm_err_t *err)
{
    if (rc == 0)
        dm__check_pass(c, what, NULL);
    else
        dm__check_fail(c, what, "%s", err->msg);
    return rc == 0;
}

static int count_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    (void)line, (void)len, (void)stream, (void)ts_ms;
    (*(int *)opaque)++;
    return 0;
}

static bool never(void *opaque)
{
    (void)opaque;
    return false;
}

/* The optional ops: an answer, or "not supported", never a crash. */
static void optional_ops(dm_check *c, const dm_plugin *p, const char *id)
{
    dm_err_t err = { 0, "" };
    int lines = 0;
    dm_runtime_log_opts_t lo = { .tail_lines = 20, .follow = false };
    dm_runtime_log_sink_t sink = { .opaque = &lines, .line = count_line, .cancelled = never };
    int rc = dm__runtime_logs(p, id, &lo, &sink, &err);
    if (rc == DM_EUNSUPPORTED)
        dm__check_skip(c, "runtime logs", "not supported");
    else
        op_ok(c, "runtime logs", rc, &err);
    dm_runtime_usage_t u = { 0 };
    rc = dm__runtime_usage(p, id, &u, &err);
    if (rc == DM_EUNSUPPORTED)
        dm__check_skip(c, "runtime usage", "%s", err.msg);
    else if (op_ok(c, "runtime usage", rc, &err))
        dm__check_expect(c, u.cpu_millicores >= 0 && u.memory_bytes >= 0, "runtime usage figures",
                         "%lld millicores, %lld bytes", (long long)u.cpu_millicores,
                         (long long)u.memory_bytes);
}

void dm__check_runtime(dm_check *c, const dm_plugin *p, const dm_check_opts *o)
{
    json_t *spec = spec_of(c, o);
    if (spec == NULL)
        return;
    char id[40];
    new_id(id, sizeof id);
    const char *owner = "plugin-check";
    fprintf(c->out, "---- runtime contract, instance %s\n", id);
    dm_err_t err = { 0, "" };
    dm_runtime_status_t st = { 0 };
    int rc = dm__runtime_provision(p, id, spec, owner, "plugin-check-user", &st, &err);
    json_decref(st.endpoints);
    memset(&st, 0, sizeof st);
    bool up = op_ok(c, "runtime provision", rc, &err) &&
              wait_for(c, p, id, DM_RUNTIME_RUNNING, o, "runtime provision reaches RUNNING", &st);
    if (up) {
        char unit[DM_RUNTIME_UNIT_MAX];
        snprintf(unit, sizeof unit, "%s", st.unit_name);
        dm_runtime_status_t again = { 0 };
        rc = dm__runtime_provision(p, id, spec, owner, "plugin-check-user", &again, &err);
        json_decref(again.endpoints);
        if (op_ok(c, "runtime provision again (converges)", rc, &err))
            wait_for(c, p, id, DM_RUNTIME_RUNNING, o, "runtime provision again keeps RUNNING", &st);
        if (op_ok(c, "runtime stop", dm__runtime_stop(p, id, &err), &err))
            wait_for(c, p, id, DM_RUNTIME_STOPPED, o, "runtime stop reaches STOPPED", &st);
        if (op_ok(c, "runtime start", dm__runtime_start(p, id, &err), &err))
            wait_for(c, p, id, DM_RUNTIME_RUNNING, o, "runtime start reaches RUNNING", &st);
        if (op_ok(c, "runtime restart", dm__runtime_restart(p, id, &err), &err))
            wait_for(c, p, id, DM_RUNTIME_RUNNING, o, "runtime restart reaches RUNNING", &st);
        optional_ops(c, p, id);
    }
    /* Always: nothing of the check may stay on the backend. */
    if (op_ok(c, "runtime terminate", dm__runtime_terminate(p, id, &err), &err))
        wait_for(c, p, id, DM_RUNTIME_ABSENT, o, "runtime terminate reaches ABSENT", &st);
    op_ok(c, "runtime terminate again (idempotent)", dm__runtime_terminate(p, id, &err), &err);
    char unknown[40];
    new_id(unknown, sizeof unknown);
    json_decref(st.endpoints);
    memset(&st, 0, sizeof st);
    rc = dm__runtime_status(p, unknown, &st, &err);
    dm__check_expect(c, rc == 0 && st.phase == DM_RUNTIME_ABSENT, "runtime unknown instance is ABSENT",
                     "%s", rc == 0 ? phase_name(st.phase) : err.msg);
    json_decref(st.endpoints);
    json_decref(spec);
}

/*
 * instance_jobs.c — the instance.* job handlers: build the workload with the
 * service plugin, run it with the runtime plugin, wait (bounded, with no
 * transaction open) for the runtime to report the outcome, and record it
 * with dm__instance_transition (actor "system"). Secrets the service plugin
 * generates are saved before the runtime is called, so a retry reuses them.
 */
#include "instances/instance_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include <dermaga/runtime.h>
#include <dermaga/service.h>

#include "accounts/users.h"
#include "instances/instance_job.h"
#include "instances/instance_runtime.h"
#include "instances/instance_service.h"
#include "instances/instance_state.h"
#include "plugin/call.h"
#include "util/clock.h"
#include "util/log.h"

/* Status polls start quick (a container is often up within tens of
 * milliseconds) and back off to POLL_MAX_MS for slow starts. */
#define POLL_MIN_MS 20
#define POLL_MAX_MS 250

/* What a handler knows about its instance. */
typedef struct inst {
    dm_instance_job_args args; /* what the job says (borrows from it) */
    char    id[37];
    char    sub_id[37];
    char    status[16];
    char    slug[64];  /* the service's template, else its slug: the service plugin's slug */
    char    svc_type[64]; /* its service's serviceType: the service plugin ("" = the default) */
    char    owner[37]; /* this installation's id: the label on its workloads */
    char    user[37];  /* the subscriber's id: a runtime may place workloads by it */
    char    runtime[65];     /* the runtime it records; "" before its first provision */
    char    svc_runtime[65]; /* its service's catalog runtime; "" when none */
    json_t *plan;      /* owned: {"name","cpuMillicores","memoryMb","storageGb","features"} */
    json_t *stored;    /* owned object: what the service plugin generated */
} inst;

static void inst_clear(inst *in)
{
    json_decref(in->plan);
    json_decref(in->stored);
    in->plan = in->stored = NULL;
}

static void nap(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static json_t *parse_obj(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Load status, subscription, plan, template and stored (autocommit).
 * DM_ENOTFOUND when the instance is gone; the SQL codes; DM_ENOMEM. */
static int load(dm_db *db, inst *in, dm_err_t *err)
{
    const char *p[] = { in->id };
    PGresult *r = dm__db_exec(db, "ij_load",
                              "SELECT i.status, i.subscription_id, COALESCE(s.template, s.slug), "
                              "  json_build_object('name', p.name, 'cpuMillicores', p.cpu_millicores, "
                              "    'memoryMb', p.memory_mb, 'storageGb', p.storage_gb, "
                              "    'features', p.features)::text, i.stored::text, "
                              "  (SELECT id::text FROM installation), COALESCE(i.runtime, ''), "
                              "  COALESCE(s.runtime, ''), su.user_id::text, s.service_type "
                              "FROM instances i JOIN subscriptions su ON su.id = i.subscription_id "
                              "JOIN services s ON s.id = su.service_id JOIN plans p ON p.id = su.plan_id "
                              "WHERE i.id = $1::uuid",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = dm_err_set(err, DM_ENOTFOUND, "no such instance %s", in->id);
    } else {
        snprintf(in->status, sizeof in->status, "%s", PQgetvalue(r, 0, 0));
        snprintf(in->sub_id, sizeof in->sub_id, "%s", PQgetvalue(r, 0, 1));
        snprintf(in->slug, sizeof in->slug, "%s", PQgetvalue(r, 0, 2));
        snprintf(in->owner, sizeof in->owner, "%s", PQgetvalue(r, 0, 5));
        snprintf(in->runtime, sizeof in->runtime, "%s", PQgetvalue(r, 0, 6));
        snprintf(in->svc_runtime, sizeof in->svc_runtime, "%s", PQgetvalue(r, 0, 7));
        snprintf(in->user, sizeof in->user, "%s", PQgetvalue(r, 0, 8));
        snprintf(in->svc_type, sizeof in->svc_type, "%s", PQgetvalue(r, 0, 9));
        in->plan = parse_obj(PQgetvalue(r, 0, 3));
        in->stored = parse_obj(PQgetvalue(r, 0, 4));
        if (in->plan == NULL || in->stored == NULL)
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    PQclear(r);
    return rc;
}

/* One transition in a transaction of its own. */
static int step(dm_db *db, const char *id, const char *op, const char *reason, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__instance_transition(db, id, op, "system", reason, NULL, err);
    return dm__db_end(db, rc, err);
}

/* The outcome is a failure: ERROR with msg. A status that no longer allows
 * it (the user terminated meanwhile) is left alone. 0 or the SQL codes. */
static int fail(dm_db *db, const char *id, const char *kind, const char *msg, dm_err_t *err)
{
    DM_LOG_W("%s %s: %s", kind, id, msg);
    dm_err_t e = { 0, "" };
    int rc = step(db, id, "error", msg, &e);
    if (rc == DM_ECONFLICT || rc == DM_ENOTFOUND)
        return 0;
    if (rc != 0)
        return dm_err_set(err, rc, "%s", e.msg);
    return 0;
}

/* A runtime call failed with rc: retry the job while the engine is merely
 * down and attempts remain, else record ERROR. */
static int runtime_failed(dm_db *db, const dm_job *job, const char *id, int rc, const dm_err_t *e,
                          dm_err_t *err)
{
    if ((rc == DM_EUNAVAIL || rc == DM_ETIMEDOUT) && job->attempts < job->max_attempts) {
        /* Said on the instance now, not only when the attempts are spent. */
        char note[700];
        snprintf(note, sizeof note, "%s attempt %d of %d failed, retrying: %s", job->kind,
                 job->attempts, job->max_attempts, e->msg[0] != '\0' ? e->msg : "runtime unavailable");
        dm_err_t ne = { 0, "" };
        if (dm__instance_note(db, id, "retry", note, &ne) != 0)
            DM_LOG_W("%s %s: could not record the retry: %s", job->kind, id, ne.msg);
        return dm_err_set(err, DM_EUNAVAIL, "runtime unavailable: %s", e->msg);
    }
    char msg[600];
    snprintf(msg, sizeof msg, "runtime: %s", e->msg[0] != '\0' ? e->msg : "failed");
    return fail(db, id, job->kind, msg, err);
}

/* Record on the instance the runtime a provision is about to use, before
 * the first runtime call, so that a failed provision still says where its
 * leftovers are. A runtime recorded meanwhile wins (COALESCE): the name is
 * written once. *recorded gets the name the row now holds. */
static int record_runtime(dm_db *db, const char *id, const char *name, char recorded[65], dm_err_t *err)
{
    const char *p[] = { id, name };
    PGresult *r = dm__db_exec(db, "ij_runtime",
                              "UPDATE instances SET runtime = COALESCE(runtime, $2), updated_at = now() "
                              "WHERE id = $1::uuid RETURNING runtime",
                              2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such instance %s", id);
    else
        snprintf(recorded, 65, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The runtime (dm__instance_runtime: the one the instance records; a
 * provision that finds none chooses and records it first) and, for a
 * provision (which builds the workload), the service plugin its service
 * names (dm__instance_service); or an ERROR
 * recorded that says which is missing (returns 1, *rc the outcome). */
static int plugins_for(dm_db *db, const dm_job *job, const dm_instance_jobs_ctx *ctx, bool provisioning,
                       inst *in, const dm_plugin **rt, const dm_plugin **svc, int *rc, dm_err_t *err)
{
    dm_err_t why = { 0, "" };
    /* Only a provision chooses: any other operation on an instance that
     * records no runtime (one never provisioned, or a row from before the
     * runtime was recorded, which ran on the first runtime plugin) goes to
     * the first runtime plugin, where the former has nothing to touch. */
    int found = provisioning ? dm__instance_runtime(ctx->plugins, in->runtime, in->svc_runtime, ctx->default_runtime,
                                                    rt, &why)
                             : dm__instance_runtime(ctx->plugins, in->runtime, NULL, NULL, rt, &why);
    if (found == 0 && provisioning && in->runtime[0] == '\0') {
        *rc = record_runtime(db, in->id, (*rt)->name, in->runtime, err);
        if (*rc != 0)
            return 1;
        if (strcmp(in->runtime, (*rt)->name) != 0) /* another job recorded one first */
            found = dm__instance_runtime(ctx->plugins, in->runtime, NULL, NULL, rt, &why);
    }
    *svc = NULL;
    if (found == 0 && provisioning)
        found = dm__instance_service(ctx->plugins, in->svc_type, svc, &why);
    const char *missing = found != 0 ? why.msg : NULL;
    if (missing == NULL)
        return 0;
    *rc = fail(db, in->id, job->kind, missing, err);
    return 1;
}

/* Poll status until done() says so or the deadline passes. st is filled
 * with the last status (endpoints released by the caller). 0 when done;
 * DM_ECONFLICT when the runtime reports FAILED or the deadline passed (the
 * message says which); or status()'s code. */
typedef bool (*done_fn)(const dm_runtime_status_t *st, bool last_chance);

static int wait_for(const dm_plugin *rt, const char *id, done_fn done, int wait_ms, dm_runtime_status_t *st,
                    dm_err_t *err)
{
    const int64_t deadline = dm__clock_mono_ms() + wait_ms;
    int pause = POLL_MIN_MS;
    for (;;) {
        json_decref(st->endpoints);
        int rc = dm__runtime_status(rt, id, st, err);
        const bool last = dm__clock_mono_ms() >= deadline;
        if (rc != 0 && (rc != DM_EUNAVAIL || last))
            return rc;
        if (rc == 0 && done(st, last))
            return 0;
        if (rc == 0 && st->phase == DM_RUNTIME_FAILED)
            return dm_err_set(err, DM_ECONFLICT, "%s", st->message[0] ? st->message : "the workload failed");
        if (last) /* an outcome, not an outage: recorded as ERROR, not retried */
            return dm_err_set(err, DM_ECONFLICT, "not ready after %d s%s%s", wait_ms / 1000,
                              st->message[0] ? ": " : "", st->message);
        nap(pause);
        pause = pause * 2 > POLL_MAX_MS ? POLL_MAX_MS : pause * 2;
    }
}

static bool is_ready(const dm_runtime_status_t *st, bool last)
{
    (void)last;
    return st->phase == DM_RUNTIME_RUNNING && st->ready;
}

/* Running, and ready unless time is up (a slow health probe after a
 * start is reported by the health checks, not as a failed start). */
static bool is_running(const dm_runtime_status_t *st, bool last)
{
    return st->phase == DM_RUNTIME_RUNNING && (st->ready || last);
}

static bool is_stopped(const dm_runtime_status_t *st, bool last)
{
    (void)last;
    return st->phase == DM_RUNTIME_STOPPED;
}

static bool is_absent(const dm_runtime_status_t *st, bool last)
{
    (void)last;
    return st->phase == DM_RUNTIME_ABSENT;
}

/* ---- provision and update ---- */

/* Save stored (new secrets) in its own statement: a retry reuses them. */
static int save_stored(dm_db *db, const char *id, const json_t *stored, dm_err_t *err)
{
    char *text = json_dumps(stored, JSON_COMPACT);
    if (text == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    const char *p[] = { id, text };
    int rc = dm__db_run(db, "ij_stored", "UPDATE instances SET stored = $2::jsonb WHERE id = $1::uuid", 2, p, err);
    free(text);
    return rc;
}

/* The urls of presentation() with endpoints passed as stored.endpoints;
 * new object ({} when the plugin has none or fails). */
static json_t *urls_of(const dm_plugin *svc, dm_service_request_t *req, const json_t *stored, json_t *endpoints)
{
    json_t *urls = NULL;
    json_t *with = json_deep_copy(stored);
    if (with != NULL) {
        /* _new with a reference of our own: a runtime that reports no
         * endpoints gets an empty object, which must not leak. */
        json_object_set_new(with, "endpoints", endpoints != NULL ? json_incref(endpoints) : json_object());
        req->stored = with;
        json_t *pres = NULL;
        dm_err_t e = { 0, "" };
        int rc = dm__service_presentation(svc, req, &pres, &e);
        if (rc == 0 && json_is_object(json_object_get(pres, "urls")))
            urls = json_incref(json_object_get(pres, "urls"));
        else if (rc != 0 && rc != DM_EUNSUPPORTED) /* a plugin without presentation shows no urls */
            DM_LOG_W("presentation of %s: %s", req->instance_id, e.msg);
        json_decref(pres);
    }
    json_decref(with);
    return urls != NULL ? urls : json_object();
}

/* RUNNING: record unit, runtime, endpoints and urls with the transition. */
static int record_running(dm_db *db, const inst *in, const dm_plugin *rt, const dm_runtime_status_t *st,
                          const json_t *urls, const json_t *supervision, const char *reason, dm_err_t *err)
{
    char *u = json_dumps(urls, JSON_COMPACT);
    json_t *endpoints = st->endpoints != NULL ? json_incref(st->endpoints) : json_object();
    char *ep = endpoints != NULL ? json_dumps(endpoints, JSON_COMPACT) : NULL;
    json_decref(endpoints);
    char *sup = json_dumps(supervision, JSON_COMPACT);
    int rc = 0;
    if (u == NULL || ep == NULL || sup == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc == 0)
        rc = dm__db_begin(db, err);
    if (rc == 0) {
        const char *p[] = { in->id, st->unit_name[0] ? st->unit_name : NULL, rt->name, ep, u, sup };
        rc = dm__db_run(db, "ij_running",
                        "UPDATE instances SET unit_name = $2, runtime = $3, endpoints = $4::jsonb, "
                        "  urls = $5::jsonb, supervision = $6::jsonb, updated_at = now() WHERE id = $1::uuid",
                        6, p, err);
        if (rc == 0)
            rc = dm__instance_transition(db, in->id, "running", "system", reason, NULL, err);
        rc = dm__db_end(db, rc, err);
    }
    free(u);
    free(ep);
    free(sup);
    return rc;
}

/* What the health checks and the reconciler watch, from the spec (see
 * migrations/0008_supervision.sql): the restart policy, and the probe when
 * it is http or tcp on a published port (the host can reach no other).
 * New object, or NULL when out of memory. */
static json_t *supervision_of(const json_t *spec)
{
    const char *restart = json_string_value(json_object_get(spec, "restart"));
    json_t *sup = json_pack("{s:s}", "restart", restart != NULL && strcmp(restart, "on-failure") == 0
                                                   ? "on-failure" : "never");
    const json_t *h = json_object_get(spec, "health");
    const char *type = json_string_value(json_object_get(h, "type"));
    if (sup == NULL || type == NULL || (strcmp(type, "http") != 0 && strcmp(type, "tcp") != 0))
        return sup;
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (name == NULL || !json_is_true(json_object_get(p, "public")) ||
            json_integer_value(json_object_get(p, "port")) != json_integer_value(json_object_get(h, "port")))
            continue;
        const char *path = json_string_value(json_object_get(h, "path"));
        json_t *probe = json_pack("{s:s,s:s}", "type", type, "port", name);
        if (probe != NULL && strcmp(type, "http") == 0)
            json_object_set_new(probe, "path", json_string(path != NULL ? path : "/"));
        json_object_set_new(sup, "probe", probe);
        break;
    }
    return sup;
}

/* The instance was terminated while its workload was being created: the
 * terminate job may have run before the container existed, so remove it
 * (terminate is idempotent). 0 or the SQL codes. */
static int undo_if_terminating(dm_db *db, const dm_plugin *rt, const char *id, dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "ij_status", "SELECT status FROM instances WHERE id = $1::uuid", 1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    const bool gone = PQntuples(r) == 0 || strncmp(PQgetvalue(r, 0, 0), "TERMINAT", 8) == 0;
    PQclear(r);
    if (gone) {
        dm_err_t e = { 0, "" };
        if (dm__runtime_terminate(rt, id, &e) != 0)
            DM_LOG_W("terminating %s after a late provision: %s", id, e.msg);
    }
    return 0;
}

/* Build the workload, save its secrets, run it and wait until it is ready;
 * the instance is already PROVISIONING (or RESTARTING for an update). */
static int deploy(dm_db *db, const dm_job *job, const dm_instance_jobs_ctx *ctx, inst *in, dm_err_t *err)
{
    const dm_plugin *rt, *svc;
    int rc = 0;
    if (plugins_for(db, job, ctx, true, in, &rt, &svc, &rc, err))
        return rc;
    dm_service_request_t req = { in->slug, in->sub_id, in->id, in->plan,
                                 json_object_size(in->stored) > 0 ? in->stored : NULL, NULL };
    json_t *spec = NULL;
    dm_err_t e = { 0, "" };
    rc = dm__service_workload(svc, &req, &spec, &e);
    if (rc != 0 || !json_is_object(spec)) {
        json_decref(spec);
        char msg[400];
        snprintf(msg, sizeof msg, "service %s: %s", in->slug, e.msg[0] ? e.msg : "no workload");
        return fail(db, in->id, job->kind, msg, err);
    }
    json_t *stored = json_object_get(spec, "stored");
    if (json_is_object(stored)) {
        /* The plugin returns what it was given plus what it generated. */
        json_decref(in->stored);
        in->stored = json_deep_copy(stored);
        json_object_del(spec, "stored"); /* the runtime needs only the env it rendered */
        if (in->stored == NULL) {
            json_decref(spec);
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
        if ((rc = save_stored(db, in->id, in->stored, err)) != 0) {
            json_decref(spec);
            return rc;
        }
    }
    json_t *sup = supervision_of(spec);
    if (sup == NULL) {
        json_decref(spec);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    /* The call layer labels the spec with this installation (owner) and
     * the subscriber (user), shaped for the runtime's ABI. */
    dm_runtime_status_t st;
    rc = dm__runtime_provision(rt, in->id, spec, in->owner, in->user, &st, &e);
    json_decref(spec);
    if (rc == 0)
        rc = wait_for(rt, in->id, is_ready, ctx->provision_wait_ms, &st, &e);
    if (rc == 0) {
        json_t *urls = urls_of(svc, &req, in->stored, st.endpoints);
        rc = record_running(db, in, rt, &st, urls, sup, job->kind, err);
        json_decref(urls);
        if (rc == DM_ECONFLICT || rc == DM_ENOTFOUND) /* terminated meanwhile */
            rc = undo_if_terminating(db, rt, in->id, err);
    } else if (rc == DM_ECONFLICT) {
        rc = fail(db, in->id, job->kind, e.msg, err);
    } else {
        rc = runtime_failed(db, job, in->id, rc, &e, err);
    }
    json_decref(st.endpoints);
    json_decref(sup);
    return rc;
}

/* The instance a job names, loaded; *found false (and 0) when it is gone,
 * which ends the job quietly: nothing is left to do for it. */
static int open_job(dm_db *db, const dm_job *job, inst *in, bool *found, dm_err_t *err)
{
    memset(in, 0, sizeof *in);
    *found = false;
    int rc = dm__instance_job_parse(job, &in->args, err);
    if (rc == 0) {
        memcpy(in->id, in->args.instance_id, sizeof in->id);
        rc = load(db, in, err);
    }
    if (rc == DM_ENOTFOUND) {
        DM_LOG_W("%s: %s", job->kind, err != NULL ? err->msg : "no such instance");
        return 0;
    }
    *found = rc == 0;
    return rc;
}

int dm__instance_job_provision(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    inst in;
    bool found = false;
    int rc = open_job(db, job, &in, &found, err);
    if (rc == 0 && found && (strcmp(in.status, "PENDING") == 0 || strcmp(in.status, "PROVISIONING") == 0)) {
        /* PROVISIONING: a retried job carries on where the last one was. */
        if (strcmp(in.status, "PENDING") == 0)
            rc = step(db, in.id, "provision", in.args.reason, err);
        if (rc == 0)
            rc = deploy(db, job, ctx, &in, err);
        else if (rc == DM_ECONFLICT)
            rc = 0;
    }
    inst_clear(&in);
    return rc;
}

int dm__instance_job_update(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    inst in;
    bool found = false;
    int rc = open_job(db, job, &in, &found, err);
    if (rc == 0 && found) {
        /* A running (or failed) workload is recreated with the new plan's
         * limits, through RESTARTING; a pending one gets them from its own
         * provision, a stopped one from its next provision. */
        bool go = strcmp(in.status, "RESTARTING") == 0;
        if (!go && dm__instance_next(in.status, "restart", NULL) == 0) {
            rc = step(db, in.id, "restart", in.args.reason, err);
            go = rc == 0;
            if (rc == DM_ECONFLICT)
                rc = 0;
        }
        if (go)
            rc = deploy(db, job, ctx, &in, err);
    }
    inst_clear(&in);
    return rc;
}

/* ---- stop, start, restart, terminate ---- */

typedef struct lifeop {
    dm_instance_job_kind kind; /* the job that does it */
    const char *req;     /* the request transition ("stop") */
    const char *mid;     /* the status it leads to ("STOPPING") */
    const char *done;    /* the outcome transition ("stopped") */
    done_fn     reached; /* when the runtime is there */
} lifeop;

static int call_op(const dm_plugin *rt, const char *req, const char *id, dm_err_t *e)
{
    if (strcmp(req, "stop") == 0)
        return dm__runtime_stop(rt, id, e);
    if (strcmp(req, "start") == 0)
        return dm__runtime_start(rt, id, e);
    if (strcmp(req, "restart") == 0)
        return dm__runtime_restart(rt, id, e);
    int rc = dm__runtime_terminate(rt, id, e);
    return rc == DM_ENOTFOUND ? 0 : rc; /* gone already: done */
}

/* Record the outcome; terminated also forgets where the workload was, and
 * running (after a start or restart) refreshes the unit name and endpoints,
 * which a backend may change (a new pod, a new host port). */
static int record_done(dm_db *db, const char *id, const lifeop *op, const dm_runtime_status_t *st,
                       const char *reason, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    if (strcmp(op->done, "running") == 0 && st->unit_name[0] != '\0') {
        char *ep = st->endpoints != NULL ? json_dumps(st->endpoints, JSON_COMPACT) : NULL;
        const char *p[] = { id, st->unit_name, ep };
        rc = dm__db_run(db, "ij_unit",
                        "UPDATE instances SET unit_name = $2, endpoints = COALESCE($3::jsonb, endpoints) "
                        "WHERE id = $1::uuid",
                        3, p, err);
        free(ep);
    } else if (strcmp(op->done, "terminated") == 0) {
        const char *p[] = { id };
        rc = dm__db_run(db, "ij_gone",
                        "UPDATE instances SET urls = '{}'::jsonb, endpoints = '{}'::jsonb, updated_at = now() "
                        "WHERE id = $1::uuid",
                        1, p, err);
    }
    if (rc == 0)
        rc = dm__instance_transition(db, id, op->done, "system", reason, NULL, err);
    rc = dm__db_end(db, rc, err);
    return rc == DM_ECONFLICT || rc == DM_ENOTFOUND ? 0 : rc;
}

/* A status some other job is still moving (it ends in RUNNING, STOPPED or
 * ERROR, from which a stop or start is possible again). */
static bool busy(const char *status)
{
    static const char *const moving[] = { "PENDING", "PROVISIONING", "STARTING", "RESTARTING", "STOPPING" };
    for (size_t i = 0; i < sizeof moving / sizeof moving[0]; i++)
        if (strcmp(status, moving[i]) == 0)
            return true;
    return false;
}

/* Queue job again in DEFER_MS, counting in its payload how often; after
 * DEFER_MAX times it is dropped with a warning. A system stop (a
 * suspension) or start (a renewal) that finds the instance busy must not
 * be lost, nor overtaken by the move in progress. 0 or the SQL codes. */
#define DEFER_MS  5000
#define DEFER_MAX 60

static int defer(dm_db *db, const dm_job *job, const lifeop *op, const dm_instance_job_args *a,
                 const char *status, dm_err_t *err)
{
    if (a->deferred >= DEFER_MAX) {
        DM_LOG_W("%s: dropped after %d deferrals; the instance is still %s", job->kind, DEFER_MAX, status);
        return 0;
    }
    dm_job_opts o = { .delay_ms = DEFER_MS };
    return dm__instance_job_enqueue(db, op->kind, a->instance_id, a->subscription_id, a->reason, a->deferred + 1,
                                    &o, err);
}

static int lifecycle(dm_db *db, const dm_job *job, const dm_instance_jobs_ctx *ctx, const lifeop *op,
                     dm_err_t *err)
{
    inst in;
    bool found = false;
    int rc = open_job(db, job, &in, &found, err);
    inst_clear(&in); /* the status, id and runtime are all a lifecycle step needs */
    if (rc != 0 || !found)
        return rc;
    /* Users' requests arrive in the intermediate status; the system's
     * (a subscription ended, a renewal) move the instance here first. */
    if (strcmp(in.status, op->mid) != 0) {
        if (dm__instance_next(in.status, op->req, NULL) != 0)
            /* Busy: wait for the move in progress. Otherwise already
             * past it (stopped, running), or no longer wanted. */
            return busy(in.status) && strcmp(op->req, "restart") != 0 ? defer(db, job, op, &in.args, in.status, err)
                                                                      : 0;
        rc = step(db, in.id, op->req, in.args.reason, err);
        if (rc != 0)
            return rc == DM_ECONFLICT ? 0 : rc;
    }
    const dm_plugin *rt, *svc;
    if (plugins_for(db, job, ctx, false, &in, &rt, &svc, &rc, err))
        return rc;
    dm_err_t e = { 0, "" };
    dm_runtime_status_t st;
    memset(&st, 0, sizeof st);
    rc = call_op(rt, op->req, in.id, &e);
    if (rc == 0)
        rc = wait_for(rt, in.id, op->reached, DM_INSTANCE_LIFECYCLE_WAIT_MS, &st, &e);
    if (rc == 0)
        rc = record_done(db, in.id, op, &st, in.args.reason, err);
    else if (rc == DM_ECONFLICT || rc == DM_ENOTFOUND)
        rc = fail(db, in.id, job->kind, e.msg, err);
    else
        rc = runtime_failed(db, job, in.id, rc, &e, err);
    json_decref(st.endpoints);
    return rc;
}

int dm__instance_job_stop(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    static const lifeop op = { DM_INSTANCE_JOB_STOP, "stop", "STOPPING", "stopped", is_stopped };
    return lifecycle(db, job, ctx, &op, err);
}

int dm__instance_job_start(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    static const lifeop op = { DM_INSTANCE_JOB_START, "start", "STARTING", "running", is_running };
    return lifecycle(db, job, ctx, &op, err);
}

int dm__instance_job_restart(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    static const lifeop op = { DM_INSTANCE_JOB_RESTART, "restart", "RESTARTING", "running", is_running };
    return lifecycle(db, job, ctx, &op, err);
}

int dm__instance_job_terminate(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    static const lifeop op = { DM_INSTANCE_JOB_TERMINATE, "terminate", "TERMINATING", "terminated", is_absent };
    return lifecycle(db, job, ctx, &op, err);
}

int dm__instance_jobs_register(dm_jobs_runner *r, dm_instance_jobs_ctx *ctx, dm_err_t *err)
{
    static const struct {
        dm_instance_job_kind kind;
        dm_job_fn            fn;
    } kinds[] = {
        { DM_INSTANCE_JOB_PROVISION, dm__instance_job_provision }, { DM_INSTANCE_JOB_UPDATE, dm__instance_job_update },
        { DM_INSTANCE_JOB_STOP, dm__instance_job_stop },           { DM_INSTANCE_JOB_START, dm__instance_job_start },
        { DM_INSTANCE_JOB_RESTART, dm__instance_job_restart },     { DM_INSTANCE_JOB_TERMINATE, dm__instance_job_terminate },
    };
    if (dm__plugins_find(ctx->plugins, DM_PLUGIN_RUNTIME, NULL) == NULL) {
        /* Nothing could run them: the jobs wait, queued, for a node that
         * has a runtime (and the instances stay PENDING, as before). */
        DM_LOG_W("no runtime plugin enabled: instance jobs are not run on this node");
        return 0;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        /* Waits are bounded well below this; past it the lease lapses and
         * another node retries (the handlers are idempotent). */
        dm_job_kind k = { dm__instance_job_kind_name(kinds[i].kind), kinds[i].fn, ctx, 2000, 60000, DM_INSTANCE_JOB_TIMEOUT_S };
        int rc = dm__jobs_register(r, &k, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

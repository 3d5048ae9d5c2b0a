/*
 * call_runtime.c — runtime ops through the call layer (call.h): each on a
 * call thread within plugins.runtimeTimeoutMs, from a record that owns
 * copies of what the plugin reads and what it returns; a followed log on
 * the caller's own thread. The ABI shim of provision lives here: the spec
 * a runtime gets is shaped for the minor it was built with.
 */
#include "plugin/call_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

/* A bounded runtime call and its own copies. */
typedef struct rt_call {
    dm_call c;   /* first; its key is the instance id, inventory's `what` or workloads' owner */
    char   *ns;  /* inventory's namespace (may be NULL) */
    json_t *spec; /* provision: the plugin's copy of the spec */
    dm_runtime_log_opts_t        opts;
    const dm_runtime_log_sink_t *user; /* logs: the caller's sink, used only while it waits */
    dm_runtime_log_sink_t        sink; /* what the plugin gets: forwards to user */
    union {
        dm_runtime_status_t status;
        dm_runtime_usage_t  usage;
        json_t             *list;
    } out;
} rt_call;

static int rt_run(dm_call *c)
{
    rt_call *k = (rt_call *)c;
    const dm_runtime_ops_t *o = dm__plugin_runtime_ops(c->p);
    void *st = c->p->state;
    switch (c->op) {
    case DM_OP_RUNTIME_PROVISION: return o->provision(st, c->key, k->spec, &k->out.status, &c->err);
    case DM_OP_RUNTIME_STATUS:    return o->status(st, c->key, &k->out.status, &c->err);
    case DM_OP_RUNTIME_STOP:      return o->stop(st, c->key, &c->err);
    case DM_OP_RUNTIME_START:     return o->start(st, c->key, &c->err);
    case DM_OP_RUNTIME_RESTART:   return o->restart(st, c->key, &c->err);
    case DM_OP_RUNTIME_TERMINATE: return o->terminate(st, c->key, &c->err);
    case DM_OP_RUNTIME_LOGS:      return o->logs(st, c->key, &k->opts, &k->sink, &c->err);
    case DM_OP_RUNTIME_USAGE:     return o->usage(st, c->key, &k->out.usage, &c->err);
    case DM_OP_RUNTIME_INVENTORY: return o->inventory(st, c->key, k->ns, &k->out.list, &c->err);
    case DM_OP_RUNTIME_WORKLOADS: return o->workloads(st, c->key, &k->out.list, &c->err);
    default:                      return DM_EINVAL;
    }
}

/* Frees the record with whatever JSON it still holds. */
static void rt_release(dm_call *c)
{
    rt_call *k = (rt_call *)c;
    if (c->op == DM_OP_RUNTIME_PROVISION || c->op == DM_OP_RUNTIME_STATUS)
        json_decref(k->out.status.endpoints);
    else if (c->op == DM_OP_RUNTIME_INVENTORY || c->op == DM_OP_RUNTIME_WORKLOADS)
        json_decref(k->out.list);
    json_decref(k->spec);
    free(k->ns);
    dm__call_free(c);
}

/* A record for op on p about id (copied) into *out. 0, or DM_EUNSUPPORTED
 * (p cannot do op) / DM_ENOMEM with nothing made. */
static int rt_new(const dm_plugin *p, dm_call_op op, const char *id, rt_call **out, dm_err_t *err)
{
    void *k = NULL;
    int rc = dm__call_new(p, op, id, sizeof(rt_call), rt_run, rt_release, &k, err);
    *out = k;
    return rc;
}

/* Run an op whose only output is its code. */
static int rt_simple(const dm_plugin *p, dm_call_op op, const char *id, dm_err_t *err)
{
    rt_call *k;
    int rc = rt_new(p, op, id, &k, err);
    if (rc == 0 && dm__call_run(&k->c, &rc, err))
        rt_release(&k->c);
    return rc;
}

/* A status as the caller gets it: text terminated; on success the
 * endpoints move to out, else they go with the record. */
static int take_status(rt_call *k, int rc, dm_runtime_status_t *out)
{
    dm_runtime_status_t *st = &k->out.status;
    DM_CALL_TERMINATE(st->unit_name);
    DM_CALL_TERMINATE(st->message);
    *out = *st;
    if (rc == 0)
        st->endpoints = NULL;
    else
        out->endpoints = NULL;
    rt_release(&k->c);
    return rc;
}

/* The ABI shim: the spec as a runtime of p's minor expects it. "owner"
 * (1.4) labels what the runtime creates, "user" (1.5) names the subscriber
 * it runs for; "restart" (1.4) is the host's business. A runtime older
 * than a key never sees it: it may refuse a key it does not know. New
 * object, or NULL when out of memory. */
static json_t *spec_for(const dm_plugin *p, const json_t *spec, const char *owner, const char *user)
{
    json_t *copy = json_deep_copy(spec);
    if (copy == NULL)
        return NULL;
    int rc = 0;
    if (p->abi_minor < 4)
        json_object_del(copy, "restart");
    else if (owner != NULL)
        rc = json_object_set_new(copy, "owner", json_string(owner));
    if (rc == 0 && p->abi_minor >= 5 && user != NULL)
        rc = json_object_set_new(copy, "user", json_string(user));
    if (rc != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

int dm__runtime_provision(const dm_plugin *p, const char *instance_id, const json_t *spec, const char *owner,
                          const char *user, dm_runtime_status_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    rt_call *k;
    int rc = rt_new(p, DM_OP_RUNTIME_PROVISION, instance_id, &k, err);
    if (rc != 0)
        return rc;
    k->spec = json_is_object(spec) ? spec_for(p, spec, owner, user) : NULL;
    if (k->spec == NULL) {
        rt_release(&k->c);
        return json_is_object(spec) ? dm_err_set(err, DM_ENOMEM, "out of memory")
                                    : dm_err_set(err, DM_EINVAL, "provision: the spec is not an object");
    }
    if (!dm__call_run(&k->c, &rc, err))
        return rc;
    return take_status(k, rc, out);
}

int dm__runtime_status(const dm_plugin *p, const char *instance_id, dm_runtime_status_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    rt_call *k;
    int rc = rt_new(p, DM_OP_RUNTIME_STATUS, instance_id, &k, err);
    if (rc != 0)
        return rc;
    if (!dm__call_run(&k->c, &rc, err))
        return rc;
    return take_status(k, rc, out);
}

int dm__runtime_stop(const dm_plugin *p, const char *instance_id, dm_err_t *err)
{
    return rt_simple(p, DM_OP_RUNTIME_STOP, instance_id, err);
}

int dm__runtime_start(const dm_plugin *p, const char *instance_id, dm_err_t *err)
{
    return rt_simple(p, DM_OP_RUNTIME_START, instance_id, err);
}

int dm__runtime_restart(const dm_plugin *p, const char *instance_id, dm_err_t *err)
{
    return rt_simple(p, DM_OP_RUNTIME_RESTART, instance_id, err);
}

int dm__runtime_terminate(const dm_plugin *p, const char *instance_id, dm_err_t *err)
{
    return rt_simple(p, DM_OP_RUNTIME_TERMINATE, instance_id, err);
}

/* The plugin's sink during a bounded read: the caller's, for as long as
 * the caller waits; then "stop". */
static int fwd_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    rt_call *k = opaque;
    int stop = 1;
    if (dm__call_lock_live(&k->c))
        stop = k->user->line(k->user->opaque, line, len, stream, ts_ms);
    dm__call_unlock(&k->c);
    return stop;
}

static bool fwd_cancelled(void *opaque)
{
    rt_call *k = opaque;
    bool cancelled = true;
    if (dm__call_lock_live(&k->c))
        cancelled = k->user->cancelled != NULL && k->user->cancelled(k->user->opaque);
    dm__call_unlock(&k->c);
    return cancelled;
}

/* A followed log streams until its sink stops it, on the stream's own
 * thread: no bound, but the same checks, error copy and figures. */
static int follow(const dm_plugin *p, const char *instance_id, const dm_runtime_log_opts_t *opts,
                  const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    int rc = dm__plugin_runtime_ops(p)->logs(p->state, instance_id, opts, sink, &e);
    return dm__call_inline_done(p, DM_OP_RUNTIME_LOGS, t0, rc, &e, err);
}

int dm__runtime_logs(const dm_plugin *p, const char *instance_id, const dm_runtime_log_opts_t *opts,
                     const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    if (opts->follow) {
        int rc = dm__call_check(p, DM_OP_RUNTIME_LOGS, err);
        return rc != 0 ? rc : follow(p, instance_id, opts, sink, err);
    }
    rt_call *k;
    int rc = rt_new(p, DM_OP_RUNTIME_LOGS, instance_id, &k, err);
    if (rc != 0)
        return rc;
    k->opts = *opts;
    k->user = sink;
    k->sink = (dm_runtime_log_sink_t){ .opaque = k, .line = fwd_line, .cancelled = fwd_cancelled };
    if (dm__call_run(&k->c, &rc, err))
        rt_release(&k->c);
    return rc;
}

int dm__runtime_usage(const dm_plugin *p, const char *instance_id, dm_runtime_usage_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    rt_call *k;
    int rc = rt_new(p, DM_OP_RUNTIME_USAGE, instance_id, &k, err);
    if (rc != 0 || !dm__call_run(&k->c, &rc, err))
        return rc;
    if (rc == 0)
        *out = k->out.usage;
    rt_release(&k->c);
    return rc;
}

/* An op that hands back one JSON value. */
static int rt_list(const dm_plugin *p, dm_call_op op, const char *arg, const char *ns, json_t **out,
                   dm_err_t *err)
{
    *out = NULL;
    rt_call *k;
    int rc = rt_new(p, op, arg, &k, err);
    if (rc != 0)
        return rc;
    bool ok = true;
    k->ns = dm__call_dup(ns, &ok);
    if (!ok) {
        rt_release(&k->c);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    if (!dm__call_run(&k->c, &rc, err))
        return rc;
    if (rc == 0) {
        *out = k->out.list;
        k->out.list = NULL;
    }
    rt_release(&k->c);
    return rc;
}

int dm__runtime_inventory(const dm_plugin *p, const char *what, const char *ns, json_t **out, dm_err_t *err)
{
    return rt_list(p, DM_OP_RUNTIME_INVENTORY, what, ns, out, err);
}

int dm__runtime_workloads(const dm_plugin *p, const char *owner, json_t **out, dm_err_t *err)
{
    return rt_list(p, DM_OP_RUNTIME_WORKLOADS, owner, NULL, out, err);
}

/*
 * call.c — the call layer's common part (call.h): the table of every op,
 * the kind and op check, the copy of a plugin's error, the bounds, the
 * /metrics text, and the ops that run on the caller's thread (service and
 * auth). Payment ops are call_payment.c, runtime ops call_runtime.c, the
 * call threads call_pool.c.
 */
#include "plugin/call_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/kinds.h"
#include "util/clock.h"

#define OP(kind, type, field) { kind, #field, offsetof(type, field), false, 0 }
/* A payment op that ABI 1.5 also offers through a slot taking a
 * dm_payment_order_t (payment.h). */
#define OP_ORDER(field, slot) \
    { DM_PLUGIN_PAYMENT, #field, offsetof(dm_payment_ops_t, field), true, offsetof(dm_payment_ops_t, slot) }

/* The first minor whose plugins are called through those slots. */
#define ORDER_SLOTS_MINOR 5

/* Which ops are bounded is each wrapper's business (call_payment.c,
 * call_runtime.c); this table names and finds them. */
static const struct op_desc {
    dm_plugin_kind_t kind;
    const char      *name;   /* the SDK field */
    size_t           offset; /* in the kind's ops table */
    bool             has_order_slot;
    size_t           order_offset; /* that slot's, when has_order_slot */
} ops[DM_OP_COUNT] = {
    [DM_OP_PAYMENT_METHODS] = OP(DM_PLUGIN_PAYMENT, dm_payment_ops_t, methods),
    [DM_OP_PAYMENT_CREATE] = OP(DM_PLUGIN_PAYMENT, dm_payment_ops_t, create),
    [DM_OP_PAYMENT_VERIFY] = OP(DM_PLUGIN_PAYMENT, dm_payment_ops_t, verify_notification),
    [DM_OP_PAYMENT_QUERY] = OP_ORDER(query_status, query_order),
    [DM_OP_PAYMENT_CANCEL] = OP_ORDER(cancel, cancel_order),
    [DM_OP_PAYMENT_REFUND] = OP_ORDER(refund, refund_order),
    [DM_OP_RUNTIME_PROVISION] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, provision),
    [DM_OP_RUNTIME_STATUS] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, status),
    [DM_OP_RUNTIME_STOP] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, stop),
    [DM_OP_RUNTIME_START] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, start),
    [DM_OP_RUNTIME_RESTART] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, restart),
    [DM_OP_RUNTIME_TERMINATE] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, terminate),
    [DM_OP_RUNTIME_LOGS] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, logs),
    [DM_OP_RUNTIME_USAGE] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, usage),
    [DM_OP_RUNTIME_INVENTORY] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, inventory),
    [DM_OP_RUNTIME_WORKLOADS] = OP(DM_PLUGIN_RUNTIME, dm_runtime_ops_t, workloads),
    [DM_OP_SERVICE_CATALOG] = OP(DM_PLUGIN_SERVICE, dm_service_ops_t, catalog),
    [DM_OP_SERVICE_WORKLOAD] = OP(DM_PLUGIN_SERVICE, dm_service_ops_t, workload),
    [DM_OP_SERVICE_PRESENTATION] = OP(DM_PLUGIN_SERVICE, dm_service_ops_t, presentation),
    [DM_OP_AUTH_AUTHENTICATE] = OP(DM_PLUGIN_AUTH, dm_auth_ops_t, authenticate),
    [DM_OP_AUTH_HASH_SECRET] = OP(DM_PLUGIN_AUTH, dm_auth_ops_t, hash_secret),
    [DM_OP_AUTH_DESCRIBE] = OP(DM_PLUGIN_AUTH, dm_auth_ops_t, describe),
    [DM_OP_AUTH_NORMALIZE] = OP(DM_PLUGIN_AUTH, dm_auth_ops_t, normalize_identifier),
    [DM_OP_AUTH_VALIDATE] = OP(DM_PLUGIN_AUTH, dm_auth_ops_t, validate_registration),
};

/* The bounds, set at start; read by callers on any thread afterwards. */
static int payment_timeout_ms = 30000, runtime_timeout_ms = 120000;

const char *dm__call_op_name(dm_call_op op)
{
    return op < DM_OP_COUNT ? ops[op].name : "unknown";
}

/* Whether p's (zero-extended) table has a non-NULL op at offset. */
static bool table_has(const dm_plugin *p, size_t offset)
{
    return dm__plugin_table_has(p->ops, offset);
}

/* The ABI 1.5 shim: the one place that picks a payment op's slot by the
 * plugin's minor. An older plugin's table may hold anything past what its
 * ABI defined only if it lied about its size, so its new slots are never
 * looked at. */
bool dm__call_by_order(const dm_plugin *p, dm_call_op op)
{
    const struct op_desc *d = &ops[op];
    return d->has_order_slot && p->abi_minor >= ORDER_SLOTS_MINOR && table_has(p, d->order_offset);
}

int dm__call_check(const dm_plugin *p, dm_call_op op, dm_err_t *err)
{
    const struct op_desc *d = &ops[op];
    if (p == NULL || p->kind != d->kind || p->ops == NULL)
        return dm_err_set(err, DM_EUNSUPPORTED, "no %s plugin to call %s", dm__plugin_kind_name(d->kind), d->name);
    if (!table_has(p, d->offset) && !dm__call_by_order(p, op))
        return dm_err_set(err, DM_EUNSUPPORTED, "%s: has no %s op", p->name, d->name);
    return 0;
}

bool dm__plugin_has_op(const dm_plugin *p, const char *op)
{
    for (size_t i = 0; op != NULL && i < DM_OP_COUNT; i++) {
        if (strcmp(ops[i].name, op) == 0 && dm__call_check(p, (dm_call_op)i, NULL) == 0)
            return true;
    }
    return false;
}

int dm__call_settle(const dm_plugin *p, dm_call_op op, int rc, dm_err_t *perr, dm_err_t *err)
{
    if (rc == 0)
        return 0;
    if (rc > 0)
        rc = DM_EIO; /* not a DM_E* code: the plugin failed all the same */
    DM_CALL_TERMINATE(perr->msg);
    if (perr->msg[0] != '\0')
        return dm_err_set(err, rc, "%s", perr->msg);
    return dm_err_set(err, rc, "%s: %s failed (code %d)", p->name, ops[op].name, rc);
}

int dm__call_inline_done(const dm_plugin *p, dm_call_op op, uint64_t start_ns, int rc, dm_err_t *perr,
                         dm_err_t *err)
{
    dm__call_metrics_observe(p->name, op, dm__clock_mono_ns() - start_ns);
    return dm__call_settle(p, op, rc, perr, err);
}

int dm__call_inline_json(const dm_plugin *p, dm_call_op op, uint64_t start_ns, int rc, dm_err_t *perr,
                         json_t **out, dm_err_t *err)
{
    rc = dm__call_inline_done(p, op, start_ns, rc, perr, err);
    if (rc != 0) { /* a value the plugin set before failing is not the caller's */
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int dm__call_timeout_ms(dm_call_op op)
{
    return ops[op].kind == DM_PLUGIN_PAYMENT ? payment_timeout_ms : runtime_timeout_ms;
}

bool dm__call_run(dm_call *c, int *rc, dm_err_t *err)
{
    int r = dm__call_bounded(c, dm__call_timeout_ms(c->op), err);
    if (r == DM_ETIMEDOUT) {
        *rc = r;
        return false;
    }
    if (r != 0) {
        *rc = r;
        c->release(c);
        return false;
    }
    *rc = dm__call_settle(c->p, c->op, c->rc, &c->err, err);
    return true;
}

int dm__call_new(const dm_plugin *p, dm_call_op op, const char *key, size_t size, int (*run)(dm_call *c),
                 void (*release)(dm_call *c), void **out, dm_err_t *err)
{
    *out = NULL;
    int rc = dm__call_check(p, op, err);
    if (rc != 0)
        return rc;
    dm_call *c = calloc(1, size);
    bool ok = c != NULL;
    if (ok)
        c->key = dm__call_dup(key != NULL ? key : "", &ok);
    if (!ok) {
        free(c);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    c->p = p;
    c->op = op;
    c->run = run;
    c->release = release;
    *out = c;
    return 0;
}

void dm__call_free(dm_call *c)
{
    free(c->key);
    free(c);
}

char *dm__call_dup(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        *ok = false;
    return copy;
}

int dm__plugin_calls_start(const dm_plugin_calls_cfg *cfg, dm_err_t *err)
{
    if (cfg->payment_timeout_ms < 1 || cfg->runtime_timeout_ms < 1 || cfg->max_threads < 1)
        return dm_err_set(err, DM_EINVAL, "plugin calls: timeouts and threads must be at least 1");
    int rc = dm__call_pool_start(cfg->max_threads, err);
    if (rc == 0) {
        payment_timeout_ms = cfg->payment_timeout_ms;
        runtime_timeout_ms = cfg->runtime_timeout_ms;
    }
    return rc;
}

int dm__plugin_calls_render(dm_buf *out)
{
    dm_plugin_calls_stats st;
    dm__plugin_calls_stats(&st);
    int rc = dm__call_metrics_render(out);
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_plugin_call_threads Threads that run bounded plugin calls.\n"
                            "# TYPE dermaga_plugin_call_threads gauge\n"
                            "dermaga_plugin_call_threads %d\n"
                            "# HELP dermaga_plugin_calls_running Plugin calls inside a plugin on a call thread.\n"
                            "# TYPE dermaga_plugin_calls_running gauge\n"
                            "dermaga_plugin_calls_running %d\n"
                            "# HELP dermaga_plugin_calls_queued Plugin calls waiting for a call thread.\n"
                            "# TYPE dermaga_plugin_calls_queued gauge\n"
                            "dermaga_plugin_calls_queued %d\n"
                            "# HELP dermaga_plugin_calls_abandoned Plugin calls whose caller timed out, "
                            "not yet returned from the plugin.\n"
                            "# TYPE dermaga_plugin_calls_abandoned gauge\n"
                            "dermaga_plugin_calls_abandoned %d\n",
                            st.threads, st.running, st.queued, st.abandoned);
    return rc;
}

/* ---- service: on the caller's thread ------------------------------------- */

/* The three service ops: each hands back one JSON value. */
static int service_json(const dm_plugin *p, dm_call_op op, const dm_service_request_t *req, json_t **out,
                        dm_err_t *err)
{
    *out = NULL;
    int rc = dm__call_check(p, op, err);
    if (rc != 0)
        return rc;
    const dm_service_ops_t *o = dm__plugin_service_ops(p);
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    if (op == DM_OP_SERVICE_CATALOG)
        rc = o->catalog(p->state, out, &e);
    else if (op == DM_OP_SERVICE_WORKLOAD)
        rc = o->workload(p->state, req, out, &e);
    else
        rc = o->presentation(p->state, req, out, &e);
    return dm__call_inline_json(p, op, t0, rc, &e, out, err);
}

int dm__service_catalog(const dm_plugin *p, json_t **out, dm_err_t *err)
{
    return service_json(p, DM_OP_SERVICE_CATALOG, NULL, out, err);
}

int dm__service_workload(const dm_plugin *p, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    return service_json(p, DM_OP_SERVICE_WORKLOAD, req, out, err);
}

int dm__service_presentation(const dm_plugin *p, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    return service_json(p, DM_OP_SERVICE_PRESENTATION, req, out, err);
}

/* ---- auth: on the caller's thread (hashing is CPU work, on the hash pool) -- */

int dm__auth_authenticate(const dm_plugin *p, const dm_auth_credentials_t *creds, dm_auth_identity_t *out,
                          dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = dm__call_check(p, DM_OP_AUTH_AUTHENTICATE, err);
    if (rc != 0)
        return rc;
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    rc = dm__plugin_auth_ops(p)->authenticate(p->state, creds, out, &e);
    DM_CALL_TERMINATE(out->subject);
    DM_CALL_TERMINATE(out->email);
    DM_CALL_TERMINATE(out->name);
    return dm__call_inline_done(p, DM_OP_AUTH_AUTHENTICATE, t0, rc, &e, err);
}

/* hash_secret and normalize_identifier: text in, text into a host buffer
 * of out_len bytes, terminated whatever the plugin did. */
static int auth_text(const dm_plugin *p, dm_call_op op, const char *in, char *out, size_t out_len, dm_err_t *err)
{
    if (out_len > 0)
        out[0] = '\0';
    int rc = dm__call_check(p, op, err);
    if (rc != 0)
        return rc;
    const dm_auth_ops_t *o = dm__plugin_auth_ops(p);
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    if (op == DM_OP_AUTH_HASH_SECRET)
        rc = o->hash_secret(p->state, in, out, out_len, &e);
    else
        rc = o->normalize_identifier(p->state, in, out, out_len, &e);
    if (out_len > 0)
        out[out_len - 1] = '\0';
    return dm__call_inline_done(p, op, t0, rc, &e, err);
}

int dm__auth_hash_secret(const dm_plugin *p, const char *secret, char *out, size_t out_len, dm_err_t *err)
{
    return auth_text(p, DM_OP_AUTH_HASH_SECRET, secret, out, out_len, err);
}

int dm__auth_normalize_identifier(const dm_plugin *p, const char *in, char *out, size_t out_len, dm_err_t *err)
{
    return auth_text(p, DM_OP_AUTH_NORMALIZE, in, out, out_len, err);
}

int dm__auth_describe(const dm_plugin *p, json_t **out, dm_err_t *err)
{
    *out = NULL;
    int rc = dm__call_check(p, DM_OP_AUTH_DESCRIBE, err);
    if (rc != 0)
        return rc;
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    rc = dm__plugin_auth_ops(p)->describe(p->state, out, &e);
    return dm__call_inline_json(p, DM_OP_AUTH_DESCRIBE, t0, rc, &e, out, err);
}

int dm__auth_validate_registration(const dm_plugin *p, const dm_auth_credentials_t *creds, dm_err_t *err)
{
    int rc = dm__call_check(p, DM_OP_AUTH_VALIDATE, err);
    if (rc != 0)
        return rc;
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    rc = dm__plugin_auth_ops(p)->validate_registration(p->state, creds, &e);
    return dm__call_inline_done(p, DM_OP_AUTH_VALIDATE, t0, rc, &e, err);
}

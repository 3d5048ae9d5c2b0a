/*
 * call_payment.c — payment ops through the call layer (call.h): methods
 * and verify_notification on the caller's thread (they read config and
 * check a signature), create, query_status, cancel and refund on a call
 * thread within plugins.paymentTimeoutMs, from a record that owns copies
 * of what the plugin reads and what it returns. query_status, cancel and
 * refund reach a plugin of ABI 1.5 or later through the slot that also
 * receives the gateway's reference too (dm__call_by_order).
 */
#include "plugin/call_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

/* A bounded payment call: its own copies of the inputs and room for the
 * outputs, so that it can outlive a caller that stopped waiting. */
typedef struct pay_call {
    dm_call c; /* first; its key is the order id */
    char   *method, *customer_name, *customer_email, *finish_url, *reason, *gateway_ref;
    int64_t amount;
    dm_payment_request_t req;   /* create: points into the copies above */
    dm_payment_order_t   order; /* query, cancel, refund: likewise */
    union {
        dm_payment_created_t created;
        dm_payment_event_t   event;
    } out;
} pay_call;

static int pay_run(dm_call *c)
{
    pay_call *k = (pay_call *)c;
    const dm_payment_ops_t *o = dm__plugin_payment_ops(c->p);
    void *st = c->p->state;
    bool by_order = dm__call_by_order(c->p, c->op);
    switch (c->op) {
    case DM_OP_PAYMENT_CREATE:
        return o->create(st, &k->req, &k->out.created, &c->err);
    case DM_OP_PAYMENT_QUERY:
        return by_order ? o->query_order(st, &k->order, &k->out.event, &c->err)
                        : o->query_status(st, c->key, &k->out.event, &c->err);
    case DM_OP_PAYMENT_CANCEL:
        return by_order ? o->cancel_order(st, &k->order, &c->err) : o->cancel(st, c->key, &c->err);
    case DM_OP_PAYMENT_REFUND:
        return by_order ? o->refund_order(st, &k->order, k->amount, k->reason, &c->err)
                        : o->refund(st, c->key, k->amount, k->reason, &c->err);
    default:
        return DM_EINVAL;
    }
}

/* Frees the record with whatever JSON it still holds. */
static void pay_release(dm_call *c)
{
    pay_call *k = (pay_call *)c;
    if (c->op == DM_OP_PAYMENT_CREATE) {
        json_decref(k->out.created.raw);
        json_decref(k->out.created.instructions);
    } else if (c->op == DM_OP_PAYMENT_QUERY) {
        json_decref(k->out.event.raw);
    }
    free(k->method);
    free(k->customer_name);
    free(k->customer_email);
    free(k->finish_url);
    free(k->reason);
    free(k->gateway_ref);
    dm__call_free(c);
}

/* A record for op on p about order_id (copied) into *out. 0, or
 * DM_EUNSUPPORTED (p cannot do op) / DM_ENOMEM with nothing made. */
static int pay_new(const dm_plugin *p, dm_call_op op, const char *order_id, pay_call **out, dm_err_t *err)
{
    void *k = NULL;
    int rc = dm__call_new(p, op, order_id, sizeof(pay_call), pay_run, pay_release, &k, err);
    *out = k;
    return rc;
}

/* A record for query, cancel or refund: pay_new, and the order the ABI
 * 1.5 slots get, with a copy of gateway_ref (NULL is ""). */
static int pay_new_order(const dm_plugin *p, dm_call_op op, const char *order_id, const char *gateway_ref,
                         pay_call **out, dm_err_t *err)
{
    int rc = pay_new(p, op, order_id, out, err);
    if (rc != 0)
        return rc;
    pay_call *k = *out;
    bool ok = true;
    k->gateway_ref = dm__call_dup(gateway_ref != NULL ? gateway_ref : "", &ok);
    if (!ok) {
        pay_release(&k->c);
        *out = NULL;
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    k->order = (dm_payment_order_t){ .size = sizeof(dm_payment_order_t), .order_id = k->c.key,
                                     .gateway_ref = k->gateway_ref };
    return 0;
}

/* An event as the caller gets it: text terminated; on success the JSON
 * moves to dst, else it stays with the record (released with it). */
static void take_event(dm_payment_event_t *src, dm_payment_event_t *dst, int rc)
{
    DM_CALL_TERMINATE(src->order_id);
    DM_CALL_TERMINATE(src->gateway_ref);
    DM_CALL_TERMINATE(src->method);
    *dst = *src;
    if (rc == 0)
        src->raw = NULL;
    else
        dst->raw = NULL;
}

int dm__payment_methods(const dm_plugin *p, json_t **out, dm_err_t *err)
{
    *out = NULL;
    int rc = dm__call_check(p, DM_OP_PAYMENT_METHODS, err);
    if (rc != 0)
        return rc;
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    rc = dm__plugin_payment_ops(p)->methods(p->state, out, &e);
    return dm__call_inline_json(p, DM_OP_PAYMENT_METHODS, t0, rc, &e, out, err);
}

int dm__payment_verify_notification(const dm_plugin *p, const dm_http_header_t *headers, size_t n_headers,
                                    const char *body, size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = dm__call_check(p, DM_OP_PAYMENT_VERIFY, err);
    if (rc != 0)
        return rc;
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    dm_err_t e = { 0, "" };
    uint64_t t0 = dm__clock_mono_ns();
    rc = dm__plugin_payment_ops(p)->verify_notification(p->state, headers, n_headers, body, body_len, &ev, &e);
    rc = dm__call_inline_done(p, DM_OP_PAYMENT_VERIFY, t0, rc, &e, err);
    take_event(&ev, out, rc);
    json_decref(ev.raw);
    return rc;
}

int dm__payment_create(const dm_plugin *p, const dm_payment_request_t *req, dm_payment_created_t *out,
                       dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    pay_call *k;
    int rc = pay_new(p, DM_OP_PAYMENT_CREATE, req->order_id, &k, err);
    if (rc != 0)
        return rc;
    bool ok = true;
    k->method = dm__call_dup(req->method, &ok);
    k->customer_name = dm__call_dup(req->customer_name, &ok);
    k->customer_email = dm__call_dup(req->customer_email, &ok);
    k->finish_url = dm__call_dup(req->finish_url, &ok);
    if (!ok) {
        pay_release(&k->c);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    k->req = *req;
    k->req.order_id = k->c.key;
    k->req.method = k->method;
    k->req.customer_name = k->customer_name;
    k->req.customer_email = k->customer_email;
    k->req.finish_url = k->finish_url;
    if (!dm__call_run(&k->c, &rc, err))
        return rc;
    dm_payment_created_t *c = &k->out.created;
    DM_CALL_TERMINATE(c->token);
    DM_CALL_TERMINATE(c->redirect_url);
    DM_CALL_TERMINATE(c->gateway_ref);
    *out = *c;
    if (rc == 0)
        c->raw = c->instructions = NULL; /* moved to out */
    else
        out->raw = out->instructions = NULL; /* released with the record */
    pay_release(&k->c);
    return rc;
}

int dm__payment_query_status(const dm_plugin *p, const char *order_id, const char *gateway_ref,
                             dm_payment_event_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    pay_call *k;
    int rc = pay_new_order(p, DM_OP_PAYMENT_QUERY, order_id, gateway_ref, &k, err);
    if (rc != 0)
        return rc;
    if (!dm__call_run(&k->c, &rc, err))
        return rc;
    take_event(&k->out.event, out, rc);
    pay_release(&k->c);
    return rc;
}

int dm__payment_cancel(const dm_plugin *p, const char *order_id, const char *gateway_ref, dm_err_t *err)
{
    pay_call *k;
    int rc = pay_new_order(p, DM_OP_PAYMENT_CANCEL, order_id, gateway_ref, &k, err);
    if (rc != 0)
        return rc;
    if (dm__call_run(&k->c, &rc, err))
        pay_release(&k->c);
    return rc;
}

int dm__payment_refund(const dm_plugin *p, const char *order_id, const char *gateway_ref, int64_t amount,
                       const char *reason, dm_err_t *err)
{
    pay_call *k;
    int rc = pay_new_order(p, DM_OP_PAYMENT_REFUND, order_id, gateway_ref, &k, err);
    if (rc != 0)
        return rc;
    bool ok = true;
    k->amount = amount;
    k->reason = dm__call_dup(reason, &ok);
    if (!ok) {
        pay_release(&k->c);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    if (dm__call_run(&k->c, &rc, err))
        pay_release(&k->c);
    return rc;
}

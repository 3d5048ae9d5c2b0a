/*
 * midtrans_fixture.h — helpers the payment-midtrans tests share
 * (header-only, static): install the built plugin in a private directory,
 * load it through the real loader pointed at a Midtrans simulator, call
 * its ops, and build signed notification bodies.
 */
#ifndef DM_TEST_MIDTRANS_FIXTURE_H
#define DM_TEST_MIDTRANS_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "midtrans_sim.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/payment-midtrans.so"
#define KEY       "SB-Mid-server-TEST-0123456789abcdef"

/* ---- loading ---- */

typedef struct plug {
    fx_plugin               f;   /* dir, set, p (NULL when refused), log */
    const dm_payment_ops_t *ops;
} plug;

/* Load payment-midtrans with config (stolen); pl->f.p NULL when refused. */
static inline void try_open(plug *pl, json_t *config)
{
    fx_plugin_open(&pl->f, PLUGIN_SO, "payment-midtrans", DM_PLUGIN_PAYMENT, config);
    pl->ops = dm__plugin_payment_ops(pl->f.p);
}

static inline const char *refusal(const plug *pl)
{
    const char *r = json_string_value(
        json_object_get(json_array_get(dm__plugins_refusals(pl->f.set), 0), "reason"));
    return r != NULL ? r : "(no refusal)";
}

static inline void open_plugin(plug *pl, json_t *config)
{
    try_open(pl, config);
    ck_assert_msg(pl->f.p != NULL, "payment-midtrans was refused: %s\nlog:\n%s", refusal(pl),
                  pl->f.log);
    ck_assert_msg(pl->ops != NULL && pl->ops->query_order != NULL && pl->ops->cancel_order != NULL &&
                      pl->ops->refund_order != NULL,
                  "payment ops table incomplete (the ABI 1.5 ops taking the gateway's reference)");
}

static inline void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
}

/* A config that points the plugin at sim with `key`. New. */
static inline json_t *sim_config(const dm_midtrans_sim *sim, const char *key)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:i}", "server_key", key, "snap_base_url",
                          dm_midtrans_sim_snap_base(sim), "api_base_url",
                          dm_midtrans_sim_api_base(sim), "timeout_ms", 3000);
    ck_assert_msg(c != NULL, "json_pack failed");
    return c;
}

typedef struct fixture {
    dm_midtrans_sim *sim;
    plug             pl;
} fixture;

static inline void fx_start(fixture *f, json_t *extra)
{
    f->sim = dm_midtrans_sim_start(KEY);
    ck_assert_msg(f->sim != NULL, "simulator did not start");
    json_t *cfg = sim_config(f->sim, KEY);
    if (extra != NULL) {
        json_object_update(cfg, extra);
        json_decref(extra);
    }
    open_plugin(&f->pl, cfg);
}

static inline void fx_stop(fixture *f)
{
    close_plugin(&f->pl);
    dm_midtrans_sim_stop(f->sim);
}

/* ---- op helpers ---- */

static inline int create(const fixture *f, const char *order, int64_t amount, const char *method,
                  dm_payment_created_t *out, dm_err_t *err)
{
    dm_payment_request_t req = { .order_id = order, .amount = amount, .method = method,
                                 .customer_name = "Budi", .customer_email = "budi@example.com",
                                 .finish_url = "https://dermaga.example/wallet" };
    memset(out, 0, sizeof *out);
    dm_err_clear(err);
    return f->pl.ops->create(f->pl.f.p->state, &req, out, err);
}

static inline void create_ok(const fixture *f, const char *order, int64_t amount, const char *method)
{
    dm_payment_created_t out;
    dm_err_t err;
    int rc = create(f, order, amount, method, &out, &err);
    ck_assert_msg(rc == 0, "create %s: %d (%s)", order, rc, err.msg);
    json_decref(out.raw);
    json_decref(out.instructions);
}

static inline int verify(const fixture *f, const char *body, dm_payment_event_t *ev, dm_err_t *err)
{
    memset(ev, 0, sizeof *ev);
    dm_err_clear(err);
    int rc = f->pl.ops->verify_notification(f->pl.f.p->state, NULL, 0, body, strlen(body), ev, err);
    if (rc != 0)
        ck_assert_msg(ev->raw == NULL, "a refused notification must not hand back raw");
    return rc;
}

/* The ABI 1.5 ops, told order and the gateway's reference ref (as the host
 * passes it: "" when there is none). */
static inline int query_ref(const fixture *f, const char *order, const char *ref, dm_payment_event_t *ev,
                            dm_err_t *err)
{
    dm_payment_order_t o = { sizeof o, order, ref };
    memset(ev, 0, sizeof *ev);
    dm_err_clear(err);
    return f->pl.ops->query_order(f->pl.f.p->state, &o, ev, err);
}

static inline int query(const fixture *f, const char *order, dm_payment_event_t *ev, dm_err_t *err)
{
    return query_ref(f, order, "", ev, err);
}

static inline int cancel_ref(const fixture *f, const char *order, const char *ref, dm_err_t *err)
{
    dm_payment_order_t o = { sizeof o, order, ref };
    dm_err_clear(err);
    return f->pl.ops->cancel_order(f->pl.f.p->state, &o, err);
}

static inline int cancel(const fixture *f, const char *order, dm_err_t *err)
{
    return cancel_ref(f, order, "", err);
}

static inline int refund(const fixture *f, const char *order, int64_t amount, const char *reason, dm_err_t *err)
{
    dm_payment_order_t o = { sizeof o, order, "" };
    dm_err_clear(err);
    return f->pl.ops->refund_order(f->pl.f.p->state, &o, amount, reason, err);
}

/* A notification body for order with explicit fields, signed over the
 * given strings with key (NULL = KEY). New string. */
static inline char *signed_body(const char *order, const char *code, const char *gross, const char *ts,
                         const char *key)
{
    char *sig = dm_midtrans_sim_signature(order, code, gross, key != NULL ? key : KEY);
    ck_assert_msg(sig != NULL, "signature failed");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "order_id", order, "status_code",
                          code, "gross_amount", gross, "transaction_status", ts, "signature_key",
                          sig, "transaction_id", "abc-123", "payment_type", "bank_transfer");
    free(sig);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

#endif

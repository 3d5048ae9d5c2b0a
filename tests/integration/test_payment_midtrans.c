/*
 * test_payment_midtrans.c — the payment-midtrans plugin as the server sees
 * it: the built plugins/payment-midtrans.so loaded through the real loader
 * and pointed at the Midtrans simulator (tests/fakes/midtrans_sim.h).
 * Config refusals, methods, Snap create, status query, cancel, refund,
 * gateway failures and timeouts. Notifications: test_payment_midtrans_notify.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "midtrans_fixture.h"

/* ---- configuration ---- */

START_TEST(refuses_without_server_key)
{
    plug pl;
    try_open(&pl, json_pack("{s:s}", "environment", "sandbox"));
    ck_assert_msg(pl.f.p == NULL, "loaded without a server key");
    ck_assert_msg(strstr(refusal(&pl), "no server key configured (set server_key or "
                                       "server_key_file)") != NULL,
                  "refusal does not say why: %s", refusal(&pl));
    close_plugin(&pl);

    try_open(&pl, json_pack("{s:s}", "server_key", ""));
    ck_assert_msg(pl.f.p == NULL, "loaded with an empty server key");
    ck_assert_msg(strstr(refusal(&pl), "no server key configured") != NULL, "refusal: %s",
                  refusal(&pl));
    close_plugin(&pl);
}
END_TEST

/* Write text to <dir>/key and return the path in out. */
static void key_file(const char *dir, const char *text, char *out, size_t len)
{
    snprintf(out, len, "%s/key", dir);
    FILE *fp = fopen(out, "w");
    ck_assert_msg(fp != NULL, "cannot write %s", out);
    fputs(text, fp);
    fclose(fp);
}

START_TEST(refuses_empty_key_file)
{
    char *dir = dm_test_mkdtemp("mt-key");
    char path[512];
    const char *empties[] = { "", "\n" };
    for (size_t i = 0; i < 2; i++) {
        key_file(dir, empties[i], path, sizeof path);
        plug pl;
        try_open(&pl, json_pack("{s:s}", "server_key_file", path));
        ck_assert_msg(pl.f.p == NULL, "loaded with key file content \"%s\"", i == 0 ? "" : "\\n");
        ck_assert_msg(strstr(refusal(&pl), "no server key configured") != NULL, "refusal: %s",
                      refusal(&pl));
        close_plugin(&pl);
    }
    plug pl;
    try_open(&pl, json_pack("{s:s}", "server_key_file", "/nonexistent/dermaga/key"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "cannot open server_key_file") != NULL,
                  "missing key file: %s", refusal(&pl));
    close_plugin(&pl);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(refuses_bad_config)
{
    plug pl;
    try_open(&pl, json_pack("{s:s, s:s}", "server_key", KEY, "server_key_file", "/tmp/x"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "not both") != NULL, "both keys: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s, s:s}", "server_key", KEY, "environment", "staging"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "environment") != NULL, "env: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s, s:s}", "server_key", KEY, "api_base_url", "ftp://x"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "api_base_url") != NULL, "url: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s, s:i}", "server_key", KEY, "expiry_minutes", 0));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "expiry_minutes") != NULL, "expiry: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s, s:[]}", "server_key", KEY, "methods"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "methods") != NULL, "methods: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s, s:[s]}", "server_key", KEY, "methods", "BCA VA"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "methods[0]") != NULL, "method id: %s",
                  refusal(&pl));
    close_plugin(&pl);
    try_open(&pl, json_pack("{s:s}", "server_key", "has space"));
    ck_assert_msg(pl.f.p == NULL && strstr(refusal(&pl), "spaces") != NULL, "key: %s",
                  refusal(&pl));
    close_plugin(&pl);
}
END_TEST

START_TEST(environment_picks_base_urls)
{
    plug pl;
    open_plugin(&pl, json_pack("{s:s, s:s}", "server_key", "Mid-server-PROD", "environment",
                               "production"));
    ck_assert_msg(strstr(pl.f.log, "Snap at https://app.midtrans.com/snap/v1, Core API at "
                                 "https://api.midtrans.com,") != NULL,
                  "production URLs not used:\n%s", pl.f.log);
    ck_assert_msg(strstr(pl.f.log, "Mid-server-PROD") == NULL, "the server key was logged");
    close_plugin(&pl);
    open_plugin(&pl, json_pack("{s:s}", "server_key", KEY));
    ck_assert_msg(strstr(pl.f.log, "Snap at https://app.sandbox.midtrans.com/snap/v1, Core API "
                                 "at https://api.sandbox.midtrans.com,") != NULL,
                  "sandbox URLs not used:\n%s", pl.f.log);
    ck_assert_msg(strstr(pl.f.log, KEY) == NULL, "the server key was logged");
    close_plugin(&pl);
    open_plugin(&pl, json_pack("{s:s, s:s}", "server_key", KEY, "environment", "production"));
    ck_assert_msg(strstr(pl.f.log, "looks like a sandbox key") != NULL,
                  "no warning for a sandbox key in production:\n%s", pl.f.log);
    close_plugin(&pl);
}
END_TEST

START_TEST(key_file_newline_dropped)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start(KEY);
    ck_assert_msg(sim != NULL, "simulator did not start");
    char *dir = dm_test_mkdtemp("mt-key");
    char path[512];
    key_file(dir, KEY "\n", path, sizeof path);
    json_t *cfg = sim_config(sim, KEY);
    json_object_del(cfg, "server_key");
    json_object_set_new(cfg, "server_key_file", json_string(path));
    fixture f = { .sim = sim };
    open_plugin(&f.pl, cfg);
    create_ok(&f, "TXMP-101", 50000, "bca_va"); /* the sim accepts only KEY exactly */
    ck_assert_int_eq(dm_midtrans_sim_counters(sim).auth_failures, 0);
    fx_stop(&f);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(methods_listed)
{
    fixture f;
    fx_start(&f, NULL);
    json_t *m = NULL;
    dm_err_t err;
    ck_assert_msg(f.pl.ops->methods(f.pl.f.p->state, &m, &err) == 0, "methods: %s", err.msg);
    ck_assert_msg(json_array_size(m) >= 5, "default list too short: %zu", json_array_size(m));
    bool bca = false, qris = false;
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *name = json_string_value(json_object_get(v, "name"));
        ck_assert_msg(id != NULL && name != NULL, "entry %zu lacks id or name", i);
        bca |= strcmp(id, "bca_va") == 0 && strcmp(name, "BCA Virtual Account") == 0;
        qris |= strcmp(id, "other_qris") == 0 && strcmp(name, "QRIS") == 0;
    }
    ck_assert_msg(bca && qris, "bca_va / other_qris missing from the default methods");
    json_decref(m);
    fx_stop(&f);

    fx_start(&f, json_pack("{s:[s, s]}", "methods", "gopay", "new_wallet"));
    ck_assert_msg(f.pl.ops->methods(f.pl.f.p->state, &m, &err) == 0, "methods: %s", err.msg);
    ck_assert_int_eq(json_array_size(m), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "name")), "GoPay");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "name")),
                     "new_wallet");
    json_decref(m);
    fx_stop(&f);
}
END_TEST

/* ---- create ---- */

START_TEST(create_snap_transaction)
{
    fixture f;
    fx_start(&f, json_pack("{s:s}", "client_key", "SB-Mid-client-XYZ"));
    dm_payment_created_t out;
    dm_err_t err;
    long long t0 = (long long)time(NULL) * 1000;
    int rc = create(&f, "TXMP-101", 150000, "bca_va", &out, &err);
    ck_assert_msg(rc == 0, "create: %d (%s)", rc, err.msg);
    dm_midtrans_sim_order_t o;
    ck_assert_msg(dm_midtrans_sim_order(f.sim, "TXMP-101", &o), "the sim has no order");
    ck_assert_str_eq(out.token, o.token);
    ck_assert_msg(strstr(out.redirect_url, o.token) != NULL, "redirect_url %s", out.redirect_url);
    ck_assert_str_eq(out.gateway_ref, "TXMP-101");
    long long want = t0 + 1440LL * 60000;
    ck_assert_msg(out.expires_at_ms >= want - 5000 && out.expires_at_ms <= want + 5000,
                  "expires_at_ms %lld, want about %lld", (long long)out.expires_at_ms, want);
    ck_assert_str_eq(json_string_value(json_object_get(out.raw, "token")), o.token);
    ck_assert_str_eq(json_string_value(json_object_get(out.raw, "client_key")),
                     "SB-Mid-client-XYZ");
    json_decref(out.raw);

    /* base64("SB-Mid-server-TEST-0123456789abcdef:"), made with base64(1). */
    const char *expect = "Basic U0ItTWlkLXNlcnZlci1URVNULTAxMjM0NTY3ODlhYmNkZWY6";
    char *auth = dm_midtrans_sim_last_auth(f.sim);
    ck_assert_msg(auth != NULL && strcmp(auth, expect) == 0, "Authorization %s, want %s",
                  auth != NULL ? auth : "(none)", expect);
    free(auth);

    json_t *body = dm_midtrans_sim_last_create(f.sim);
    ck_assert_msg(body != NULL, "no create body recorded");
    json_t *td = json_object_get(body, "transaction_details");
    ck_assert_str_eq(json_string_value(json_object_get(td, "order_id")), "TXMP-101");
    json_t *gross = json_object_get(td, "gross_amount");
    ck_assert_msg(json_is_integer(gross) && json_integer_value(gross) == 150000,
                  "gross_amount must be the JSON integer 150000");
    json_t *ep = json_object_get(body, "enabled_payments");
    ck_assert_msg(json_array_size(ep) == 1 &&
                      strcmp(json_string_value(json_array_get(ep, 0)), "bca_va") == 0,
                  "enabled_payments must be [\"bca_va\"]");
    json_t *ex = json_object_get(body, "expiry");
    ck_assert_str_eq(json_string_value(json_object_get(ex, "unit")), "minute");
    ck_assert_int_eq(json_integer_value(json_object_get(ex, "duration")), 1440);
    json_t *cd = json_object_get(body, "customer_details");
    ck_assert_str_eq(json_string_value(json_object_get(cd, "first_name")), "Budi");
    ck_assert_str_eq(json_string_value(json_object_get(cd, "email")), "budi@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "callbacks"),
                                                       "finish")),
                     "https://dermaga.example/wallet");
    json_decref(body);
    ck_assert_str_eq(o.payment_type, "bank_transfer");
    ck_assert_int_eq(o.amount, 150000);
    fx_stop(&f);
}
END_TEST

START_TEST(create_expiry_and_no_method)
{
    fixture f;
    fx_start(&f, json_pack("{s:i}", "expiry_minutes", 60));
    dm_payment_request_t req = { .order_id = "TXMP-7", .amount = 10000, .expires_in_s = 90 };
    dm_payment_created_t out;
    memset(&out, 0, sizeof out);
    dm_err_t err;
    ck_assert_msg(f.pl.ops->create(f.pl.f.p->state, &req, &out, &err) == 0, "create: %s", err.msg);
    json_decref(out.raw);
    json_t *body = dm_midtrans_sim_last_create(f.sim);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "expiry"),
                                                        "duration")),
                     2); /* 90 s rounds up to 2 minutes */
    ck_assert_msg(json_object_get(body, "enabled_payments") == NULL,
                  "no method: enabled_payments must be absent");
    ck_assert_msg(json_object_get(body, "customer_details") == NULL,
                  "no customer: customer_details must be absent");
    json_decref(body);

    req.order_id = "TXMP-8";
    req.expires_in_s = 0;
    memset(&out, 0, sizeof out);
    ck_assert_msg(f.pl.ops->create(f.pl.f.p->state, &req, &out, &err) == 0, "create: %s", err.msg);
    json_decref(out.raw);
    body = dm_midtrans_sim_last_create(f.sim);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "expiry"),
                                                        "duration")),
                     60);
    json_decref(body);
    fx_stop(&f);
}
END_TEST

START_TEST(create_refusals)
{
    fixture f;
    fx_start(&f, NULL);
    dm_payment_created_t out;
    dm_err_t err;
    int rc = create(&f, "TXMP-1", 10000, "bitcoin", &out, &err);
    ck_assert_msg(rc == DM_EINVAL && strstr(err.msg, "unknown payment method") != NULL,
                  "unknown method: %d (%s)", rc, err.msg);
    rc = create(&f, "TXMP 1/..", 10000, "bca_va", &out, &err);
    ck_assert_msg(rc == DM_EINVAL, "unsafe order id: %d (%s)", rc, err.msg);
    rc = create(&f, "TXMP-1", 0, "bca_va", &out, &err);
    ck_assert_msg(rc == DM_EINVAL, "zero amount: %d (%s)", rc, err.msg);
    ck_assert_int_eq(dm_midtrans_sim_counters(f.sim).creates, 0);

    create_ok(&f, "TXMP-2", 10000, "gopay");
    rc = create(&f, "TXMP-2", 10000, "gopay", &out, &err);
    ck_assert_msg(rc == DM_ECONFLICT && strstr(err.msg, "406") != NULL,
                  "duplicate order id: %d (%s)", rc, err.msg);
    ck_assert_msg(out.raw == NULL && out.token[0] == '\0', "a refusal must not fill out");
    fx_stop(&f);
}
END_TEST

START_TEST(create_wrong_key)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start(KEY);
    ck_assert_msg(sim != NULL, "simulator did not start");
    fixture f = { .sim = sim };
    open_plugin(&f.pl, sim_config(sim, "SB-Mid-server-WRONG"));
    dm_payment_created_t out;
    dm_err_t err;
    int rc = create(&f, "TXMP-3", 10000, "bca_va", &out, &err);
    ck_assert_msg(rc == DM_EPERM && strstr(err.msg, "server key refused") != NULL,
                  "wrong key: %d (%s)", rc, err.msg);
    dm_payment_event_t ev;
    rc = query(&f, "TXMP-3", &ev, &err);
    ck_assert_msg(rc == DM_EPERM, "status with a wrong key: %d (%s)", rc, err.msg);
    ck_assert_int_eq(dm_midtrans_sim_counters(sim).auth_failures, 2);
    fx_stop(&f);
}
END_TEST

START_TEST(create_gateway_down)
{
    fixture f;
    fx_start(&f, NULL);
    dm_payment_created_t out;
    dm_err_t err;
    dm_midtrans_sim_fail_next(f.sim, 1, 500);
    int rc = create(&f, "TXMP-4", 10000, "bca_va", &out, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "gateway 500: %d (%s)", rc, err.msg);
    dm_midtrans_sim_fail_next(f.sim, 1, 503);
    dm_payment_event_t ev;
    rc = query(&f, "TXMP-4", &ev, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "status 503: %d (%s)", rc, err.msg);
    /* The failed create left nothing behind: a retry works. */
    create_ok(&f, "TXMP-4", 10000, "bca_va");
    close_plugin(&f.pl);

    /* A snap_base_url that is not Snap: the operator is told so. */
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s/not-snap", dm_midtrans_sim_api_base(f.sim));
    json_t *cfg = sim_config(f.sim, KEY);
    json_object_set_new(cfg, "snap_base_url", json_string(wrong));
    open_plugin(&f.pl, cfg);
    rc = create(&f, "TXMP-9", 10000, "bca_va", &out, &err);
    ck_assert_msg(rc == DM_EIO && strstr(err.msg, "snap_base_url") != NULL,
                  "wrong snap_base_url: %d (%s)", rc, err.msg);
    fx_stop(&f);

    /* Nothing listening at all. */
    int port = dm_e2e_free_port();
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    plug pl;
    open_plugin(&pl, json_pack("{s:s, s:s, s:s}", "server_key", KEY, "snap_base_url", base,
                               "api_base_url", base));
    dm_payment_request_t req = { .order_id = "TXMP-5", .amount = 10000 };
    memset(&out, 0, sizeof out);
    rc = pl.ops->create(pl.f.p->state, &req, &out, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "connection refused: %d (%s)", rc, err.msg);
    close_plugin(&pl);
}
END_TEST

START_TEST(hanging_gateway_times_out)
{
    fixture f;
    fx_start(&f, json_pack("{s:i}", "timeout_ms", 400));
    dm_midtrans_sim_hang_next(f.sim, 2);
    dm_payment_created_t out;
    dm_err_t err;
    long long t0 = dm_e2e_now_ms();
    int rc = create(&f, "TXMP-6", 10000, "bca_va", &out, &err);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(rc == DM_EUNAVAIL || rc == DM_ETIMEDOUT, "hang: %d (%s)", rc, err.msg);
    ck_assert_msg(took >= 300 && took < 3000, "create took %lld ms with timeout_ms 400", took);
    dm_payment_event_t ev;
    t0 = dm_e2e_now_ms();
    rc = query(&f, "TXMP-6", &ev, &err);
    took = dm_e2e_now_ms() - t0;
    ck_assert_msg((rc == DM_EUNAVAIL || rc == DM_ETIMEDOUT) && took < 3000,
                  "status hang: %d after %lld ms (%s)", rc, took, err.msg);
    ck_assert_int_eq(dm_midtrans_sim_counters(f.sim).injected, 2);
    fx_stop(&f);
}
END_TEST

/* ---- status, cancel, refund ---- */

START_TEST(query_status_follows_gateway)
{
    fixture f;
    fx_start(&f, NULL);
    create_ok(&f, "TXMP-400", 250000, "other_qris");
    dm_payment_event_t ev;
    dm_err_t err;
    int rc = query(&f, "TXMP-400", &ev, &err);
    ck_assert_msg(rc == 0, "status: %d (%s)", rc, err.msg);
    ck_assert_uint_eq(ev.status, DM_PAYMENT_PENDING);
    ck_assert_int_eq(ev.amount, 250000);
    ck_assert_str_eq(ev.order_id, "TXMP-400");
    ck_assert_str_eq(ev.method, "qris");
    dm_midtrans_sim_order_t o;
    dm_midtrans_sim_order(f.sim, "TXMP-400", &o);
    ck_assert_str_eq(ev.gateway_ref, o.transaction_id);
    ck_assert_msg(json_is_object(ev.raw), "raw must be the answer");
    json_decref(ev.raw);

    const struct { const char *ts, *fraud; uint32_t want; } steps[] = {
        { "capture", "challenge", DM_PAYMENT_PENDING },
        { "settlement", "accept", DM_PAYMENT_SUCCESS },
        { "expire", "", DM_PAYMENT_EXPIRED },
        { "cancel", "", DM_PAYMENT_CANCELLED },
        { "deny", "", DM_PAYMENT_FAILED },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        dm_midtrans_sim_set_status(f.sim, "TXMP-400", steps[i].ts, steps[i].fraud);
        rc = query(&f, "TXMP-400", &ev, &err);
        ck_assert_msg(rc == 0 && ev.status == steps[i].want, "after %s: rc %d status %u (%s)",
                      steps[i].ts, rc, ev.status, err.msg);
        json_decref(ev.raw);
    }
    rc = query(&f, "TXMP-nope", &ev, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "unknown order: %d (%s)", rc, err.msg);
    dm_midtrans_sim_set_http_mirror(f.sim, true);
    rc = query(&f, "TXMP-nope", &ev, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "unknown order (HTTP 404): %d (%s)", rc, err.msg);
    rc = query(&f, "TXMP-400", &ev, &err);
    ck_assert_msg(rc == 0 && ev.status == DM_PAYMENT_FAILED, "mirrored 202: %d (%s)", rc, err.msg);
    json_decref(ev.raw);
    int before = dm_midtrans_sim_counters(f.sim).status_queries;
    rc = query(&f, "../admin", &ev, &err);
    ck_assert_msg(rc == DM_EINVAL, "unsafe order id: %d (%s)", rc, err.msg);
    ck_assert_int_eq(dm_midtrans_sim_counters(f.sim).status_queries, before);
    fx_stop(&f);
}
END_TEST

/* ABI 1.5: the reference the host stored at create reaches the plugin,
 * which asks Midtrans about it (a transaction id works as well as the
 * order id); an answer about another order is not believed. */
START_TEST(query_and_cancel_use_the_gateway_reference)
{
    fixture f;
    fx_start(&f, NULL);
    create_ok(&f, "TXMP-450", 30000, "other_qris");
    create_ok(&f, "TXMP-451", 30000, "other_qris");
    dm_midtrans_sim_order_t o, other;
    dm_midtrans_sim_order(f.sim, "TXMP-450", &o);
    dm_midtrans_sim_order(f.sim, "TXMP-451", &other);
    dm_payment_event_t ev;
    dm_err_t err;
    int rc = query_ref(&f, "TXMP-450", o.transaction_id, &ev, &err);
    ck_assert_msg(rc == 0 && strcmp(ev.order_id, "TXMP-450") == 0, "by transaction id: %d (%s)", rc, err.msg);
    json_decref(ev.raw);
    rc = query_ref(&f, "TXMP-450", "no-such-ref", &ev, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "the reference, not the order id, is asked about: %d (%s)", rc, err.msg);
    rc = query_ref(&f, "TXMP-450", other.transaction_id, &ev, &err);
    ck_assert_msg(rc == DM_EIO && ev.raw == NULL, "another order's answer: %d (%s)", rc, err.msg);
    rc = query_ref(&f, "TXMP-450", "../admin", &ev, &err);
    ck_assert_msg(rc == DM_EINVAL, "unsafe reference: %d (%s)", rc, err.msg);
    rc = cancel_ref(&f, "TXMP-450", o.transaction_id, &err);
    ck_assert_msg(rc == 0, "cancel by transaction id: %d (%s)", rc, err.msg);
    dm_midtrans_sim_order(f.sim, "TXMP-450", &o);
    ck_assert_str_eq(o.transaction_status, "cancel");
    fx_stop(&f);
}
END_TEST

START_TEST(cancel_pending_only)
{
    fixture f;
    fx_start(&f, NULL);
    create_ok(&f, "TXMP-500", 20000, "bni_va");
    dm_err_t err;
    int rc = cancel(&f, "TXMP-500", &err);
    ck_assert_msg(rc == 0, "cancel pending: %d (%s)", rc, err.msg);
    dm_midtrans_sim_order_t o;
    dm_midtrans_sim_order(f.sim, "TXMP-500", &o);
    ck_assert_str_eq(o.transaction_status, "cancel");
    rc = cancel(&f, "TXMP-500", &err);
    ck_assert_msg(rc == DM_ECONFLICT, "cancel twice: %d (%s)", rc, err.msg);

    create_ok(&f, "TXMP-501", 20000, "bni_va");
    dm_midtrans_sim_set_status(f.sim, "TXMP-501", "settlement", "accept");
    rc = cancel(&f, "TXMP-501", &err);
    ck_assert_msg(rc == DM_ECONFLICT, "cancel settled: %d (%s)", rc, err.msg);
    dm_midtrans_sim_order(f.sim, "TXMP-501", &o);
    ck_assert_str_eq(o.transaction_status, "settlement");
    dm_midtrans_sim_set_http_mirror(f.sim, true);
    rc = cancel(&f, "TXMP-501", &err);
    ck_assert_msg(rc == DM_ECONFLICT, "cancel settled (HTTP 412): %d (%s)", rc, err.msg);
    rc = cancel(&f, "TXMP-none", &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "cancel unknown: %d (%s)", rc, err.msg);
    ck_assert_int_eq(dm_midtrans_sim_counters(f.sim).cancels, 5);
    fx_stop(&f);
}
END_TEST

START_TEST(refund_settled)
{
    fixture f;
    fx_start(&f, NULL);
    create_ok(&f, "TXMP-600", 100000, "gopay");
    dm_err_t err;
    int rc = refund(&f, "TXMP-600", 40000, "customer asked", &err);
    ck_assert_msg(rc == DM_ECONFLICT, "refund pending: %d (%s)", rc, err.msg);
    dm_midtrans_sim_set_status(f.sim, "TXMP-600", "settlement", "accept");
    rc = refund(&f, "TXMP-600", 40000, "customer asked", &err);
    ck_assert_msg(rc == 0, "partial refund: %d (%s)", rc, err.msg);
    rc = refund(&f, "TXMP-600", 70000, NULL, &err);
    ck_assert_msg(rc == DM_ECONFLICT, "refund more than left: %d (%s)", rc, err.msg);
    rc = refund(&f, "TXMP-600", 60000, NULL, &err);
    ck_assert_msg(rc == 0, "rest refund: %d (%s)", rc, err.msg);
    dm_midtrans_sim_order_t o;
    dm_midtrans_sim_order(f.sim, "TXMP-600", &o);
    ck_assert_str_eq(o.transaction_status, "refund");
    ck_assert_int_eq(o.refunded, 100000);
    dm_payment_event_t ev;
    rc = query(&f, "TXMP-600", &ev, &err);
    ck_assert_msg(rc == 0 && ev.status == DM_PAYMENT_REFUNDED, "status after refund: %d", rc);
    json_decref(ev.raw);
    rc = refund(&f, "TXMP-600", 0, NULL, &err);
    ck_assert_msg(rc == DM_EINVAL, "zero refund: %d (%s)", rc, err.msg);
    fx_stop(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("payment_midtrans");
    TCase *tc = tcase_create("plugin");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refuses_without_server_key);
    tcase_add_test(tc, refuses_empty_key_file);
    tcase_add_test(tc, refuses_bad_config);
    tcase_add_test(tc, environment_picks_base_urls);
    tcase_add_test(tc, key_file_newline_dropped);
    tcase_add_test(tc, methods_listed);
    tcase_add_test(tc, create_snap_transaction);
    tcase_add_test(tc, create_expiry_and_no_method);
    tcase_add_test(tc, create_refusals);
    tcase_add_test(tc, create_wrong_key);
    tcase_add_test(tc, create_gateway_down);
    tcase_add_test(tc, hanging_gateway_times_out);
    tcase_add_test(tc, query_status_follows_gateway);
    tcase_add_test(tc, query_and_cancel_use_the_gateway_reference);
    tcase_add_test(tc, cancel_pending_only);
    tcase_add_test(tc, refund_settled);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)

/*
 * test_payment_midtrans_notify.c — payment-midtrans's verify_notification
 * against notifications the Midtrans simulator signs: every status
 * mapping, forged and edited signatures, malformed bodies, and the ops
 * running on many threads at once.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "midtrans_fixture.h"

/* ---- notifications ---- */

START_TEST(verify_maps_every_status)
{
    static const struct {
        const char *ts, *fraud;
        uint32_t    want;
    } cases[] = {
        { "settlement", "accept", DM_PAYMENT_SUCCESS },
        { "capture", "accept", DM_PAYMENT_SUCCESS },
        { "capture", "", DM_PAYMENT_SUCCESS },
        { "capture", "challenge", DM_PAYMENT_PENDING },
        { "pending", "accept", DM_PAYMENT_PENDING },
        { "deny", "accept", DM_PAYMENT_FAILED },
        { "failure", "", DM_PAYMENT_FAILED },
        { "cancel", "accept", DM_PAYMENT_CANCELLED },
        { "expire", "", DM_PAYMENT_EXPIRED },
        { "refund", "accept", DM_PAYMENT_REFUNDED },
        { "partial_refund", "accept", DM_PAYMENT_REFUNDED },
    };
    fixture f;
    fx_start(&f, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char order[32];
        snprintf(order, sizeof order, "TXMP-%zu", 200 + i);
        ck_assert_int_eq(dm_midtrans_sim_add_order(f.sim, order, 150000, "bank_transfer"), 0);
        dm_midtrans_sim_set_status(f.sim, order, "pending", cases[i].fraud);
        char *body = dm_midtrans_sim_notification(f.sim, order, cases[i].ts, 0);
        dm_payment_event_t ev;
        dm_err_t err;
        int rc = verify(&f, body, &ev, &err);
        ck_assert_msg(rc == 0, "%s/%s: %d (%s)\n%s", cases[i].ts, cases[i].fraud, rc, err.msg,
                      body);
        ck_assert_msg(ev.status == cases[i].want, "%s/%s mapped to %u, want %u", cases[i].ts,
                      cases[i].fraud, ev.status, cases[i].want);
        dm_midtrans_sim_order_t o;
        dm_midtrans_sim_order(f.sim, order, &o);
        ck_assert_str_eq(ev.order_id, order);
        ck_assert_str_eq(ev.gateway_ref, o.transaction_id);
        ck_assert_str_eq(ev.method, "bank_transfer");
        ck_assert_int_eq(ev.amount, 150000);
        ck_assert_msg(json_is_object(ev.raw), "raw must be the parsed body");
        ck_assert_str_eq(json_string_value(json_object_get(ev.raw, "order_id")), order);
        json_decref(ev.raw);
        free(body);
    }
    fx_stop(&f);
}
END_TEST

START_TEST(verify_refuses_forgeries)
{
    fixture f;
    fx_start(&f, NULL);
    ck_assert_int_eq(dm_midtrans_sim_add_order(f.sim, "TXMP-300", 150000, NULL), 0);
    dm_payment_event_t ev;
    dm_err_t err;
    char *body = dm_midtrans_sim_notification(f.sim, "TXMP-300", "settlement", DM_MIDTRANS_FORGED);
    int rc = verify(&f, body, &ev, &err);
    ck_assert_msg(rc == DM_EPERM && strstr(err.msg, "signature") != NULL, "forged: %d (%s)", rc,
                  err.msg);
    free(body);

    /* A genuine body with the amount edited afterwards. */
    char *good = signed_body("TXMP-300", "200", "150000.00", "settlement", NULL);
    char *edited = signed_body("TXMP-300", "200", "150000.00", "settlement", NULL);
    char *p = strstr(edited, "150000.00");
    p[0] = '9';
    rc = verify(&f, edited, &ev, &err);
    ck_assert_msg(rc == DM_EPERM, "edited amount: %d (%s)", rc, err.msg);
    /* Same value, other spelling: "150000" is not what was signed. */
    char *sig = dm_midtrans_sim_signature("TXMP-300", "200", "150000.00", KEY);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "order_id", "TXMP-300", "status_code",
                          "200", "gross_amount", "150000", "transaction_status", "settlement",
                          "signature_key", sig);
    char *respelled = json_dumps(j, 0);
    rc = verify(&f, respelled, &ev, &err);
    ck_assert_msg(rc == DM_EPERM, "respelled amount: %d (%s)", rc, err.msg);
    /* Upper-case hex of the right signature is still the right signature. */
    for (char *q = sig; *q != '\0'; q++)
        *q = (char)toupper((unsigned char)*q);
    json_object_set_new(j, "gross_amount", json_string("150000.00"));
    json_object_set_new(j, "signature_key", json_string(sig));
    char *upper = json_dumps(j, 0);
    rc = verify(&f, upper, &ev, &err);
    ck_assert_msg(rc == 0, "upper-case signature: %d (%s)", rc, err.msg);
    json_decref(ev.raw);
    rc = verify(&f, good, &ev, &err);
    ck_assert_msg(rc == 0 && ev.status == DM_PAYMENT_SUCCESS, "good: %d (%s)", rc, err.msg);
    json_decref(ev.raw);
    /* A wrong amount correctly signed passes verify; the host compares. */
    body = dm_midtrans_sim_notification(f.sim, "TXMP-300", "settlement",
                                        DM_MIDTRANS_WRONG_AMOUNT | DM_MIDTRANS_KEEP_STATUS);
    rc = verify(&f, body, &ev, &err);
    ck_assert_msg(rc == 0 && ev.amount == 151000, "wrong amount: %d amount %lld (%s)", rc,
                  (long long)ev.amount, err.msg);
    json_decref(ev.raw);
    free(body);
    free(sig);
    free(good);
    free(edited);
    free(respelled);
    free(upper);
    json_decref(j);
    fx_stop(&f);
}
END_TEST

START_TEST(verify_refuses_malformed)
{
    fixture f;
    fx_start(&f, NULL);
    dm_payment_event_t ev;
    dm_err_t err;
    const char *raw_bad[] = { "", "not json", "[1,2]", "{\"order_id\":", "\"x\"" };
    for (size_t i = 0; i < sizeof raw_bad / sizeof raw_bad[0]; i++) {
        int rc = verify(&f, raw_bad[i], &ev, &err);
        ck_assert_msg(rc == DM_EINVAL, "body '%s': %d (%s)", raw_bad[i], rc, err.msg);
    }
    static const char *const fields[] = { "order_id", "status_code", "gross_amount",
                                          "signature_key", "transaction_status" };
    char *good = signed_body("TXMP-301", "200", "150000.00", "settlement", NULL);
    for (size_t i = 0; i < 5; i++) {
        json_t *j = json_loads(good, 0, NULL);
        json_object_del(j, fields[i]);
        char *s = json_dumps(j, 0);
        int rc = verify(&f, s, &ev, &err);
        ck_assert_msg(rc == DM_EINVAL && strstr(err.msg, fields[i]) != NULL,
                      "without %s: %d (%s)", fields[i], rc, err.msg);
        json_object_set_new(j, fields[i], json_integer(5)); /* wrong type */
        free(s);
        s = json_dumps(j, 0);
        rc = verify(&f, s, &ev, &err);
        ck_assert_msg(rc == DM_EINVAL, "%s as a number: %d (%s)", fields[i], rc, err.msg);
        free(s);
        json_decref(j);
    }
    /* Signed correctly, but no sense in it. */
    const char *grosses[] = { "150000.50", "15abc", "-5.00", "1e5", "150000.", "", "10000.5", "-1",
                              " 150000", "+150000", "0x10", "1000000000000001",
                              "99999999999999999999999999", "18446744073709551616.00" };
    for (size_t i = 0; i < sizeof grosses / sizeof grosses[0]; i++) {
        char *s = signed_body("TXMP-301", "200", grosses[i], "settlement", NULL);
        int rc = verify(&f, s, &ev, &err);
        ck_assert_msg(rc == DM_EINVAL, "gross_amount '%s': %d (%s)", grosses[i], rc, err.msg);
        free(s);
    }
    char *s = signed_body("TXMP-301", "200", "150000.00", "teleported", NULL);
    int rc = verify(&f, s, &ev, &err);
    ck_assert_msg(rc == DM_EINVAL && strstr(err.msg, "teleported") != NULL, "unknown status: %d (%s)",
                  rc, err.msg);
    free(s);
    /* A second order_id after the signed one must not slip through. */
    size_t gl = strlen(good);
    char *dup = malloc(gl + 40);
    snprintf(dup, gl + 40, "%.*s,\"order_id\":\"TXMP-999\"}", (int)(gl - 1), good);
    rc = verify(&f, dup, &ev, &err);
    ck_assert_msg(rc == DM_EINVAL, "duplicate key: %d (%s)", rc, err.msg);
    free(dup);
    /* Every truncation of a good body is refused, none crashes. */
    char *full = dm_midtrans_sim_notification(f.sim, "TXMP-301", "settlement", 0);
    for (size_t n = 0; n < strlen(full); n++) {
        memset(&ev, 0, sizeof ev);
        rc = f.pl.ops->verify_notification(f.pl.f.p->state, NULL, 0, full, n, &ev, &err);
        ck_assert_msg(rc == DM_EINVAL, "first %zu bytes of a notification: %d (%s)", n, rc,
                      err.msg);
    }
    free(full);
    /* Fractional cents of zero are fine, and the bare form too when signed so. */
    s = signed_body("TXMP-301", "200", "150000", "settlement", NULL);
    rc = verify(&f, s, &ev, &err);
    ck_assert_msg(rc == 0 && ev.amount == 150000, "'150000': %d (%s)", rc, err.msg);
    json_decref(ev.raw);
    free(s);
    free(good);
    fx_stop(&f);
}
END_TEST

/* ---- concurrency ---- */

typedef struct worker {
    const fixture *f;
    int            i;
    int            rc;
    dm_err_t       err;
} worker;

static void *create_worker(void *arg)
{
    worker *w = arg;
    char order[32];
    snprintf(order, sizeof order, "TXMP-%d", 700 + w->i);
    dm_payment_request_t req = { .order_id = order, .amount = 10000 + w->i, .method = "bca_va" };
    dm_payment_created_t out;
    memset(&out, 0, sizeof out);
    w->rc = w->f->pl.ops->create(w->f->pl.f.p->state, &req, &out, &w->err);
    json_decref(out.raw);
    if (w->rc == 0) {
        char *body = dm_midtrans_sim_notification(w->f->sim, order, "settlement", 0);
        dm_payment_event_t ev;
        memset(&ev, 0, sizeof ev);
        w->rc = w->f->pl.ops->verify_notification(w->f->pl.f.p->state, NULL, 0, body, strlen(body),
                                                  &ev, &w->err);
        if (w->rc == 0 && (ev.amount != 10000 + w->i || ev.status != DM_PAYMENT_SUCCESS))
            w->rc = -100;
        json_decref(ev.raw);
        free(body);
    }
    return NULL;
}

START_TEST(ops_run_concurrently)
{
    fixture f;
    fx_start(&f, NULL);
    enum { N = 12 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){ .f = &f, .i = i };
        ck_assert_int_eq(pthread_create(&t[i], NULL, create_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(w[i].rc == 0, "worker %d: %d (%s)", i, w[i].rc, w[i].err.msg);
    }
    ck_assert_int_eq(dm_midtrans_sim_counters(f.sim).creates, N);
    fx_stop(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("payment_midtrans_notify");
    TCase *tc = tcase_create("notify");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, verify_maps_every_status);
    tcase_add_test(tc, verify_refuses_forgeries);
    tcase_add_test(tc, verify_refuses_malformed);
    tcase_add_test(tc, ops_run_concurrently);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)

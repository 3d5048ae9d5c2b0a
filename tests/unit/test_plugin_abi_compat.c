/*
 * test_plugin_abi_compat.c — the ABI compatibility proof: a payment plugin
 * compiled against the SDK headers of ABI 1.0 (tests/plugins/sdk10_payment.c
 * with tests/fixtures/sdk-1.0/include) loads into this host through the
 * real loader and its ops run through the call layer: the 1.0 descriptor
 * and short ops table are accepted, fields appended since stay zero, and
 * query_status, cancel and refund reach its 1.0 slots with the order id
 * (the gateway reference the host now passes is for 1.5 slots only).
 * The refusals of a newer minor, another major and a wrong kind are in
 * test_plugin_loader.c.
 */
#include <string.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/call.h"

#define SDK10_SO DM_TEST_PLUGIN_DIR "/sdk10_payment.so"

static fx_plugin f;

static void setup(void)
{
    fx_plugin_open(&f, SDK10_SO, "payment-sdk10", DM_PLUGIN_PAYMENT, json_object());
    ck_assert_msg(f.p != NULL, "the ABI 1.0 plugin was refused:\n%s", f.log);
}

static void teardown(void)
{
    fx_plugin_close(&f);
}

START_TEST(a_1_0_plugin_loads_as_what_it_is)
{
    ck_assert_uint_eq(f.p->abi_major, 1);
    ck_assert_uint_eq(f.p->abi_minor, 0);
    ck_assert_uint_eq(f.p->info->info_size, DM_PLUGIN_INFO_SIZE_1_0);
    ck_assert_msg(f.p->ops_size == offsetof(dm_payment_ops_t, query_order),
                  "a 1.0 payment table is the six 1.0 ops (%zu bytes)", f.p->ops_size);
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(f.p);
    ck_assert_msg(ops->query_order == NULL && ops->cancel_order == NULL && ops->refund_order == NULL,
                  "the slots appended since are zero in the host's copy");
}
END_TEST

START_TEST(a_1_0_plugin_creates_through_the_call_layer)
{
    json_t *methods = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_methods(f.p, &methods, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(methods, 0), "id")), "sdk10");
    json_decref(methods);
    dm_payment_request_t req = { .order_id = "TXMP-1", .amount = 1500, .method = "sdk10" };
    dm_payment_created_t out;
    ck_assert_msg(dm__payment_create(f.p, &req, &out, &err) == 0, "create: %s", err.msg);
    ck_assert_str_eq(out.gateway_ref, "sdk10-TXMP-1");
    ck_assert_str_eq(out.token, "1500");
    ck_assert_msg(out.instructions == NULL && out.raw == NULL, "a 1.0 plugin leaves the 1.2 field alone");
}
END_TEST

START_TEST(a_1_0_plugin_is_queried_cancelled_and_refunded_by_order_id)
{
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__payment_query_status(f.p, "TXMP-1", "sdk10-TXMP-1", &ev, &err) == 0, "query: %s", err.msg);
    ck_assert_str_eq(ev.order_id, "TXMP-1");
    ck_assert_str_eq(ev.gateway_ref, "queried TXMP-1");
    ck_assert_uint_eq(ev.status, DM_PAYMENT_SUCCESS);
    ck_assert_int_eq(ev.amount, 1500);
    json_decref(ev.raw);
    ck_assert_msg(dm__payment_cancel(f.p, "TXMP-1", "sdk10-TXMP-1", &err) == 0, "cancel: %s", err.msg);
    ck_assert_int_eq(dm__payment_refund(f.p, "TXMP-1", "sdk10-TXMP-1", 700, "why", &err), DM_ECONFLICT);
    ck_assert_str_eq(err.msg, "sdk10 refund got TXMP-1 700 why");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_abi_compat");
    TCase *t = tcase_create("sdk_1_0");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, a_1_0_plugin_loads_as_what_it_is);
    tcase_add_test(t, a_1_0_plugin_creates_through_the_call_layer);
    tcase_add_test(t, a_1_0_plugin_is_queried_cancelled_and_refunded_by_order_id);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)

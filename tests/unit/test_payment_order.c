/*
 * test_payment_order.c — the ABI 1.5 payment shim of the call layer
 * (plugin/call.h): query_status, cancel and refund reach a 1.5 plugin
 * through query_order, cancel_order and refund_order with the order id
 * and the gateway's reference, a plugin older than 1.5 through the old
 * ops with the order id alone (even if its table has more), and a 1.5
 * plugin that kept only the old ops through those; and the wallet passes
 * the reference stored on the ledger row. Fake plugins built in this file
 * record what they were given.
 */
#include <string.h>

#include "dm_test.h"
#include "plugin/call.h"
#include "wallet/wallet_gateway.h"

/* What the last op received. */
static struct {
    char   op[16];       /* "query_status", "query_order", … */
    char   order_id[64];
    char   ref[64];      /* "(none)" for the old ops */
    size_t size;         /* dm_payment_order_t.size; 0 for the old ops */
    int64_t amount;
    char   reason[64];
} got;

static void saw(const char *op, const char *order_id, const dm_payment_order_t *o)
{
    snprintf(got.op, sizeof got.op, "%s", op);
    snprintf(got.order_id, sizeof got.order_id, "%s", o != NULL ? o->order_id : order_id);
    snprintf(got.ref, sizeof got.ref, "%s", o != NULL ? o->gateway_ref : "(none)");
    got.size = o != NULL ? o->size : 0;
}

static void saw_refund(const char *op, const char *order_id, const dm_payment_order_t *o, int64_t amount,
                       const char *reason)
{
    saw(op, order_id, o);
    got.amount = amount;
    snprintf(got.reason, sizeof got.reason, "%s", reason != NULL ? reason : "");
}

static int old_query(void *s, const char *order_id, dm_payment_event_t *out, dm_err_t *err)
{
    saw("query_status", order_id, NULL);
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    out->status = DM_PAYMENT_PENDING;
    return 0;
}

static int old_cancel(void *s, const char *order_id, dm_err_t *err)
{
    saw("cancel", order_id, NULL);
    return 0;
}

static int old_refund(void *s, const char *order_id, int64_t amount, const char *reason, dm_err_t *err)
{
    saw_refund("refund", order_id, NULL, amount, reason);
    return 0;
}

static int new_query(void *s, const dm_payment_order_t *o, dm_payment_event_t *out, dm_err_t *err)
{
    saw("query_order", NULL, o);
    snprintf(out->order_id, sizeof out->order_id, "%s", o->order_id);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", o->gateway_ref);
    out->status = DM_PAYMENT_SUCCESS;
    out->amount = 1500;
    return 0;
}

static int new_cancel(void *s, const dm_payment_order_t *o, dm_err_t *err)
{
    saw("cancel_order", NULL, o);
    return 0;
}

static int new_refund(void *s, const dm_payment_order_t *o, int64_t amount, const char *reason, dm_err_t *err)
{
    saw_refund("refund_order", NULL, o, amount, reason);
    return 0;
}

/* Both generations of ops set. */
static const dm_payment_ops_t both_ops = {
    .query_status = old_query, .cancel = old_cancel, .refund = old_refund,
    .query_order = new_query, .cancel_order = new_cancel, .refund_order = new_refund,
};
/* Only the 1.5 ops (what payment-midtrans and payment-manual are now). */
static const dm_payment_ops_t new_ops = {
    .query_order = new_query, .cancel_order = new_cancel, .refund_order = new_refund,
};
/* Only the old ops (a 1.5 plugin that never moved on). */
static const dm_payment_ops_t old_ops = {
    .query_status = old_query, .cancel = old_cancel, .refund = old_refund,
};

#define FAKE(var, minor, table)                                                                      \
    static dm_plugin var = { .magic = DM_PLUGIN_OBJ_MAGIC, .name = #var, .kind = DM_PLUGIN_PAYMENT, \
                             .abi_major = 1, .abi_minor = minor, .ops = &(table) }

FAKE(pay14_both, 4, both_ops);
FAKE(pay15_both, 5, both_ops);
FAKE(pay15_new, 5, new_ops);
FAKE(pay15_old, 5, old_ops);
FAKE(pay14_new, 4, new_ops);

static void setup(void)
{
    memset(&got, 0, sizeof got);
}

START_TEST(a_1_5_plugin_receives_the_order_id_and_the_gateway_reference)
{
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_query_status(&pay15_new, "TXMP-9", "gw-ref-9", &ev, &err), 0);
    ck_assert_str_eq(got.op, "query_order");
    ck_assert_str_eq(got.order_id, "TXMP-9");
    ck_assert_str_eq(got.ref, "gw-ref-9");
    ck_assert_uint_eq(got.size, sizeof(dm_payment_order_t));
    ck_assert_msg(ev.status == DM_PAYMENT_SUCCESS && strcmp(ev.gateway_ref, "gw-ref-9") == 0,
                  "the event comes back as for the old op");
    json_decref(ev.raw);

    ck_assert_int_eq(dm__payment_cancel(&pay15_new, "TXMP-9", "gw-ref-9", &err), 0);
    ck_assert_str_eq(got.op, "cancel_order");
    ck_assert_str_eq(got.ref, "gw-ref-9");

    ck_assert_int_eq(dm__payment_refund(&pay15_new, "TXMP-9", "gw-ref-9", 1500, "asked", &err), 0);
    ck_assert_str_eq(got.op, "refund_order");
    ck_assert_str_eq(got.order_id, "TXMP-9");
    ck_assert_str_eq(got.ref, "gw-ref-9");
    ck_assert_int_eq(got.amount, 1500);
    ck_assert_str_eq(got.reason, "asked");
}
END_TEST

START_TEST(a_missing_reference_arrives_as_an_empty_string)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_cancel(&pay15_new, "TXMP-10", NULL, &err), 0);
    ck_assert_str_eq(got.op, "cancel_order");
    ck_assert_str_eq(got.ref, "");
}
END_TEST

START_TEST(the_1_5_op_is_preferred_when_both_are_set)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_cancel(&pay15_both, "TXMP-11", "r", &err), 0);
    ck_assert_str_eq(got.op, "cancel_order");
}
END_TEST

START_TEST(a_plugin_older_than_1_5_is_called_through_the_old_ops)
{
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_query_status(&pay14_both, "TXMP-12", "gw-ref", &ev, &err), 0);
    ck_assert_str_eq(got.op, "query_status");
    ck_assert_str_eq(got.order_id, "TXMP-12");
    ck_assert_int_eq(dm__payment_cancel(&pay14_both, "TXMP-12", "gw-ref", &err), 0);
    ck_assert_str_eq(got.op, "cancel");
    ck_assert_int_eq(dm__payment_refund(&pay14_both, "TXMP-12", "gw-ref", 7, NULL, &err), 0);
    ck_assert_str_eq(got.op, "refund");
    ck_assert_int_eq(got.amount, 7);
}
END_TEST

START_TEST(a_1_5_plugin_with_only_the_old_ops_is_called_through_those)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_refund(&pay15_old, "TXMP-13", "gw", 9, "r", &err), 0);
    ck_assert_str_eq(got.op, "refund");
    ck_assert_str_eq(got.order_id, "TXMP-13");
}
END_TEST

START_TEST(the_1_5_slots_of_an_older_plugin_are_never_called)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__payment_cancel(&pay14_new, "TXMP-14", "gw", &err), DM_EUNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "pay14_new: has no cancel op") != NULL, "message: %s", err.msg);
    ck_assert_str_eq(got.op, "");
    ck_assert_msg(!dm__plugin_has_op(&pay14_new, "cancel") && dm__plugin_has_op(&pay15_new, "cancel") &&
                      dm__plugin_has_op(&pay15_new, "query_status") && dm__plugin_has_op(&pay15_old, "refund"),
                  "has_op answers by the slot the layer would call");
}
END_TEST

/* The wallet hands the plugin the row's gateway_ref (what create returned,
 * stored by dm__ledger_topup_attach and read back with the row). */
START_TEST(the_wallet_passes_the_stored_reference)
{
    dm_ledger_tx tx = { .custom_id = "TXMP-15", .gateway = "fake", .gateway_ref = "gw-stored-15", .amount = 1500 };
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__wallet_query(&pay15_new, &tx, &ev, &err) == 0, "query: %s", err.msg);
    ck_assert_str_eq(got.op, "query_order");
    ck_assert_str_eq(got.order_id, "TXMP-15");
    ck_assert_str_eq(got.ref, "gw-stored-15");
    json_decref(ev.raw);
    memset(&got, 0, sizeof got);
    ck_assert_msg(dm__wallet_cancel_at_gateway(&pay15_new, &tx, &err) == 0, "cancel: %s", err.msg);
    ck_assert_str_eq(got.op, "cancel_order");
    ck_assert_str_eq(got.ref, "gw-stored-15");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("payment_order");
    TCase *t = tcase_create("shim");
    tcase_add_checked_fixture(t, setup, NULL);
    tcase_add_test(t, a_1_5_plugin_receives_the_order_id_and_the_gateway_reference);
    tcase_add_test(t, a_missing_reference_arrives_as_an_empty_string);
    tcase_add_test(t, the_1_5_op_is_preferred_when_both_are_set);
    tcase_add_test(t, a_plugin_older_than_1_5_is_called_through_the_old_ops);
    tcase_add_test(t, a_1_5_plugin_with_only_the_old_ops_is_called_through_those);
    tcase_add_test(t, the_1_5_slots_of_an_older_plugin_are_never_called);
    tcase_add_test(t, the_wallet_passes_the_stored_reference);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)

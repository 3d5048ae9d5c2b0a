/*
 * fuzz_midtrans.c — what the payment-midtrans plugin reads from the
 * outside world, fed with arbitrary bytes: a notification or status body
 * (JSON object parsing, the event fields, amounts, statuses), error
 * answers, and the signature compare. The plugin's own sources are built
 * into this harness (tests/fuzz/CMakeLists.txt), with the core's host
 * table for the crypto helpers it calls.
 * Input: the body, as a gateway would send it.
 */
#include <string.h>

#include <dermaga/payment.h>

#include "../../plugins/payment-midtrans/midtrans.h"
#include "plugin/host_api.h"
#include "fuzz_support.h"

#define FUZZ_MAX_INPUT (64u * 1024u)

static void check_event(const json_t *obj)
{
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    dm_err_t err = { 0 };
    int rc = mt_fill_event(obj, &ev, &err);
    if (rc != 0) {
        FUZZ_CHECK(rc == DM_EINVAL, "fill_event returned %d", rc);
        FUZZ_CHECK(err.msg[0] != '\0', "a refusal says why");
        return;
    }
    FUZZ_CHECK(mt_order_id_ok(ev.order_id), "accepted order id is valid: %s", ev.order_id);
    FUZZ_CHECK(ev.amount >= 0, "amount %lld", (long long)ev.amount);
    FUZZ_CHECK(ev.status >= DM_PAYMENT_PENDING && ev.status <= DM_PAYMENT_REFUNDED, "status %u", ev.status);
    FUZZ_CHECK(memchr(ev.gateway_ref, '\0', sizeof ev.gateway_ref) != NULL, "gateway_ref terminated");
    FUZZ_CHECK(memchr(ev.method, '\0', sizeof ev.method) != NULL, "method terminated");
    /* The signature of what was read verifies against itself and not
     * against a one-character change. */
    char sig[129];
    const char *code = json_string_value(json_object_get(obj, "status_code"));
    const char *gross = json_string_value(json_object_get(obj, "gross_amount"));
    const dm_host_t *host = dm__plugin_host();
    if (code != NULL && gross != NULL && mt_signature(host, ev.order_id, code, gross, "fuzz-key", sig) == 0) {
        FUZZ_CHECK(mt_signature_equal(host, sig, sig), "a signature equals itself");
        char other[129];
        memcpy(other, sig, sizeof other);
        other[0] = other[0] == 'a' ? 'b' : 'a';
        FUZZ_CHECK(!mt_signature_equal(host, sig, other), "a changed signature differs");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    json_t *obj = NULL;
    dm_err_t err = { 0 };
    int rc = mt_parse_object((const char *)data, size, &obj, &err);
    if (rc == 0) {
        FUZZ_CHECK(json_is_object(obj), "parse_object gives an object");
        check_event(obj);
        char buf[64];
        mt_error_text(obj, buf, sizeof buf);
        FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL, "error text terminated");
        long st = mt_body_status(obj, -1);
        FUZZ_CHECK(st == -1 || (st >= 0 && st <= 999), "status_code %ld", st);
        json_decref(obj);
    } else {
        FUZZ_CHECK(rc == DM_EINVAL && obj == NULL, "a refused body gives DM_EINVAL and nothing");
    }
    /* The whole input as an amount string. */
    char text[64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t amount = -1;
    if (mt_parse_amount(text, &amount) == 0)
        FUZZ_CHECK(amount >= 0 && amount <= 1000000000000000LL, "amount %lld from %s", (long long)amount, text);
    return 0;
}

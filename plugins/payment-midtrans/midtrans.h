/*
 * midtrans.h — what the three files of the payment-midtrans plugin share:
 * the plugin state (read-only after init), the wire helpers of
 * midtrans_wire.c (request bodies, answer parsing, status mapping) and the
 * crypto of midtrans_sign.c (SHA-512 signature, Basic auth). Internal to
 * the plugin; nothing here is exported from the .so.
 */
#ifndef DM_PAYMENT_MIDTRANS_H
#define DM_PAYMENT_MIDTRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/payment.h>

#define MT_ORDER_ID_MAX 50  /* Midtrans: transaction_details.order_id is String(50) */
#define MT_SIG_HEX_LEN  128 /* SHA-512 as lowercase hex */

/* Read-only after init, so ops may run on any number of threads. */
typedef struct mt_state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    char            *server_key;  /* owned; wiped and freed in fini */
    char            *auth_header; /* "Basic base64(server_key:)"; owned, wiped */
    char            *client_key;  /* owned; NULL when not configured */
    char            *snap_base;   /* no trailing '/' */
    char            *api_base;    /* no trailing '/' */
    long             expiry_minutes;
    uint32_t         timeout_ms;
    json_t          *methods;     /* array of {"id","name"}; owned, never modified */
} mt_state;

/* ---- midtrans_config.c -------------------------------------------------- */

extern const dm_plugin_conf_key_t mt_conf_keys[];

/* The plugin's init and fini (see dermaga/plugin.h): build mt_state from
 * the validated config; refuse with DM_EINVAL when no server key is set. */
int  mt_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err);
void mt_fini(void *state);

/* ---- midtrans_sign.c ---------------------------------------------------- */

/* Lowercase hex SHA-512 of order_id + status_code + gross_amount +
 * server_key into out (MT_SIG_HEX_LEN + 1 bytes), by host's digest. All
 * borrowed. 0, or DM_EIO when the hash failed. */
int mt_signature(const dm_host_t *host, const char *order_id, const char *status_code, const char *gross_amount,
                 const char *server_key, char out[MT_SIG_HEX_LEN + 1]);

/* True when `given` (borrowed, any case) is the signature `expected`
 * (lowercase hex). The time taken does not depend on where they differ
 * (host's equal_ct). */
bool mt_signature_equal(const dm_host_t *host, const char *expected, const char *given);

/* "Basic " + base64(server_key + ":") by host's base64_encode: new string
 * (caller frees), NULL when out of memory. */
char *mt_basic_auth(const dm_host_t *host, const char *server_key);

/* ---- midtrans_wire.c ---------------------------------------------------- */

/* True when id is 1..50 characters of [A-Za-z0-9-_.~], the set Midtrans
 * allows in an order id; such an id is also safe inside a URL path. */
bool mt_order_id_ok(const char *id);

/* The Snap create body for req: new object (caller decrefs), or NULL with
 * err filled (DM_EINVAL bad field, DM_ENOMEM). `minutes` is the expiry. */
json_t *mt_snap_body(const dm_payment_request_t *req, long minutes, dm_err_t *err);

/* "150000.00" / "150000" → 150000 in *out. Digits, then optionally '.'
 * and zeros only (Midtrans states IDR with two decimals). DM_EINVAL for
 * anything else, fractional Rupiah or a value past 10^15. */
int mt_parse_amount(const char *s, int64_t *out);

/* Map transaction_status (+ fraud_status, may be NULL) onto *out.
 * DM_EINVAL for a status this plugin does not know. */
int mt_map_status(const char *transaction_status, const char *fraud_status, uint32_t *out);

/* Parse body (body_len bytes, not NUL-terminated) as one JSON object with
 * unique keys: new reference in *out, or DM_EINVAL with err filled. */
int mt_parse_object(const char *body, size_t body_len, json_t **out, dm_err_t *err);

/* Fill ev from a notification or status object obj (borrowed): order_id,
 * gateway_ref (transaction_id), method (payment_type), status, amount.
 * Checks field types, sizes and the status mapping; does not check the
 * signature. DM_EINVAL with err naming the field. */
int mt_fill_event(const json_t *obj, dm_payment_event_t *ev, dm_err_t *err);

/* The gateway's explanation in an error answer: error_messages joined with
 * "; ", else status_message, else "(no message)". Written into buf. */
void mt_error_text(const json_t *answer, char *buf, size_t len);

/* The "status_code" string of answer as a number, or `fallback` when it is
 * absent or not a 3-digit string. */
long mt_body_status(const json_t *answer, long fallback);

#endif /* DM_PAYMENT_MIDTRANS_H */

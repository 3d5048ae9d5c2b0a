/*
 * dermaga/payment.h — the ops table of a payment plugin (kind
 * DM_PLUGIN_PAYMENT): offer payment methods, create a payment, turn a
 * gateway notification into a verified event, query, cancel, refund.
 *
 * Ownership, as for every kind: the first argument of each op is the state
 * init stored. Requests are host-owned and borrowed for the call. Result
 * structs are allocated and zeroed by the host; the plugin fills their
 * fixed-size fields (failing with DM_EINVAL rather than truncating). A
 * json_t handed back through an out-pointer is a new reference that the
 * host decrefs. Ops run on worker threads, may block, and may run
 * concurrently with each other: state must be thread-safe.
 */
#ifndef DERMAGA_PAYMENT_H
#define DERMAGA_PAYMENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/plugin.h>

#define DM_PAYMENT_TOKEN_MAX 256
#define DM_PAYMENT_URL_MAX   2048
#define DM_PAYMENT_REF_MAX   128
#define DM_PAYMENT_METHOD_MAX 64

/* A payment's state at the gateway. */
typedef enum dm_payment_status {
    DM_PAYMENT_PENDING   = 1,
    DM_PAYMENT_SUCCESS   = 2, /* money received: the host credits the wallet once */
    DM_PAYMENT_FAILED    = 3,
    DM_PAYMENT_CANCELLED = 4,
    DM_PAYMENT_EXPIRED   = 5,
    DM_PAYMENT_REFUNDED  = 6
} dm_payment_status_t;

/* A payment to create. Host-owned; borrowed for the call. */
typedef struct dm_payment_request {
    const char *order_id;       /* "TXMP-101": the gateway's order id, unique per attempt */
    int64_t     amount;         /* Rupiah, > 0 */
    const char *method;         /* an "id" from methods() */
    const char *customer_name;  /* may be NULL */
    const char *customer_email; /* may be NULL */
    int64_t     expires_in_s;   /* 0 = the plugin's default */
    const char *finish_url;     /* where the gateway sends the user back; may be NULL */
} dm_payment_request_t;

/* What create() produces. Host-allocated and zeroed; the plugin fills it. */
typedef struct dm_payment_created {
    char    token[DM_PAYMENT_TOKEN_MAX];      /* for client-side widgets; may stay "" */
    char    redirect_url[DM_PAYMENT_URL_MAX]; /* where to send the user; may stay "" */
    char    gateway_ref[DM_PAYMENT_REF_MAX];  /* the gateway's id for the payment */
    int64_t expires_at_ms;                    /* wall clock; 0 = unknown */
    json_t *raw; /* new reference or NULL: the gateway's answer, kept for audit */
    /* --- ABI 1.2 --- */
    json_t *instructions; /* new reference or NULL: an object shown to the user
                             as it is (how to pay: bank account, amount,
                             reference to quote); the host decrefs it */
} dm_payment_created_t;

/* A verified fact about a payment. Host-allocated and zeroed; the plugin
 * fills it. The host still compares order_id and amount with its records. */
typedef struct dm_payment_event {
    char     order_id[DM_PAYMENT_REF_MAX];
    char     gateway_ref[DM_PAYMENT_REF_MAX];
    char     method[DM_PAYMENT_METHOD_MAX];
    uint32_t status; /* dm_payment_status_t */
    int64_t  amount; /* Rupiah, as the gateway states it */
    json_t  *raw;    /* new reference or NULL: the notification or answer, stored raw */
} dm_payment_event_t;

/*
 * ABI 1.5: which payment query_order, cancel_order and refund_order are
 * about. Host-allocated, borrowed for the call, size first: the host sets
 * size to sizeof(dm_payment_order_t) as it was built, and a plugin reads a
 * field appended after the ABI minor it requires only when
 * DM_PAYMENT_ORDER_HAS says it is there (the struct only grows at the end).
 */
typedef struct dm_payment_order {
    size_t      size;        /* sizeof(dm_payment_order_t) as the host was built */
    const char *order_id;    /* the order id create was given; never NULL */
    const char *gateway_ref; /* what create put in dm_payment_created_t.gateway_ref,
                                as the host stored it; "" when create left it
                                empty (never NULL) */
} dm_payment_order_t;

#define DM_PAYMENT_ORDER_HAS(o, member) \
    ((o)->size >= offsetof(dm_payment_order_t, member) + sizeof((o)->member))

typedef struct dm_payment_ops {
    /* --- required (ABI 1.0): a plugin's table is at least this long --- */

    /* The methods offered: *out = new array of {"id","name"} objects. */
    int (*methods)(void *state, json_t **out, dm_err_t *err);

    /* Create a payment at the gateway. DM_EINVAL bad request, DM_EUNAVAIL or
     * DM_EIO gateway trouble. */
    int (*create)(void *state, const dm_payment_request_t *req,
                  dm_payment_created_t *out, dm_err_t *err);

    /* Check the signature of a raw notification and describe it. headers
     * and body are host-owned (body is not NUL-terminated). DM_EPERM: bad
     * signature; DM_EINVAL: malformed. The host re-reads the status with
     * query_status before it credits anything. */
    int (*verify_notification)(void *state, const dm_http_header_t *headers,
                               size_t n_headers, const char *body, size_t body_len,
                               dm_payment_event_t *out, dm_err_t *err);

    /* Ask the gateway for the payment's current state. Fill order_id and
     * amount from the gateway's answer: the host believes the status only
     * when both equal its ledger row. DM_ENOTFOUND when the gateway does
     * not know the order; DM_EUNSUPPORTED when there is no one to ask. */
    int (*query_status)(void *state, const char *order_id,
                        dm_payment_event_t *out, dm_err_t *err);

    /* --- optional: NULL (or absent from a shorter table) = unsupported --- */

    /* Cancel a pending payment at the gateway. DM_ECONFLICT when no longer
     * pending. */
    int (*cancel)(void *state, const char *order_id, dm_err_t *err);

    /* Refund `amount` Rupiah of a settled payment. reason is for the
     * gateway's records (may be NULL). */
    int (*refund)(void *state, const char *order_id, int64_t amount,
                  const char *reason, dm_err_t *err);

    /* --- ABI 1.5: the same three ops, told the gateway's reference -------
     * query_order, cancel_order and refund_order mean exactly what
     * query_status, cancel and refund mean, but receive a dm_payment_order_t
     * (the order id AND the gateway_ref create returned) instead of the
     * order id alone. A plugin built against 1.5 or later sets these; the
     * host calls one of them whenever it is set, and the old op of the same
     * name otherwise (so a 1.5 table may leave query_status, cancel and
     * refund NULL). A plugin older than 1.5 is always called through the
     * old ops. A payment plugin must set query_status or query_order;
     * cancel_order and refund_order are optional like cancel and refund. */

    int (*query_order)(void *state, const dm_payment_order_t *order,
                       dm_payment_event_t *out, dm_err_t *err);
    int (*cancel_order)(void *state, const dm_payment_order_t *order, dm_err_t *err);
    int (*refund_order)(void *state, const dm_payment_order_t *order, int64_t amount,
                        const char *reason, dm_err_t *err);
} dm_payment_ops_t;

/* The least ops_size the host accepts for a payment plugin. */
#define DM_PAYMENT_OPS_MIN_SIZE offsetof(dm_payment_ops_t, cancel)

#endif /* DERMAGA_PAYMENT_H */

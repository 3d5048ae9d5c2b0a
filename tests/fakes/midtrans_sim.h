/*
 * midtrans_sim.h — a Midtrans stand-in for tests: a loopback HTTP/1.1
 * server that speaks the documented Snap and Core API wire format (Basic
 * auth with the server key, Snap create, GET status, cancel, refund), lets
 * a test steer what the gateway reports, and sends signed notifications
 * to Dermaga as Midtrans does (also forged, with a wrong amount, repeated).
 *
 * Typical use (an e2e test of the wallet):
 *
 *     dm_midtrans_sim *sim = dm_midtrans_sim_start("SB-Mid-server-test");
 *     // plugin config: "server_key": "SB-Mid-server-test",
 *     //   "snap_base_url": dm_midtrans_sim_snap_base(sim),
 *     //   "api_base_url":  dm_midtrans_sim_api_base(sim)
 *     ... POST /api/wallet/topup → the plugin creates order "TXMP-101" here ...
 *     int status;
 *     dm_midtrans_sim_notify(sim, server_port, "/api/wallet/webhooks/midtrans",
 *                            "TXMP-101", "settlement", 0, &status);   // 200
 *     dm_midtrans_sim_stop(sim);
 *
 * Wire behaviour (what the real API documents; the simulator mirrors it):
 * - Every request needs `Authorization: Basic base64(server_key + ":")`;
 *   otherwise HTTP 401 {"status_code":"401","status_message":…,
 *   "error_messages":[…]}.
 * - POST /snap/v1/transactions: body checked — transaction_details.order_id
 *   (1..50 of A-Z a-z 0-9 - _ . ~) and an integer gross_amount > 0 are
 *   required, else HTTP 400 {"error_messages":[…]}; an order_id seen before
 *   → HTTP 406 ("Duplicate order ID"). Success: HTTP 201 {"token",
 *   "redirect_url"}; the order then exists with transaction_status
 *   "pending" (unlike the real Snap, where status is 404 until the customer
 *   picks a method — call dm_midtrans_sim_set_status to move it on).
 *   payment_type: the one enabled_payments entry mapped to Midtrans's
 *   payment_type (bca_va → bank_transfer, other_qris → qris, …), else
 *   "bank_transfer".
 * - GET /v2/{order_id}/status: HTTP 200 and the status JSON (status_code
 *   "200" settlement/capture/cancel/refund, "201" pending or capture
 *   challenged, "202" deny/failure, "407" expire; order_id,
 *   transaction_id, gross_amount "150000.00", currency, payment_type,
 *   transaction_time, transaction_status, fraud_status, signature_key
 *   computed as Midtrans does). Unknown order → HTTP 200 with status_code
 *   "404" (or HTTP 404 too, see dm_midtrans_sim_set_http_mirror).
 * - POST /v2/{order_id}/cancel: pending (or authorize/challenged capture)
 *   → "200" and the order becomes "cancel"; otherwise "412"; unknown "404".
 * - POST /v2/{order_id}/refund {amount, reason}: settlement/capture/
 *   partial_refund → "200", status "refund" or "partial_refund"; an amount
 *   over what is left → "412"; otherwise "412"; unknown "404".
 * Each /v2 path takes the order's transaction_id in place of its order_id,
 * as Midtrans does.
 * Requests are answered with Connection: close.
 *
 * Threads: every function may be called from any thread while the
 * simulator runs; the server uses one thread per connection.
 */
#ifndef DM_MIDTRANS_SIM_H
#define DM_MIDTRANS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct dm_midtrans_sim dm_midtrans_sim;

/* Start a simulator on 127.0.0.1 (a free port) that accepts server_key
 * (borrowed, copied). New (stop it with dm_midtrans_sim_stop); NULL when
 * the socket or thread cannot be set up. */
dm_midtrans_sim *dm_midtrans_sim_start(const char *server_key);

/* Stop serving, wait for every connection thread (a hanging request is
 * released) and free sim. NULL is fine. */
void dm_midtrans_sim_stop(dm_midtrans_sim *sim);

/* The port it listens on. */
int dm_midtrans_sim_port(const dm_midtrans_sim *sim);

/* "http://127.0.0.1:PORT/snap/v1" and "http://127.0.0.1:PORT": the plugin's
 * snap_base_url and api_base_url. Borrowed; valid until stop. */
const char *dm_midtrans_sim_snap_base(const dm_midtrans_sim *sim);
const char *dm_midtrans_sim_api_base(const dm_midtrans_sim *sim);

/* ---- the gateway's view of orders ------------------------------------- */

/* A copy of one order as the simulator holds it. */
typedef struct dm_midtrans_sim_order {
    char    order_id[64];
    char    transaction_id[64];     /* a UUID-like id, fixed at creation */
    char    token[64];              /* the Snap token handed out */
    char    payment_type[32];
    char    transaction_status[32]; /* "pending", "settlement", … */
    char    fraud_status[16];       /* "accept", "challenge", "deny" or "" */
    int64_t amount;                 /* gross amount, Rupiah */
    int64_t refunded;               /* Rupiah refunded so far */
} dm_midtrans_sim_order_t;

/* Copy order_id's record into *out. False when the order is unknown. */
bool dm_midtrans_sim_order(dm_midtrans_sim *sim, const char *order_id,
                           dm_midtrans_sim_order_t *out);

/* Make an order exist without a Snap call (as if created earlier):
 * status "pending", fraud_status "accept". 0, or -1 when it exists. */
int dm_midtrans_sim_add_order(dm_midtrans_sim *sim, const char *order_id, int64_t amount,
                              const char *payment_type);

/* What the gateway reports from now on for order_id: transaction_status
 * (e.g. "settlement", "expire") and fraud_status (NULL or "" = none; for
 * "capture" give "accept" or "challenge"). 0, or -1 for an unknown order. */
int dm_midtrans_sim_set_status(dm_midtrans_sim *sim, const char *order_id,
                               const char *transaction_status, const char *fraud_status);

/* Drop order_id as if the Core API had never heard of it: status and
 * cancel answer "404", as the real gateway does for a Snap payment whose
 * customer has not picked a method yet (the payment page still works).
 * dm_midtrans_sim_add_order brings it back. 0, or -1 when unknown. */
int dm_midtrans_sim_forget(dm_midtrans_sim *sim, const char *order_id);

/* ---- steering and observing ------------------------------------------- */

/* The next n requests (any route, read in full first) are answered with
 * http_status (e.g. 500, 503) and a Midtrans-shaped error body, without
 * touching any order. n = 0 cancels. */
void dm_midtrans_sim_fail_next(dm_midtrans_sim *sim, int n, int http_status);

/* The next n requests are read and never answered: the connection stays
 * open until the client gives up or the simulator stops (for timeouts). */
void dm_midtrans_sim_hang_next(dm_midtrans_sim *sim, int n);

/* When on, /v2 answers also carry the body's status_code as the HTTP
 * status (404, 412 …), as some Midtrans endpoints do. Default off. */
void dm_midtrans_sim_set_http_mirror(dm_midtrans_sim *sim, bool on);

/* When on, a cancel that finds a pending order first settles it (the
 * customer paid a moment before the cancel arrived), so the cancel is
 * refused with "412". Default off. */
void dm_midtrans_sim_pay_before_cancel(dm_midtrans_sim *sim, bool on);

/* When amount >= 0, GET status answers state this gross_amount (signed
 * correctly) instead of the order's: a gateway record that disagrees with
 * the ledger. -1 (the default) restores the order's own. */
void dm_midtrans_sim_set_status_amount(dm_midtrans_sim *sim, int64_t amount);

/* Requests answered normally (not failed or hung on purpose), by route;
 * auth_failures counts 401s (those are not counted by route). */
typedef struct dm_midtrans_sim_counters {
    int creates;        /* POST /snap/v1/transactions, refused ones included */
    int status_queries; /* GET /v2/{id}/status */
    int cancels;        /* POST /v2/{id}/cancel */
    int refunds;        /* POST /v2/{id}/refund */
    int auth_failures;  /* 401s */
    int injected;       /* answered by fail_next or hung by hang_next */
    int notifications;  /* notifications sent by dm_midtrans_sim_notify* */
} dm_midtrans_sim_counters_t;

dm_midtrans_sim_counters_t dm_midtrans_sim_counters(dm_midtrans_sim *sim);

/* The body of the last Snap create request that passed auth, parsed:
 * new reference (caller decrefs), NULL when none yet or it was not JSON. */
json_t *dm_midtrans_sim_last_create(dm_midtrans_sim *sim);

/* The Authorization header of the last request: new string (caller
 * frees), NULL when none arrived or it had none. */
char *dm_midtrans_sim_last_auth(dm_midtrans_sim *sim);

/* ---- notifications (Midtrans → Dermaga) ------------------------------- */

/* flags for the notification functions */
#define DM_MIDTRANS_FORGED       0x1u /* signature_key made with another key */
#define DM_MIDTRANS_WRONG_AMOUNT 0x2u /* gross_amount 1000 more than the order's,
                                         correctly signed (a gateway that lies) */
#define DM_MIDTRANS_KEEP_STATUS  0x4u /* do not change the order's status: the
                                         notification disagrees with GET status
                                         (a stale or out-of-order delivery) */
#define DM_MIDTRANS_UNSIGNED     0x8u /* no signature_key field at all */

/*
 * The notification JSON Midtrans would send for order_id now reaching
 * transaction_status (fraud_status is the order's, "accept" by default):
 * transaction_time, transaction_status, transaction_id, status_message,
 * status_code, signature_key, payment_type, order_id, merchant_id,
 * gross_amount "N.00", fraud_status, currency "IDR" (+ settlement_time).
 * Unless FORGED, UNSIGNED or KEEP_STATUS is given, the order's status is
 * set to transaction_status first, as the real gateway changes state and
 * then notifies. An unknown order gets a notification for 10000 Rupiah
 * (for "unknown order" tests) and is not created.
 * New string (caller frees); NULL when out of memory.
 */
char *dm_midtrans_sim_notification(dm_midtrans_sim *sim, const char *order_id,
                                   const char *transaction_status, unsigned flags);

/* POST body (len bytes, sent exactly) as application/json to
 * 127.0.0.1:port at path, as Midtrans's notifier does, and wait (10 s at
 * most) for the answer. *http_status_out gets the HTTP status; when
 * body_out is not NULL it gets the response body (new string, caller
 * frees). 0, or -1 when the exchange failed (connect, timeout, garbage).
 * Thread-safe: tests send the same bytes from many threads at once. */
int dm_midtrans_sim_post(int port, const char *path, const char *body, size_t len,
                         int *http_status_out, char **body_out);

/* dm_midtrans_sim_notification + dm_midtrans_sim_post, counted in
 * `notifications`. 0 with *http_status_out set, or -1. */
int dm_midtrans_sim_notify(dm_midtrans_sim *sim, int dermaga_port, const char *path,
                           const char *order_id, const char *transaction_status,
                           unsigned flags, int *http_status_out);

/* Lowercase hex SHA-512 of order_id + status_code + gross_amount +
 * server_key, as Midtrans signs; new string (caller frees) or NULL. */
char *dm_midtrans_sim_signature(const char *order_id, const char *status_code,
                                const char *gross_amount, const char *server_key);

#endif /* DM_MIDTRANS_SIM_H */

/*
 * midtrans_sim.c — the Midtrans simulator's gateway logic: orders and
 * their states, Basic auth, the Snap create / status / cancel / refund
 * routes with Midtrans-shaped answers, failure injection, and signed
 * notifications. The sockets are in midtrans_sim_net.c. API and wire
 * behaviour: midtrans_sim.h.
 */
#include "midtrans_sim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "midtrans_sim_net.h"

#define MERCHANT_ID "G000000001"

struct dm_midtrans_sim {
    sim_http                  *http;
    int                        port;
    char                      *key;
    char                      *auth; /* the Authorization value we accept */
    char                       snap_base[64];
    char                       api_base[64];
    pthread_mutex_t            mu;   /* everything below */
    dm_midtrans_sim_order_t   *orders;
    size_t                     n_orders, cap_orders;
    unsigned long              seq;
    int                        fail_n, fail_status, hang_n;
    bool                       mirror;
    bool                       pay_before_cancel;
    int64_t                    status_amount; /* < 0: the order's own */
    dm_midtrans_sim_counters_t c;
    json_t                    *last_create;
    char                      *last_auth;
};

/* ---- helpers -------------------------------------------------------- */

char *dm_midtrans_sim_signature(const char *order_id, const char *status_code,
                                const char *gross_amount, const char *server_key)
{
    size_t n = strlen(order_id) + strlen(status_code) + strlen(gross_amount) + strlen(server_key);
    char *in = malloc(n + 1);
    char *out = malloc(129);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, n + 1, "%s%s%s%s", order_id, status_code, gross_amount, server_key);
    if (EVP_Digest(in, n, d, &dl, EVP_sha512(), NULL) != 1 || dl != 64) {
        free(in);
        free(out);
        return NULL;
    }
    for (unsigned int i = 0; i < dl; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    free(in);
    return out;
}

static char *basic_auth(const char *key)
{
    size_t kl = strlen(key);
    char *plain = malloc(kl + 2);
    char *out = malloc(6 + 4 * ((kl + 3) / 3) + 1);
    if (plain == NULL || out == NULL) {
        free(plain);
        free(out);
        return NULL;
    }
    memcpy(plain, key, kl);
    plain[kl] = ':';
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain, (int)kl + 1);
    free(plain);
    return out;
}

static bool order_id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 50)
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") == n;
}

/* Midtrans's status_code for a transaction state. */
static const char *code_for(const char *ts, const char *fraud)
{
    if (strcmp(ts, "pending") == 0)
        return "201";
    if (strcmp(ts, "capture") == 0 && strcmp(fraud, "challenge") == 0)
        return "201";
    if (strcmp(ts, "deny") == 0 || strcmp(ts, "failure") == 0)
        return "202";
    if (strcmp(ts, "expire") == 0)
        return "407";
    return "200";
}

/* "2026-11-25 22:30:00" in Jakarta time, as Midtrans writes times. */
static void wib_now(char *buf, size_t len)
{
    time_t t = time(NULL) + 7 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void make_uuid(dm_midtrans_sim *sim, char *buf, size_t len)
{
    unsigned long s = ++sim->seq;
    snprintf(buf, len, "%08lx-%04x-4%03lx-8%03x-%012lx", (unsigned long)time(NULL) & 0xffffffffUL,
             (unsigned)sim->port & 0xffff, s & 0xfff, (unsigned)(s >> 12) & 0xfff, s);
}

static dm_midtrans_sim_order_t *find(dm_midtrans_sim *sim, const char *id)
{
    for (size_t i = 0; i < sim->n_orders; i++) {
        if (strcmp(sim->orders[i].order_id, id) == 0)
            return &sim->orders[i];
    }
    return NULL;
}

/* The order a /v2/{id} path names: Midtrans takes its order id or its
 * transaction id there (mu held). */
static dm_midtrans_sim_order_t *find_v2(dm_midtrans_sim *sim, const char *id)
{
    dm_midtrans_sim_order_t *o = find(sim, id);
    for (size_t i = 0; o == NULL && i < sim->n_orders; i++) {
        if (strcmp(sim->orders[i].transaction_id, id) == 0)
            o = &sim->orders[i];
    }
    return o;
}

/* Add an order (mu held). NULL when out of memory. */
static dm_midtrans_sim_order_t *add(dm_midtrans_sim *sim, const char *id, int64_t amount,
                                    const char *payment_type)
{
    if (sim->n_orders == sim->cap_orders) {
        size_t cap = sim->cap_orders != 0 ? sim->cap_orders * 2 : 16;
        dm_midtrans_sim_order_t *n = realloc(sim->orders, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        sim->orders = n;
        sim->cap_orders = cap;
    }
    dm_midtrans_sim_order_t *o = &sim->orders[sim->n_orders++];
    memset(o, 0, sizeof *o);
    snprintf(o->order_id, sizeof o->order_id, "%s", id);
    snprintf(o->payment_type, sizeof o->payment_type, "%s", payment_type);
    snprintf(o->transaction_status, sizeof o->transaction_status, "pending");
    snprintf(o->fraud_status, sizeof o->fraud_status, "accept");
    make_uuid(sim, o->transaction_id, sizeof o->transaction_id);
    make_uuid(sim, o->token, sizeof o->token);
    o->amount = amount;
    return o;
}

/* The status / notification JSON for o as it stands (mu held), with
 * transaction_status ts, gross amount `amount` and signature by `key`
 * (NULL = no signature_key). New object or NULL. */
static json_t *status_json(const dm_midtrans_sim_order_t *o, const char *ts, int64_t amount,
                           const char *key, const char *message)
{
    char gross[32], when[32];
    snprintf(gross, sizeof gross, "%lld.00", (long long)amount);
    wib_now(when, sizeof when);
    const char *code = code_for(ts, o->fraud_status);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                          "transaction_time", when, "transaction_status", ts, "transaction_id",
                          o->transaction_id, "status_message", message, "status_code", code,
                          "payment_type", o->payment_type, "order_id", o->order_id,
                          "merchant_id", MERCHANT_ID, "gross_amount", gross, "currency", "IDR",
                          "expiry_time", when);
    if (j == NULL)
        return NULL;
    if (o->fraud_status[0] != '\0')
        json_object_set_new(j, "fraud_status", json_string(o->fraud_status));
    if (strcmp(ts, "settlement") == 0)
        json_object_set_new(j, "settlement_time", json_string(when));
    if (key != NULL) {
        char *sig = dm_midtrans_sim_signature(o->order_id, code, gross, key);
        json_object_set_new(j, "signature_key", sig != NULL ? json_string(sig) : json_null());
        free(sig);
    }
    return j;
}

static char *dump(json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static void reply_json(sim_reply *rep, int status, json_t *j)
{
    rep->status = status;
    rep->body = dump(j);
}

static void snap_error(sim_reply *rep, int status, const char *msg)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    reply_json(rep, status,
               json_pack("{s:s, s:[s]}", "status_code", code, "error_messages", msg));
}

/* A /v2 answer without a transaction: {"status_code","status_message","id"}. */
static void v2_error(dm_midtrans_sim *sim, sim_reply *rep, int code, const char *msg)
{
    char scode[8], id[64];
    snprintf(scode, sizeof scode, "%d", code);
    make_uuid(sim, id, sizeof id);
    reply_json(rep, sim->mirror ? code : 200,
               json_pack("{s:s, s:s, s:s}", "status_code", scode, "status_message", msg, "id",
                         id));
}

/* ---- routes (mu held) ----------------------------------------------- */

static const char *payment_type_for(const json_t *enabled)
{
    const char *id = json_array_size(enabled) == 1
                         ? json_string_value(json_array_get(enabled, 0)) : NULL;
    if (id == NULL)
        return "bank_transfer";
    size_t n = strlen(id);
    if (n > 3 && strcmp(id + n - 3, "_va") == 0)
        return "bank_transfer";
    if (strcmp(id, "other_qris") == 0 || strcmp(id, "qris") == 0)
        return "qris";
    if (strcmp(id, "indomaret") == 0 || strcmp(id, "alfamart") == 0)
        return "cstore";
    return id; /* gopay, shopeepay, echannel, credit_card, akulaku … */
}

/* Validate the optional parts of a create body; NULL or the complaint. */
static const char *check_optional(const json_t *body)
{
    const json_t *ep = json_object_get(body, "enabled_payments");
    size_t i;
    const json_t *v;
    if (ep != NULL && !json_is_array(ep))
        return "enabled_payments must be an array";
    json_array_foreach(ep, i, v) {
        if (!json_is_string(v))
            return "enabled_payments must hold strings";
    }
    const json_t *ex = json_object_get(body, "expiry");
    if (ex != NULL) {
        const char *unit = json_string_value(json_object_get(ex, "unit"));
        const json_t *d = json_object_get(ex, "duration");
        static const char *const units[] = { "minute", "minutes", "hour", "hours", "day",
                                             "days" };
        bool unit_ok = false;
        for (size_t u = 0; unit != NULL && u < sizeof units / sizeof units[0]; u++)
            unit_ok |= strcmp(unit, units[u]) == 0;
        if (!unit_ok || !json_is_integer(d) || json_integer_value(d) <= 0)
            return "expiry.unit must be minute, hour or day and expiry.duration a positive integer";
    }
    const json_t *cd = json_object_get(body, "customer_details");
    if (cd != NULL && !json_is_object(cd))
        return "customer_details must be an object";
    return NULL;
}

static void snap_create(dm_midtrans_sim *sim, const sim_req *req, sim_reply *rep)
{
    sim->c.creates++;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_decref(sim->last_create);
    sim->last_create = json_incref(body);
    const json_t *td = json_object_get(body, "transaction_details");
    const char *id = json_string_value(json_object_get(td, "order_id"));
    const json_t *gross = json_object_get(td, "gross_amount");
    const char *bad = NULL;
    if (!json_is_object(body))
        bad = "The request body is not valid JSON";
    else if (!json_is_object(td))
        bad = "transaction_details is required";
    else if (!order_id_ok(id))
        bad = "transaction_details.order_id is required and may hold only A-Z a-z 0-9 - _ . ~";
    else if (!json_is_integer(gross) || json_integer_value(gross) <= 0)
        bad = "transaction_details.gross_amount must be an integer greater than 0";
    else
        bad = check_optional(body);
    if (bad != NULL) {
        snap_error(rep, 400, bad);
    } else if (find(sim, id) != NULL) {
        snap_error(rep, 406, "transaction_details.order_id has already been utilized previously");
    } else {
        dm_midtrans_sim_order_t *o = add(sim, id, json_integer_value(gross),
                                         payment_type_for(json_object_get(body,
                                                                          "enabled_payments")));
        char url[256];
        if (o != NULL)
            snprintf(url, sizeof url, "http://127.0.0.1:%d/snap/v4/redirection/%s", sim->port,
                     o->token);
        if (o == NULL)
            snap_error(rep, 500, "out of memory");
        else
            reply_json(rep, 201, json_pack("{s:s, s:s}", "token", o->token, "redirect_url", url));
    }
    json_decref(body);
}

static void v2_status(dm_midtrans_sim *sim, dm_midtrans_sim_order_t *o, sim_reply *rep)
{
    sim->c.status_queries++;
    if (o == NULL) {
        v2_error(sim, rep, 404, "Transaction doesn't exist.");
        return;
    }
    json_t *j = status_json(o, o->transaction_status,
                            sim->status_amount >= 0 ? sim->status_amount : o->amount, sim->key,
                            "Success, transaction is found");
    int code = (int)strtol(code_for(o->transaction_status, o->fraud_status), NULL, 10);
    reply_json(rep, sim->mirror ? code : 200, j);
}

static void v2_cancel(dm_midtrans_sim *sim, dm_midtrans_sim_order_t *o, sim_reply *rep)
{
    sim->c.cancels++;
    if (o == NULL) {
        v2_error(sim, rep, 404, "Transaction doesn't exist.");
        return;
    }
    if (sim->pay_before_cancel && strcmp(o->transaction_status, "pending") == 0)
        snprintf(o->transaction_status, sizeof o->transaction_status, "settlement");
    const char *ts = o->transaction_status;
    bool can = strcmp(ts, "pending") == 0 || strcmp(ts, "authorize") == 0 ||
               (strcmp(ts, "capture") == 0 && strcmp(o->fraud_status, "challenge") == 0);
    if (!can) {
        v2_error(sim, rep, 412, "Merchant cannot modify the status of the transaction");
        return;
    }
    snprintf(o->transaction_status, sizeof o->transaction_status, "cancel");
    reply_json(rep, 200, status_json(o, "cancel", o->amount, sim->key,
                                     "Success, transaction is canceled"));
}

static void v2_refund(dm_midtrans_sim *sim, dm_midtrans_sim_order_t *o, const sim_req *req,
                      sim_reply *rep)
{
    sim->c.refunds++;
    if (o == NULL) {
        v2_error(sim, rep, 404, "Transaction doesn't exist.");
        return;
    }
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const json_t *amt = json_object_get(body, "amount");
    int64_t left = o->amount - o->refunded;
    int64_t want = amt != NULL ? (int64_t)json_integer_value(amt) : left;
    bool ok_state = strcmp(o->transaction_status, "settlement") == 0 ||
                    strcmp(o->transaction_status, "partial_refund") == 0 ||
                    (strcmp(o->transaction_status, "capture") == 0 &&
                     strcmp(o->fraud_status, "accept") == 0);
    bool ok_body = req->body_len == 0 || (json_is_object(body) &&
                                          (amt == NULL || json_is_integer(amt)));
    json_decref(body);
    if (!ok_body || want <= 0) {
        v2_error(sim, rep, 400, "amount must be a positive integer");
    } else if (!ok_state || want > left) {
        v2_error(sim, rep, 412, "Merchant cannot modify the status of the transaction");
    } else {
        o->refunded += want;
        snprintf(o->transaction_status, sizeof o->transaction_status, "%s",
                 o->refunded == o->amount ? "refund" : "partial_refund");
        json_t *j = status_json(o, o->transaction_status, o->amount, sim->key,
                                "Success, refund request is approved");
        if (j != NULL)
            json_object_set_new(j, "refund_amount", json_integer(want));
        reply_json(rep, 200, j);
    }
}

/* "/v2/{id}/{verb}" → id and verb; false otherwise. */
static bool split_v2(const char *path, char *id, size_t id_len, const char **verb)
{
    if (strncmp(path, "/v2/", 4) != 0)
        return false;
    const char *s = path + 4;
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= id_len)
        return false;
    memcpy(id, s, (size_t)(slash - s));
    id[slash - s] = '\0';
    if (!order_id_ok(id))
        return false;
    *verb = slash + 1;
    return true;
}

/* Injected failure or hang for this request? (mu held) */
static bool injected(dm_midtrans_sim *sim, sim_reply *rep)
{
    if (sim->hang_n > 0) {
        sim->hang_n--;
        sim->c.injected++;
        rep->hang = true;
        return true;
    }
    if (sim->fail_n > 0) {
        sim->fail_n--;
        sim->c.injected++;
        char code[8];
        snprintf(code, sizeof code, "%d", sim->fail_status);
        reply_json(rep, sim->fail_status,
                   json_pack("{s:s, s:s}", "status_code", code, "status_message",
                             "Sorry. Our system is recovering from unexpected issues. "
                             "Please retry."));
        return true;
    }
    return false;
}

static void handle(void *ud, const sim_req *req, sim_reply *rep)
{
    dm_midtrans_sim *sim = ud;
    pthread_mutex_lock(&sim->mu);
    free(sim->last_auth);
    sim->last_auth = req->auth != NULL ? strdup(req->auth) : NULL;
    char id[64];
    const char *verb = NULL;
    bool post = strcmp(req->method, "POST") == 0, get = strcmp(req->method, "GET") == 0;
    if (injected(sim, rep)) {
        /* answered (or hung) without looking further */
    } else if (req->auth == NULL || strcmp(req->auth, sim->auth) != 0) {
        sim->c.auth_failures++;
        reply_json(rep, 401,
                   json_pack("{s:s, s:s, s:[s, s]}", "status_code", "401", "status_message",
                             "Transaction cannot be authorized with the current client/server key.",
                             "error_messages",
                             "Access denied due to unauthorized transaction, please check "
                             "client or server key",
                             "Visit https://snap-docs.midtrans.com/#request-headers for more "
                             "details"));
    } else if (post && strcmp(req->path, "/snap/v1/transactions") == 0) {
        snap_create(sim, req, rep);
    } else if (split_v2(req->path, id, sizeof id, &verb) && get && strcmp(verb, "status") == 0) {
        v2_status(sim, find_v2(sim, id), rep);
    } else if (verb != NULL && post && strcmp(verb, "cancel") == 0) {
        v2_cancel(sim, find_v2(sim, id), rep);
    } else if (verb != NULL && post && strcmp(verb, "refund") == 0) {
        v2_refund(sim, find_v2(sim, id), req, rep);
    } else {
        v2_error(sim, rep, 404, "The requested resource is not found");
        rep->status = 404;
    }
    pthread_mutex_unlock(&sim->mu);
}

/* ---- lifecycle and steering ----------------------------------------- */

dm_midtrans_sim *dm_midtrans_sim_start(const char *server_key)
{
    dm_midtrans_sim *sim = calloc(1, sizeof *sim);
    if (sim == NULL)
        return NULL;
    sim->key = strdup(server_key);
    sim->auth = basic_auth(server_key);
    sim->status_amount = -1;
    pthread_mutex_init(&sim->mu, NULL);
    if (sim->key != NULL && sim->auth != NULL)
        sim->http = sim_http_start(handle, sim, &sim->port);
    if (sim->http == NULL) {
        free(sim->key);
        free(sim->auth);
        pthread_mutex_destroy(&sim->mu);
        free(sim);
        return NULL;
    }
    snprintf(sim->snap_base, sizeof sim->snap_base, "http://127.0.0.1:%d/snap/v1", sim->port);
    snprintf(sim->api_base, sizeof sim->api_base, "http://127.0.0.1:%d", sim->port);
    return sim;
}

void dm_midtrans_sim_stop(dm_midtrans_sim *sim)
{
    if (sim == NULL)
        return;
    sim_http_stop(sim->http);
    pthread_mutex_destroy(&sim->mu);
    json_decref(sim->last_create);
    free(sim->last_auth);
    free(sim->orders);
    free(sim->key);
    free(sim->auth);
    free(sim);
}

int dm_midtrans_sim_port(const dm_midtrans_sim *sim)
{
    return sim->port;
}

const char *dm_midtrans_sim_snap_base(const dm_midtrans_sim *sim)
{
    return sim->snap_base;
}

const char *dm_midtrans_sim_api_base(const dm_midtrans_sim *sim)
{
    return sim->api_base;
}

bool dm_midtrans_sim_order(dm_midtrans_sim *sim, const char *order_id,
                           dm_midtrans_sim_order_t *out)
{
    pthread_mutex_lock(&sim->mu);
    const dm_midtrans_sim_order_t *o = find(sim, order_id);
    if (o != NULL)
        *out = *o;
    pthread_mutex_unlock(&sim->mu);
    return o != NULL;
}

int dm_midtrans_sim_add_order(dm_midtrans_sim *sim, const char *order_id, int64_t amount,
                              const char *payment_type)
{
    pthread_mutex_lock(&sim->mu);
    int rc = find(sim, order_id) == NULL && order_id_ok(order_id) &&
                     add(sim, order_id, amount, payment_type != NULL ? payment_type
                                                                     : "bank_transfer") != NULL
                 ? 0 : -1;
    pthread_mutex_unlock(&sim->mu);
    return rc;
}

int dm_midtrans_sim_set_status(dm_midtrans_sim *sim, const char *order_id,
                               const char *transaction_status, const char *fraud_status)
{
    pthread_mutex_lock(&sim->mu);
    dm_midtrans_sim_order_t *o = find(sim, order_id);
    if (o != NULL) {
        snprintf(o->transaction_status, sizeof o->transaction_status, "%s", transaction_status);
        snprintf(o->fraud_status, sizeof o->fraud_status, "%s",
                 fraud_status != NULL ? fraud_status : "");
    }
    pthread_mutex_unlock(&sim->mu);
    return o != NULL ? 0 : -1;
}

void dm_midtrans_sim_fail_next(dm_midtrans_sim *sim, int n, int http_status)
{
    pthread_mutex_lock(&sim->mu);
    sim->fail_n = n;
    sim->fail_status = http_status;
    pthread_mutex_unlock(&sim->mu);
}

void dm_midtrans_sim_hang_next(dm_midtrans_sim *sim, int n)
{
    pthread_mutex_lock(&sim->mu);
    sim->hang_n = n;
    pthread_mutex_unlock(&sim->mu);
}

void dm_midtrans_sim_set_http_mirror(dm_midtrans_sim *sim, bool on)
{
    pthread_mutex_lock(&sim->mu);
    sim->mirror = on;
    pthread_mutex_unlock(&sim->mu);
}

dm_midtrans_sim_counters_t dm_midtrans_sim_counters(dm_midtrans_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    dm_midtrans_sim_counters_t c = sim->c;
    pthread_mutex_unlock(&sim->mu);
    return c;
}

json_t *dm_midtrans_sim_last_create(dm_midtrans_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    json_t *j = sim->last_create != NULL ? json_deep_copy(sim->last_create) : NULL;
    pthread_mutex_unlock(&sim->mu);
    return j;
}

char *dm_midtrans_sim_last_auth(dm_midtrans_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    char *s = sim->last_auth != NULL ? strdup(sim->last_auth) : NULL;
    pthread_mutex_unlock(&sim->mu);
    return s;
}

/* ---- notifications -------------------------------------------------- */

char *dm_midtrans_sim_notification(dm_midtrans_sim *sim, const char *order_id,
                                   const char *transaction_status, unsigned flags)
{
    pthread_mutex_lock(&sim->mu);
    dm_midtrans_sim_order_t scratch;
    dm_midtrans_sim_order_t *o = find(sim, order_id);
    bool genuine = (flags & (DM_MIDTRANS_FORGED | DM_MIDTRANS_UNSIGNED)) == 0;
    if (o != NULL && genuine && (flags & DM_MIDTRANS_KEEP_STATUS) == 0) {
        snprintf(o->transaction_status, sizeof o->transaction_status, "%s", transaction_status);
        if (strcmp(transaction_status, "capture") == 0 && o->fraud_status[0] == '\0')
            snprintf(o->fraud_status, sizeof o->fraud_status, "accept");
    }
    if (o == NULL) {
        /* An order the gateway never had: for "unknown order" tests. */
        memset(&scratch, 0, sizeof scratch);
        snprintf(scratch.order_id, sizeof scratch.order_id, "%s", order_id);
        snprintf(scratch.payment_type, sizeof scratch.payment_type, "bank_transfer");
        snprintf(scratch.fraud_status, sizeof scratch.fraud_status, "accept");
        make_uuid(sim, scratch.transaction_id, sizeof scratch.transaction_id);
        scratch.amount = 10000;
        o = &scratch;
    }
    char forged_key[256];
    snprintf(forged_key, sizeof forged_key, "forged-%s", sim->key);
    const char *key = (flags & DM_MIDTRANS_UNSIGNED) != 0 ? NULL
                      : (flags & DM_MIDTRANS_FORGED) != 0 ? forged_key
                                                          : sim->key;
    int64_t amount = o->amount + ((flags & DM_MIDTRANS_WRONG_AMOUNT) != 0 ? 1000 : 0);
    json_t *j = status_json(o, transaction_status, amount, key, "midtrans payment notification");
    pthread_mutex_unlock(&sim->mu);
    return dump(j);
}

int dm_midtrans_sim_post(int port, const char *path, const char *body, size_t len,
                         int *http_status_out, char **body_out)
{
    return sim_http_post(port, path, body, len, http_status_out, body_out);
}

int dm_midtrans_sim_notify(dm_midtrans_sim *sim, int dermaga_port, const char *path,
                           const char *order_id, const char *transaction_status,
                           unsigned flags, int *http_status_out)
{
    char *body = dm_midtrans_sim_notification(sim, order_id, transaction_status, flags);
    if (body == NULL)
        return -1;
    pthread_mutex_lock(&sim->mu);
    sim->c.notifications++;
    pthread_mutex_unlock(&sim->mu);
    int rc = sim_http_post(dermaga_port, path, body, strlen(body), http_status_out, NULL);
    free(body);
    return rc;
}

void dm_midtrans_sim_pay_before_cancel(dm_midtrans_sim *sim, bool on)
{
    pthread_mutex_lock(&sim->mu);
    sim->pay_before_cancel = on;
    pthread_mutex_unlock(&sim->mu);
}

void dm_midtrans_sim_set_status_amount(dm_midtrans_sim *sim, int64_t amount)
{
    pthread_mutex_lock(&sim->mu);
    sim->status_amount = amount;
    pthread_mutex_unlock(&sim->mu);
}

int dm_midtrans_sim_forget(dm_midtrans_sim *sim, const char *order_id)
{
    pthread_mutex_lock(&sim->mu);
    dm_midtrans_sim_order_t *o = find(sim, order_id);
    if (o != NULL)
        *o = sim->orders[--sim->n_orders];
    pthread_mutex_unlock(&sim->mu);
    return o != NULL ? 0 : -1;
}

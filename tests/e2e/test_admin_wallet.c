/*
 * test_admin_wallet.c — the administrators' money routes through the real
 * binary: signed credit adjustments (and their refusals, also under 20
 * concurrent debits), the filtered ledger, statistics, and confirming or
 * rejecting manual transfers exactly once. Every test ends by checking the
 * ledger invariant (ledger_violations() is empty).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"
#define USER_EMAIL "user@example.id"
#define USER_PASS "user-pass-123"

static char *url;
static dm_e2e_server srv;
static char *user_token; /* USER_EMAIL's access token once registered */

static void setup(void)
{
    url = dm_test_db_create_migrated("admin_wallet_e2e");
    /* Enough workers and queue for the concurrency tests' 20 requests; the
     * payment-manual plugin for users' top-ups. */
    json_t *o = json_pack("{s:{s:s,s:i,s:i},s:{s:s,s:s},s:{s:[{s:s},{s:s}]}}", "database", "url", url, "workers", 4,
                          "queueDepth", 64, "auth", "adminEmail", ADMIN_EMAIL, "adminPassword", ADMIN_PASS,
                          "plugins", "enabled", "name", "auth-local", "name", "payment-manual");
    ck_assert_msg(o != NULL, "cannot build the config overrides");
    const char *pdir = getenv("DERMAGA_TEST_PLUGIN_DIR");
    if (pdir != NULL && pdir[0] != '\0')
        json_object_set_new(json_object_get(o, "plugins"), "dir", json_string(pdir));
    dm_e2e_server_start(&srv, o);
}

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
    dm_e2e_server_free(&srv);
    dm_test_db_drop(url);
    free(url);
    free(user_token);
    user_token = NULL;
}

/* The invariant every test must leave behind: each balance equals the sum
 * of its user's SUCCESS ledger amounts. */
#define EXPECT_LEDGER_CONSISTENT() DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()")

/* One request; returns the status and (when json_out) the parsed body. */
static int call(const char *method, const char *path, const char *token, const char *body, json_t **json_out)
{
    return dm_e2e_call_port(srv.port, method, path, token, body, json_out);
}

/* Log in (or register first) and return a new access token; *id gets the user id. */
static char *session(const char *email, const char *password, bool do_register, char id[37])
{
    return dm_e2e_session_port(srv.port, email, password, do_register, id);
}

/* Register USER_EMAIL, keep its token in user_token; *id its user id. */
static void register_user(char id[37])
{
    user_token = session(USER_EMAIL, USER_PASS, true, id);
}

#define jpath dm_e2e_jpath
#define jint dm_e2e_jint
#define jstr dm_e2e_jstr

/* POST /api/admin/users/:uid/credits with body; the status, and *doc. */
static int adjust(const char *tok, const char *uid, const char *body, json_t **doc)
{
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    return call("POST", path, tok, body, doc);
}

/* Expect 400 VALIDATION_ERROR naming field. */
static void expect_invalid(int st, json_t *doc, const char *field, const char *what)
{
    ck_assert_msg(st == 400, "%s: status %d, want 400", what, st);
    ck_assert_str_eq(jstr(doc, "error.code"), "VALIDATION_ERROR");
    const char *got = jstr(doc, "error.details.0.field");
    ck_assert_msg(strcmp(got, field) == 0, "%s: field \"%s\", want \"%s\"", what, got, field);
}

/* Expect status with error.code (and free doc). */
static void expect_error(int st, json_t *doc, int want, const char *code, const char *what)
{
    ck_assert_msg(st == want, "%s: status %d, want %d", what, st, want);
    ck_assert_msg(strcmp(jstr(doc, "error.code"), code) == 0, "%s: code %s, want %s", what, jstr(doc, "error.code"),
                  code);
    json_decref(doc);
}

/* The user's balance as the database has it. */
static long long balance_of(const char *uid)
{
    char *v = dm_test_db_scalarf(url, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* A pending top-up of amount for uid (USER_EMAIL, registered); its uuid
 * into id and TXMP id into custom. A "manual" one is asked for by the user
 * through POST /api/wallet/topup; another gateway's row is written as that
 * gateway's route would leave it (no such gateway runs in this suite). */
static void pending_topup(const char *uid, long long amount, const char *gateway, char id[37], char custom[32])
{
    if (strcmp(gateway, "manual") == 0) {
        ck_assert_msg(user_token != NULL, "pending_topup: register the user first");
        char body[160];
        snprintf(body, sizeof body, "{\"amount\":%lld,\"paymentMethod\":\"bank_transfer\",\"gateway\":\"manual\"}",
                 amount);
        json_t *doc = NULL;
        int st = call("POST", "/api/wallet/topup", user_token, body, &doc);
        ck_assert_msg(st == 201, "POST /api/wallet/topup: status %d", st);
        ck_assert_str_eq(jstr(doc, "data.transaction.status"), "PENDING");
        ck_assert_str_eq(jstr(doc, "data.transaction.userId"), uid);
        snprintf(id, 37, "%s", jstr(doc, "data.transaction.id"));
        snprintf(custom, 32, "%s", jstr(doc, "data.transaction.customId"));
        json_decref(doc);
        return;
    }
    char *v = dm_test_db_scalarf(url,
                                 "INSERT INTO transactions (user_id, type, status, amount, gateway, payment_method, "
                                 "expires_at) VALUES ('%s', 'TOPUP', 'PENDING', %lld, '%s', 'bank_transfer', "
                                 "now() + interval '1 day') RETURNING id || ' ' || custom_id",
                                 uid, amount, gateway);
    ck_assert_msg(sscanf(v, "%36s %31s", id, custom) == 2, "pending top-up: got \"%s\"", v);
    free(v);
}

/* ---- credits ------------------------------------------------------------ */

START_TEST(credits_up_and_down_write_ledger_rows_audit_and_balances)
{
    char uid[37];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    json_t *doc = NULL;
    int st = adjust(tok, uid, "{\"amount\":75000,\"reason\":\"goodwill for outage #12\"}", &doc);
    ck_assert_msg(st == 201, "credit: status %d", st);
    ck_assert_int_eq(jint(doc, "data.balance"), 75000);
    ck_assert_str_eq(jstr(doc, "data.transaction.type"), "ADJUSTMENT");
    ck_assert_str_eq(jstr(doc, "data.transaction.status"), "SUCCESS");
    ck_assert_int_eq(jint(doc, "data.transaction.amount"), 75000);
    ck_assert_int_eq(jint(doc, "data.transaction.balanceBefore"), 0);
    ck_assert_int_eq(jint(doc, "data.transaction.balanceAfter"), 75000);
    ck_assert_str_eq(jstr(doc, "data.transaction.userId"), uid);
    ck_assert_str_eq(jstr(doc, "data.transaction.description"), "goodwill for outage #12");
    ck_assert_str_eq(jstr(doc, "data.transaction.metadata.by.role"), "ADMINISTRATOR");
    char *meta = json_dumps(jpath(doc, "data.transaction.metadata"), 0);
    ck_assert_msg(meta != NULL && strstr(meta, ADMIN_EMAIL) == NULL,
                  "the user's ledger row does not name the administrator: %s", meta ? meta : "(none)");
    free(meta);
    json_decref(doc);
    st = adjust(tok, uid, "{\"amount\":-25000,\"reason\":\"double credit corrected\"}", &doc);
    ck_assert_msg(st == 201, "debit: status %d", st);
    ck_assert_int_eq(jint(doc, "data.balance"), 50000);
    ck_assert_int_eq(jint(doc, "data.transaction.amount"), -25000);
    ck_assert_int_eq(jint(doc, "data.transaction.balanceBefore"), 75000);
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 50000);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM transactions WHERE user_id = '%s' AND type = 'ADJUSTMENT' "
                            "AND status = 'SUCCESS'", uid);
    DM_EXPECT_SQL(url, "75000 50000 double credit corrected",
                  "SELECT (before->>'creditBalance') || ' ' || (after->>'creditBalance') || ' ' || reason "
                  "FROM audit_log WHERE action = 'wallet.adjust' AND target_type = 'user' AND target_id = '%s' "
                  "ORDER BY created_at DESC LIMIT 1", uid);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM audit_log WHERE action = 'wallet.adjust' "
                            "AND after->'transaction'->>'type' = 'ADJUSTMENT'");
    /* The admin view of the user agrees. */
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", uid);
    ck_assert_int_eq(call("GET", path, tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "data.creditBalance"), 50000);
    json_decref(doc);
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(debit_below_zero_is_refused_and_writes_nothing)
{
    char uid[37];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":1000,\"reason\":\"seed\"}", NULL), 201);
    json_t *doc = NULL;
    int st = adjust(tok, uid, "{\"amount\":-1001,\"reason\":\"too much\"}", &doc);
    expect_error(st, doc, 409, "INSUFFICIENT_CREDITS", "debit below zero");
    ck_assert_int_eq(balance_of(uid), 1000);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'wallet.adjust'");
    /* Down to exactly zero is allowed. */
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":-1000,\"reason\":\"to zero\"}", NULL), 201);
    ck_assert_int_eq(balance_of(uid), 0);
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(unknown_user_is_404)
{
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    json_t *doc = NULL;
    int st = adjust(tok, "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", "{\"amount\":5,\"reason\":\"x\"}", &doc);
    expect_error(st, doc, 404, "NOT_FOUND", "unknown uuid");
    st = adjust(tok, "not-a-uuid", "{\"amount\":5,\"reason\":\"x\"}", &doc);
    expect_error(st, doc, 404, "NOT_FOUND", "malformed id");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action = 'wallet.adjust'");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(credit_bodies_are_validated)
{
    char uid[37];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    char *long_reason = dm_e2e_filler(2001, 'r');
    char long_body[2100];
    snprintf(long_body, sizeof long_body, "{\"amount\":5,\"reason\":\"%s\"}", long_reason);
    struct { const char *body, *field; } cases[] = {
        { "{\"amount\":100}", "reason" },
        { "{\"amount\":100,\"reason\":\"\"}", "reason" },
        { "{\"amount\":100,\"reason\":\"   \"}", "reason" },
        { "{\"amount\":100,\"reason\":7}", "reason" },
        { long_body, "reason" },
        { "{\"reason\":\"no amount\"}", "amount" },
        { "{\"amount\":0,\"reason\":\"zero\"}", "amount" },
        { "{\"amount\":1.5,\"reason\":\"fraction\"}", "amount" },
        { "{\"amount\":\"100\",\"reason\":\"string\"}", "amount" },
        { "{\"amount\":1000000001,\"reason\":\"typo\"}", "amount" },
        { "{\"amount\":-1000000001,\"reason\":\"typo\"}", "amount" },
        { "{\"amount\":100,\"reason\":\"x\",\"creditBalance\":5}", "creditBalance" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = NULL;
        int st = adjust(tok, uid, cases[i].body, &doc);
        char what[96];
        snprintf(what, sizeof what, "case %zu (%.50s)", i, cases[i].body);
        expect_invalid(st, doc, cases[i].field, what);
        json_decref(doc);
    }
    /* 2000 characters of multi-byte text is within bounds. */
    json_t *ok = json_pack("{s:i,s:s}", "amount", 5, "reason", "");
    char *reason = malloc(2000 * 2 + 1);
    ck_assert(reason != NULL);
    for (int i = 0; i < 2000; i++)
        memcpy(reason + 2 * i, "\xc3\xa9", 2);
    reason[4000] = '\0';
    json_object_set_new(ok, "reason", json_string(reason));
    char *body = json_dumps(ok, 0);
    ck_assert_int_eq(adjust(tok, uid, body, NULL), 201);
    free(body);
    free(reason);
    json_decref(ok);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'wallet.adjust'");
    ck_assert_int_eq(balance_of(uid), 5);
    EXPECT_LEDGER_CONSISTENT();
    free(long_reason);
    free(tok);
}
END_TEST

START_TEST(user_gets_403_and_anonymous_401_on_every_money_route)
{
    char uid[37], id[37], custom[32];
    register_user(uid);
    const char *tok = user_token;
    pending_topup(uid, 50000, "manual", id, custom);
    char credits[128], confirm[128], reject[128];
    snprintf(credits, sizeof credits, "/api/admin/users/%s/credits", uid);
    snprintf(confirm, sizeof confirm, "/api/admin/transactions/%s/confirm", id);
    snprintf(reject, sizeof reject, "/api/admin/transactions/%s/reject", id);
    struct { const char *method, *path, *body; } routes[] = {
        { "POST", credits, "{\"amount\":100000,\"reason\":\"self-service\"}" },
        { "GET", "/api/admin/transactions", NULL },
        { "GET", "/api/admin/stats", NULL },
        { "POST", confirm, "{}" },
        { "POST", reject, "{\"reason\":\"x\"}" },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        json_t *doc = NULL;
        int st = call(routes[i].method, routes[i].path, tok, routes[i].body, &doc);
        ck_assert_msg(st == 403, "%s %s as USER: %d", routes[i].method, routes[i].path, st);
        ck_assert_str_eq(jstr(doc, "error.code"), "FORBIDDEN");
        json_decref(doc);
        st = call(routes[i].method, routes[i].path, NULL, routes[i].body, NULL);
        ck_assert_msg(st == 401, "%s %s without a token: %d", routes[i].method, routes[i].path, st);
    }
    ck_assert_int_eq(balance_of(uid), 0);
    DM_EXPECT_SQL(url, "PENDING", "SELECT status FROM transactions WHERE id = '%s'", id);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action LIKE 'wallet.%%'");
    EXPECT_LEDGER_CONSISTENT();
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

typedef struct racer {
    pthread_barrier_t *start;
    int                port;
    const char        *request;
    int                status; /* the answer, or a DM_E2E_* code */
} racer;

/* One request on its own connection, released with the others at once.
 * No Check asserts off the main thread: the result is only recorded. */
static void *race(void *arg)
{
    racer *x = arg;
    pthread_barrier_wait(x->start);
    dm_e2e_response res;
    int rc = dm_e2e_roundtrip(x->port, x->request, &res, 30000);
    x->status = rc == 0 ? res.status : rc;
    if (rc == 0)
        dm_e2e_response_free(&res);
    return NULL;
}

/* Send request n times in parallel; count the answers with each status. */
static void race_requests(const char *request, int n, int *ok_status_count, int ok_status, int *conflicts)
{
    pthread_t th[32];
    racer rs[32];
    pthread_barrier_t start;
    ck_assert(n <= 32);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        rs[i] = (racer){ .start = &start, .port = srv.port, .request = request, .status = 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    *ok_status_count = *conflicts = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(rs[i].status == ok_status || rs[i].status == 409, "racer %d: status %d (%s)", i, rs[i].status,
                      rs[i].status < 0 ? dm_e2e_strerror(rs[i].status) : "http");
        *ok_status_count += rs[i].status == ok_status;
        *conflicts += rs[i].status == 409;
    }
    pthread_barrier_destroy(&start);
}

START_TEST(twenty_concurrent_debits_never_overdraw)
{
    char uid[37];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":100000,\"reason\":\"float\"}", NULL), 201);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    char *req = dm_e2e_auth_request("POST", path, tok, "{\"amount\":-10000,\"reason\":\"parallel debit\"}");
    int ok, conflicts;
    race_requests(req, 20, &ok, 201, &conflicts);
    free(req);
    ck_assert_msg(ok == 10 && conflicts == 10, "%d debits succeeded and %d were refused, want 10 and 10", ok,
                  conflicts);
    ck_assert_int_eq(balance_of(uid), 0);
    DM_EXPECT_SQL(url, "10", "SELECT count(*) FROM transactions WHERE amount = -10000 AND status = 'SUCCESS'");
    DM_EXPECT_SQL(url, "11", "SELECT count(*) FROM audit_log WHERE action = 'wallet.adjust'");
    /* Each successful debit saw a distinct balance: no two read the same one. */
    DM_EXPECT_SQL(url, "10", "SELECT count(DISTINCT balance_before) FROM transactions WHERE amount = -10000");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

/* ---- manual transfers --------------------------------------------------- */

START_TEST(manual_topup_confirmed_credits_exactly_once)
{
    char uid[37], id[37], custom[32];
    register_user(uid);
    pending_topup(uid, 50000, "manual", id, custom);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", custom);
    json_t *doc = NULL;
    int st = call("POST", path, tok, "{\"reason\":\"BCA mutation 25/11 matched\"}", &doc);
    ck_assert_msg(st == 200, "confirm by TXMP id: status %d", st);
    ck_assert_str_eq(jstr(doc, "data.id"), id);
    ck_assert_str_eq(jstr(doc, "data.status"), "SUCCESS");
    ck_assert_int_eq(jint(doc, "data.balanceBefore"), 0);
    ck_assert_int_eq(jint(doc, "data.balanceAfter"), 50000);
    ck_assert_str_eq(jstr(doc, "data.metadata.settlement.by.role"), "ADMINISTRATOR");
    ck_assert_str_eq(jstr(doc, "data.metadata.settlement.reason"), "BCA mutation 25/11 matched");
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 50000);
    /* Again, by uuid and with no body: refused, nothing credited twice. */
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", id);
    st = call("POST", path, tok, NULL, &doc);
    expect_error(st, doc, 409, "INVALID_STATE", "second confirm");
    snprintf(path, sizeof path, "/api/admin/transactions/%s/reject", id);
    st = call("POST", path, tok, "{\"reason\":\"too late\"}", &doc);
    expect_error(st, doc, 409, "INVALID_STATE", "reject after confirm");
    ck_assert_int_eq(balance_of(uid), 50000);
    DM_EXPECT_SQL(url, "SUCCESS 0 50000", "SELECT status || ' ' || balance_before || ' ' || balance_after "
                                          "FROM transactions WHERE id = '%s'", id);
    DM_EXPECT_SQL(url, "PENDING SUCCESS BCA mutation 25/11 matched",
                  "SELECT (before->>'status') || ' ' || (after->>'status') || ' ' || reason FROM audit_log "
                  "WHERE action = 'wallet.topup.confirm' AND target_type = 'transaction' AND target_id = '%s'", id);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action LIKE 'wallet.topup.%%'");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(concurrent_confirms_credit_once)
{
    char uid[37], id[37], custom[32];
    register_user(uid);
    pending_topup(uid, 50000, "manual", id, custom);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", id);
    char *req = dm_e2e_auth_request("POST", path, tok, NULL);
    int ok, conflicts;
    race_requests(req, 10, &ok, 200, &conflicts);
    free(req);
    ck_assert_msg(ok == 1 && conflicts == 9, "%d confirms applied and %d refused, want 1 and 9", ok, conflicts);
    ck_assert_int_eq(balance_of(uid), 50000);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'wallet.topup.confirm'");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(manual_topup_rejected_leaves_balance)
{
    char uid[37], id[37], custom[32];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":1234,\"reason\":\"prior balance\"}", NULL), 201);
    pending_topup(uid, 50000, "manual", id, custom);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/reject", custom);
    json_t *doc = NULL;
    int st = call("POST", path, tok, NULL, &doc);
    expect_invalid(st, doc, "reason", "reject without a body");
    json_decref(doc);
    st = call("POST", path, tok, "{}", &doc);
    expect_invalid(st, doc, "reason", "reject without a reason");
    json_decref(doc);
    st = call("POST", path, tok, "{\"reason\":\"x\",\"status\":\"SUCCESS\"}", &doc);
    expect_invalid(st, doc, "status", "reject with an unknown field");
    json_decref(doc);
    DM_EXPECT_SQL(url, "PENDING", "SELECT status FROM transactions WHERE id = '%s'", id);
    st = call("POST", path, tok, "{\"reason\":\"no transfer arrived\"}", &doc);
    ck_assert_msg(st == 200, "reject: status %d", st);
    ck_assert_str_eq(jstr(doc, "data.status"), "FAILED");
    ck_assert(json_is_null(jpath(doc, "data.balanceAfter")));
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 1234);
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", custom);
    st = call("POST", path, tok, NULL, &doc);
    expect_error(st, doc, 409, "INVALID_STATE", "confirm after reject");
    ck_assert_int_eq(balance_of(uid), 1234);
    DM_EXPECT_SQL(url, "FAILED", "SELECT status FROM transactions WHERE id = '%s'", id);
    DM_EXPECT_SQL(url, "no transfer arrived FAILED",
                  "SELECT reason || ' ' || (after->>'status') FROM audit_log WHERE action = 'wallet.topup.reject' "
                  "AND target_id = '%s'", id);
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(only_pending_manual_topups_are_settled_by_hand)
{
    char uid[37], mid[37], mcustom[32], eid[37], ecustom[32];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    pending_topup(uid, 60000, "midtrans", mid, mcustom);
    pending_topup(uid, 70000, "manual", eid, ecustom);
    char *v = dm_test_db_scalarf(url, "UPDATE transactions SET status = 'EXPIRED', settled_at = now() "
                                      "WHERE id = '%s' RETURNING status", eid);
    ck_assert_str_eq(v, "EXPIRED");
    free(v);
    json_t *doc = NULL;
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":10,\"reason\":\"x\"}", &doc), 201);
    char adj[37];
    snprintf(adj, sizeof adj, "%s", jstr(doc, "data.transaction.id"));
    json_decref(doc);

    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", mcustom);
    int st = call("POST", path, tok, NULL, &doc);
    ck_assert_msg(st == 409, "confirm a midtrans top-up: %d", st);
    ck_assert_msg(strstr(jstr(doc, "error.message"), "midtrans gateway confirms") != NULL, "message: %s",
                  jstr(doc, "error.message"));
    expect_error(st, doc, 409, "INVALID_STATE", "confirm a midtrans top-up");
    snprintf(path, sizeof path, "/api/admin/transactions/%s/reject", mid);
    st = call("POST", path, tok, "{\"reason\":\"x\"}", &doc);
    expect_error(st, doc, 409, "INVALID_STATE", "reject a midtrans top-up");
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", eid);
    st = call("POST", path, tok, NULL, &doc);
    expect_error(st, doc, 409, "INVALID_STATE", "confirm an expired top-up");
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", adj);
    st = call("POST", path, tok, NULL, &doc);
    ck_assert_msg(strstr(jstr(doc, "error.message"), "only top-ups") != NULL, "message: %s",
                  jstr(doc, "error.message"));
    expect_error(st, doc, 409, "INVALID_STATE", "confirm an adjustment");
    st = call("POST", "/api/admin/transactions/TXMP-999999/confirm", tok, NULL, &doc);
    expect_error(st, doc, 404, "NOT_FOUND", "confirm an unknown TXMP id");
    st = call("POST", "/api/admin/transactions/6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c/reject", tok,
              "{\"reason\":\"x\"}", &doc);
    expect_error(st, doc, 404, "NOT_FOUND", "reject an unknown uuid");
    st = call("POST", "/api/admin/transactions/nonsense/confirm", tok, NULL, &doc);
    expect_error(st, doc, 404, "NOT_FOUND", "confirm a malformed id");

    DM_EXPECT_SQL(url, "PENDING", "SELECT status FROM transactions WHERE id = '%s'", mid);
    DM_EXPECT_SQL(url, "EXPIRED", "SELECT status FROM transactions WHERE id = '%s'", eid);
    ck_assert_int_eq(balance_of(uid), 10);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action LIKE 'wallet.topup.%%'");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

/* ---- listing and statistics --------------------------------------------- */

START_TEST(admin_lists_the_ledger_with_filters)
{
    char uid[37], other[37], id[37], custom[32];
    register_user(uid);
    free(session("other@example.id", USER_PASS, true, other));
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":500,\"reason\":\"a\"}", NULL), 201);
    ck_assert_int_eq(adjust(tok, other, "{\"amount\":700,\"reason\":\"b\"}", NULL), 201);
    pending_topup(uid, 50000, "manual", id, custom);
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/transactions", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 3);
    ck_assert_str_eq(jstr(doc, "data.0.id"), id); /* newest first */
    json_decref(doc);
    char q[256];
    snprintf(q, sizeof q, "/api/admin/transactions?userId=%s&type=ADJUSTMENT", uid);
    ck_assert_int_eq(call("GET", q, tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 1);
    ck_assert_int_eq(jint(doc, "data.0.amount"), 500);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/transactions?status=PENDING&gateway=manual", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 1);
    ck_assert_str_eq(jstr(doc, "data.0.customId"), custom);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/transactions?from=2999-01-01", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 0);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/transactions?from=2020-01-01T00:00:00%2B07:00&to=2999-01-01T00:00:00Z"
                          "&limit=2&page=2", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 3);
    ck_assert_int_eq(json_array_size(jpath(doc, "data")), 1);
    json_decref(doc);
    struct { const char *query, *field; } bad[] = {
        { "type=FOO", "type" },           { "status=DONE", "status" },
        { "userId=abc", "userId" },       { "from=yesterday", "from" },
        { "to=2026-02-30", "to" },        { "from=2026-11-01T25:00:00Z", "from" },
        { "gateway=Bad!", "gateway" },    { "limit=0", "limit" },
        { "page=x", "page" },
        /* An offset carrying the instant out of years 0001..9999 names
         * "from", not a combined "from/to" from the ledger's SQL check. */
        { "from=0001-01-01T00:00:00%2B01:00", "from" },
        { "to=9999-12-31T23:30:00-01:00", "to" },
        { "type=%ff", "type" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(q, sizeof q, "/api/admin/transactions?%s", bad[i].query);
        int st = call("GET", q, tok, NULL, &doc);
        expect_invalid(st, doc, bad[i].field, bad[i].query);
        json_decref(doc);
    }
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

/* The last revenue row of a stats answer, which must be the current
 * period (UTC; "day" or "month"); borrowed. */
static json_t *today_row(json_t *doc, const char *period)
{
    char *today = dm_test_db_scalarf(url, "SELECT to_char(date_trunc('%s', now() AT TIME ZONE 'UTC'), "
                                          "'YYYY-MM-DD')", period);
    json_t *rows = jpath(doc, "data.revenue"), *row = json_array_get(rows, json_array_size(rows) - 1);
    ck_assert_msg(row != NULL && strcmp(jstr(row, "period"), today) == 0, "last revenue row is not %s", today);
    free(today);
    return row;
}

START_TEST(stats_reflect_users_wallets_revenue_and_topups)
{
    char uid[37], id[37], custom[32], id2[37], custom2[32], id3[37], custom3[32];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    pending_topup(uid, 50000, "manual", id, custom);
    pending_topup(uid, 20000, "manual", id2, custom2);
    pending_topup(uid, 30000, "manual", id3, custom3);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", id);
    ck_assert_int_eq(call("POST", path, tok, NULL, NULL), 200);
    snprintf(path, sizeof path, "/api/admin/transactions/%s/reject", id2);
    ck_assert_int_eq(call("POST", path, tok, "{\"reason\":\"bounced\"}", NULL), 200);
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":-5000,\"reason\":\"fee\"}", NULL), 201);
    /* A subscription charge as the subscriptions code will write it: the
     * guarded update and its row in one statement, so the ledger holds. */
    char *v = dm_test_db_scalarf(
        url,
        "WITH u AS (UPDATE users SET credit_balance = credit_balance - 20000 WHERE id = '%s' "
        "RETURNING credit_balance) INSERT INTO transactions (user_id, type, status, amount, balance_before, "
        "balance_after, settled_at) SELECT '%s', 'SUBSCRIPTION', 'SUCCESS', -20000, credit_balance + 20000, "
        "credit_balance, now() FROM u RETURNING balance_after",
        uid, uid);
    ck_assert_str_eq(v, "25000");
    free(v);

    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/stats", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "data.users.total"), 2);
    ck_assert_int_eq(jint(doc, "data.users.active"), 2);
    ck_assert_int_eq(jint(doc, "data.users.administrators"), 1);
    ck_assert_int_eq(jint(doc, "data.users.newInPeriod"), 2);
    ck_assert_int_eq(jint(doc, "data.wallet.totalBalance"), 25000);
    ck_assert_str_eq(jstr(doc, "data.period"), "day");
    ck_assert_int_eq(json_array_size(jpath(doc, "data.revenue")), 31);
    json_t *row = today_row(doc, "day");
    ck_assert_int_eq(jint(row, "topups"), 50000);
    ck_assert_int_eq(jint(row, "spent"), 20000);
    ck_assert_int_eq(jint(row, "refunds"), 0);
    ck_assert_int_eq(jint(row, "adjustments"), -5000);
    ck_assert_int_eq(jint(doc, "data.revenue.0.topups"), 0);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.SUCCESS.count"), 1);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.SUCCESS.amount"), 50000);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.FAILED.count"), 1);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.FAILED.amount"), 20000);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.PENDING.count"), 1);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.PENDING.amount"), 30000);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.EXPIRED.count"), 0);
    ck_assert_int_eq(jint(doc, "data.topups.byStatus.CANCELLED.amount"), 0);
    json_decref(doc);

    ck_assert_int_eq(call("GET", "/api/admin/stats?period=month", tok, NULL, &doc), 200);
    row = today_row(doc, "month"); /* a month row is labelled by its first day */
    ck_assert_int_eq(jint(row, "topups"), 50000);
    ck_assert_int_eq(jint(row, "spent"), 20000);
    json_decref(doc);
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

START_TEST(stats_group_explicit_ranges_and_refuse_bad_ones)
{
    char uid[37];
    register_user(uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    json_t *doc = NULL;
    /* An adjustment moved back to 2026-03-31 20:00 UTC: only its times
     * change, so the ledger still holds. */
    ck_assert_int_eq(adjust(tok, uid, "{\"amount\":7000,\"reason\":\"march\"}", NULL), 201);
    char *v = dm_test_db_scalar(url, "UPDATE transactions SET created_at = '2026-03-31T20:00:00Z', "
                                     "settled_at = '2026-03-31T20:00:00Z' RETURNING amount");
    ck_assert_str_eq(v, "7000");
    free(v);
    ck_assert_int_eq(call("GET", "/api/admin/stats?period=month&from=2026-01-01&to=2026-04-01", tok, NULL, &doc), 200);
    ck_assert_int_eq(json_array_size(jpath(doc, "data.revenue")), 3);
    ck_assert_str_eq(jstr(doc, "data.revenue.2.period"), "2026-03-01");
    ck_assert_int_eq(jint(doc, "data.revenue.2.adjustments"), 7000);
    ck_assert_int_eq(jint(doc, "data.revenue.0.adjustments"), 0);
    json_decref(doc);
    /* Ranges are UTC instants: a range ending at 2026-04-01 03:00+07:00
     * (20:00 UTC) excludes it, one ending a second later includes it. */
    ck_assert_int_eq(call("GET", "/api/admin/stats?period=day&from=2026-03-31&to=2026-04-01T03:00:00%2B07:00", tok,
                          NULL, &doc), 200);
    ck_assert_int_eq(json_array_size(jpath(doc, "data.revenue")), 1);
    ck_assert_int_eq(jint(doc, "data.revenue.0.adjustments"), 0);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/stats?period=day&from=2026-03-31&to=2026-04-01T03:00:01%2B07:00", tok,
                          NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "data.revenue.0.adjustments"), 7000);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/stats?period=month&from=2026-01-01&to=2026-04-01", tok, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "data.users.newInPeriod"), 0);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/stats?period=week&from=2026-11-02&to=2026-11-16", tok, NULL, &doc), 200);
    ck_assert_int_eq(json_array_size(jpath(doc, "data.revenue")), 2);
    ck_assert_str_eq(jstr(doc, "data.revenue.1.period"), "2026-11-09");
    json_decref(doc);

    struct { const char *query, *field; } bad[] = {
        { "period=year", "period" },
        { "from=last-week", "from" },
        { "to=2026-13-01", "to" },
        { "from=2026-02-01&to=2026-01-01", "to" },
        { "period=day&from=2020-01-01&to=2026-01-01", "from" },
        /* Year 0 once the offset is applied: it used to be answered 200
         * with a "from" printed as 0001-12-31 (the BC marker dropped). */
        { "period=week&from=0001-01-01T00:00:00%2B01:00&to=0001-02-01", "from" },
        { "period=month&from=9999-06-01&to=9999-12-31T23:30:00-01:00", "to" },
        { "period=day&to=0001-01-10", "from" }, /* the default 30 days reach year 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char q[160];
        snprintf(q, sizeof q, "/api/admin/stats?%s", bad[i].query);
        int st = call("GET", q, tok, NULL, &doc);
        expect_invalid(st, doc, bad[i].field, bad[i].query);
        json_decref(doc);
    }
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action LIKE '%%stats%%'");
    EXPECT_LEDGER_CONSISTENT();
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("admin_wallet");
    TCase *tc = tcase_create("admin_wallet");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, credits_up_and_down_write_ledger_rows_audit_and_balances);
    tcase_add_test(tc, debit_below_zero_is_refused_and_writes_nothing);
    tcase_add_test(tc, unknown_user_is_404);
    tcase_add_test(tc, credit_bodies_are_validated);
    tcase_add_test(tc, user_gets_403_and_anonymous_401_on_every_money_route);
    tcase_add_test(tc, twenty_concurrent_debits_never_overdraw);
    tcase_add_test(tc, manual_topup_confirmed_credits_exactly_once);
    tcase_add_test(tc, concurrent_confirms_credit_once);
    tcase_add_test(tc, manual_topup_rejected_leaves_balance);
    tcase_add_test(tc, only_pending_manual_topups_are_settled_by_hand);
    tcase_add_test(tc, admin_lists_the_ledger_with_filters);
    tcase_add_test(tc, stats_reflect_users_wallets_revenue_and_topups);
    tcase_add_test(tc, stats_group_explicit_ranges_and_refuse_bad_ones);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)

/*
 * test_logs_ticket.c — tickets for the live log stream through the real
 * binary (POST /api/instances/:id/logs/ticket, GET …/logs/stream?ticket=;
 * instances/log_ticket.h): the owner gets one and curl (-N, as a browser's
 * EventSource would) opens the stream with it once; the second use, a use
 * after its lifetime (instances.logTicketTtlS, short here), a use on
 * another instance and a use after the session ended are 401; another user
 * gets no ticket for the instance, an administrator does; an access token
 * in the URL is not a credential. Through all of it the server's output
 * (the access log at debug level) never holds a ticket or a token. The
 * instances are rows written by SQL with no runtime plugin: a stream then
 * reports an error and ends, which lets curl finish by itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_logs.h"
#include "e2e_workload.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define srv dm_e2e_auth_srv
#define PUBLIC_URL "https://site.example.id"
#define TTL_S 2

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("logticket"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    dm_e2e_auth_setup_with(json_pack("{s:{s:s,s:s},s:{s:[{s:s}]},s:{s:i},s:s}", "auth", "adminEmail",
                                     DM_E2E_ADMIN_EMAIL, "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "enabled",
                                     "name", "auth-local", "instances", "logTicketTtlS", TTL_S, "logLevel",
                                     "debug"));
}

static void teardown(void) { dm_e2e_auth_teardown(); }

/* ---- what the server must never print ------------------------------------ */

static char *secrets[32];
static int n_secrets;

static const char *remember(const char *secret)
{
    ck_assert_int_lt(n_secrets, 32);
    secrets[n_secrets++] = strdup(secret);
    return secret;
}

/* The server's output so far holds none of the tickets and tokens seen. */
static void expect_no_secret_in_the_log(void)
{
    /* The access log line is written as the stream ends, which may come
     * a moment after the client saw it end. */
    ck_assert_msg(dm_e2e_server_wait_log(&srv, "/logs/stream", 10000), "no stream request was logged at all");
    char *log = dm_e2e_server_log(&srv);
    for (int i = 0; i < n_secrets; i++) {
        ck_assert_msg(strstr(log, secrets[i]) == NULL, "the server's output holds the secret \"%.12s…\"",
                      secrets[i]);
        free(secrets[i]);
    }
    n_secrets = 0;
    free(log);
}

/* ---- requests ------------------------------------------------------------- */

/* POST the ticket route for inst with token: the ticket (new string) and
 * its expiry, when status is 201; otherwise the error code must be code. */
static char *ticket_for(const char *inst, const char *token, int status, const char *code, char expires[40])
{
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/logs/ticket", inst);
    dm_e2e_response res;
    dm_e2e_auth_call("POST", path, token, NULL, &res);
    if (status != 201) {
        dm_e2e_auth_expect_error(&res, status, code, path);
        dm_e2e_response_free(&res);
        return NULL;
    }
    const char *cc = dm_e2e_header(&res, "Cache-Control");
    ck_assert_msg(cc != NULL && strcmp(cc, "no-store") == 0, "Cache-Control %s", cc != NULL ? cc : "(none)");
    json_t *d = dm_e2e_auth_ok_data(&res, 201, path);
    dm_e2e_response_free(&res);
    const char *t = dm_e2e_jstr(d, "ticket");
    ck_assert_msg(strlen(t) == 43 && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43,
                  "ticket \"%s\"", t);
    ck_assert_int_eq(json_object_size(d), 2);
    char *ticket = strdup(remember(t));
    if (expires != NULL)
        snprintf(expires, 40, "%s", dm_e2e_jstr(d, "expiresAt"));
    json_decref(d);
    return ticket;
}

/* Run `curl -sS -N URL` as a browser would open the stream (no header),
 * until the server closes (bounded by curl's --max-time). Its output goes
 * to body (a new string); the HTTP status. */
static int curl_stream(const char *inst, const char *query, char **body)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "curl -sS -N --max-time 20 -w '\\n%%{http_code}' 'http://127.0.0.1:%d/api/instances/%s/logs/stream%s'",
             srv.port, inst, query);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run curl");
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
    }
    out[len] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl: %s (status %d)", cmd, st);
    char *code = strrchr(out, '\n');
    ck_assert_msg(code != NULL, "curl printed no status: %s", out);
    *code = '\0';
    *body = out;
    return (int)strtol(code + 1, NULL, 10);
}

/* The stream for inst opened with ticket by curl: 200 and a whole stream
 * (this instance can only report that it has nothing to read, then end). */
static void expect_stream(const char *inst, const char *ticket)
{
    char query[96], *body;
    snprintf(query, sizeof query, "?ticket=%s", ticket);
    int status = curl_stream(inst, query, &body);
    ck_assert_msg(status == 200, "with a good ticket: %d %s", status, body);
    ck_assert_msg(strncmp(body, ": connected\n\n", 13) == 0, "the stream starts with \"%.40s\"", body);
    char ended[96];
    snprintf(ended, sizeof ended, "event: logs-ended\ndata: {\"instanceId\":\"%s\"}\n\n", inst);
    ck_assert_msg(strstr(body, "event: logs-error\n") != NULL && strstr(body, ended) != NULL, "the stream: %s",
                  body);
    free(body);
}

static void expect_refused(const char *inst, const char *query, const char *why)
{
    char *body;
    int status = curl_stream(inst, query, &body);
    ck_assert_msg(status == 401 && strstr(body, "\"UNAUTHORIZED\"") != NULL, "%s: %d %s", why, status, body);
    free(body);
}

START_TEST(the_owner_opens_the_stream_once_with_a_ticket)
{
    char sub[37], inst[37], expires[40];
    char *tok = dm_e2e_sql_instance("owner@example.id", "PENDING", PUBLIC_URL, sub, inst);
    remember(tok);
    char *t = ticket_for(inst, tok, 201, NULL, expires);
    /* Valid for logTicketTtlS by the database's clock. */
    char *left = dm_test_db_scalarf(db_url, "SELECT extract(epoch FROM '%s'::timestamptz - now())::int", expires);
    long secs = strtol(left, NULL, 10);
    ck_assert_msg(secs >= 0 && secs <= TTL_S, "the ticket is valid %s s more, want up to %d", left, TTL_S);
    free(left);
    expect_stream(inst, t);
    char query[96];
    snprintf(query, sizeof query, "?ticket=%s", t);
    expect_refused(inst, query, "the same ticket again");
    /* Only its hash is stored, and it is spent. */
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM log_tickets WHERE used_at IS NOT NULL");
    char *stored = dm_test_db_scalar(db_url, "SELECT token_hash FROM log_tickets");
    ck_assert_msg(strstr(stored, t) == NULL && strlen(stored) == 64, "stored: %s", stored);
    free(stored);
    /* An administrator gets one for the owner's instance too. */
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    remember(admin);
    char *ta = ticket_for(inst, admin, 201, NULL, NULL);
    expect_stream(inst, ta);
    expect_no_secret_in_the_log();
    free(ta);
    free(admin);
    free(t);
    free(tok);
}
END_TEST

START_TEST(a_ticket_is_refused_after_its_lifetime)
{
    char sub[37], inst[37], expires[40];
    char *tok = dm_e2e_sql_instance("late@example.id", "PENDING", PUBLIC_URL, sub, inst);
    remember(tok);
    char *t = ticket_for(inst, tok, 201, NULL, expires);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT now() > '%s'::timestamptz", expires);
    dm_test_db_wait(db_url, "t", TTL_S + 10, sql); /* the database's clock decides */
    char query[96];
    snprintf(query, sizeof query, "?ticket=%s", t);
    expect_refused(inst, query, "an expired ticket");
    /* A fresh one works: the refusal was the lifetime. */
    char *fresh = ticket_for(inst, tok, 201, NULL, NULL);
    expect_stream(inst, fresh);
    expect_no_secret_in_the_log();
    free(fresh);
    free(t);
    free(tok);
}
END_TEST

START_TEST(a_ticket_is_for_one_instance_of_one_user)
{
    char sub[37], mine[37], theirs[37];
    char *tok = dm_e2e_sql_instance("a@example.id", "PENDING", PUBLIC_URL, sub, mine);
    char *other = dm_e2e_sql_instance("b@example.id", "PENDING", PUBLIC_URL, sub, theirs);
    remember(tok);
    remember(other);
    /* No ticket for another user's instance (404, as for the instance). */
    ck_assert_ptr_null(ticket_for(mine, other, 404, "NOT_FOUND", NULL));
    ck_assert_ptr_null(ticket_for(theirs, tok, 404, "NOT_FOUND", NULL));
    ck_assert_ptr_null(ticket_for(mine, NULL, 401, "UNAUTHORIZED", NULL));
    /* My ticket opens my instance's stream only; the refusal does not
     * spend it. */
    char *t = ticket_for(mine, tok, 201, NULL, NULL);
    char query[96];
    snprintf(query, sizeof query, "?ticket=%s", t);
    expect_refused(theirs, query, "a ticket on another instance");
    expect_stream(mine, t);
    /* Garbage, and an access token in the URL, are no credentials. */
    expect_refused(mine, "?ticket=not-a-ticket", "a malformed ticket");
    expect_refused(mine, "?ticket=", "an empty ticket");
    size_t qn = 2 * strlen(tok) + 32;
    char *q = malloc(qn);
    snprintf(q, qn, "?access_token=%s&token=%s", tok, tok);
    expect_refused(mine, q, "an access token in the URL");
    free(q);
    free(t);
    free(other);
    free(tok);
    expect_no_secret_in_the_log();
}
END_TEST

START_TEST(a_ticket_dies_with_its_session)
{
    char sub[37], inst[37];
    char *tok = dm_e2e_sql_instance("session@example.id", "PENDING", PUBLIC_URL, sub, inst);
    remember(tok);
    char *t = ticket_for(inst, tok, 201, NULL, NULL);
    /* Every session of the user revoked (a logout elsewhere, a password
     * change): the ticket it made is refused. */
    char *n = dm_test_db_scalar(db_url,
                                "WITH r AS (UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'logout' "
                                "WHERE revoked_at IS NULL RETURNING 1) SELECT count(*) FROM r");
    ck_assert_msg(strtol(n, NULL, 10) >= 1, "revoked %s sessions", n);
    free(n);
    char query[96];
    snprintf(query, sizeof query, "?ticket=%s", t);
    expect_refused(inst, query, "a ticket of a revoked session");
    expect_no_secret_in_the_log();
    free(t);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("logs_ticket");
    TCase *tc = tcase_create("tickets");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, the_owner_opens_the_stream_once_with_a_ticket);
    tcase_add_test(tc, a_ticket_is_refused_after_its_lifetime);
    tcase_add_test(tc, a_ticket_is_for_one_instance_of_one_user);
    tcase_add_test(tc, a_ticket_dies_with_its_session);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)

/*
 * test_http_basics.c — the real binary over loopback: routing (404, 405 with
 * Allow), the error envelope, X-Request-Id, CORS, the access log on stderr,
 * keep-alive, HTTP/1.0, HEAD, /openapi.json, /metrics and /readyz.
 * Every test ends by stopping the server with SIGTERM and expecting exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"

#define T_MS DM_E2E_T_MS

static dm_e2e_server srv;

static void start(json_t *overrides)
{
    dm_e2e_server_start(&srv, overrides);
}

/* Every test ends here: the server must still be alive and exit 0 on
 * SIGTERM (this also catches sanitizer reports from anything the test did). */
static void teardown(void)
{
    dm_e2e_server_finish(&srv);
}

static void roundtrip(const char *req, dm_e2e_response *res)
{
    dm_e2e_roundtrip_ok(srv.port, req, res);
}

static void connect_ok(dm_e2e_conn *c)
{
    dm_e2e_connect_ok(c, srv.port);
}

#define send_ok dm_e2e_send_ok
#define read_ok dm_e2e_read_ok

static bool is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
                   || (s[i] >= 'A' && s[i] <= 'F');
        if (dash ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

/* ---- routing and the envelope ----------------------------------------- */

START_TEST(test_healthz_ok)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "GET /healthz: status %d", res.status);
    ck_assert_msg(res.http_minor == 1, "GET /healthz: answered HTTP/1.%d", res.http_minor);
    const char *ct = dm_e2e_header(&res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "application/json", 16) == 0,
                  "GET /healthz: Content-Type %s", ct != NULL ? ct : "(none)");
    ck_assert_msg(dm_e2e_header(&res, "Date") != NULL, "GET /healthz: no Date header");
    json_t *doc = dm_e2e_json(&res);
    ck_assert_msg(doc != NULL, "GET /healthz: body is not JSON: %s", res.body);
    ck_assert_msg(json_is_true(json_object_get(doc, "success")), "GET /healthz: %s", res.body);
    const char *status = json_string_value(json_object_get(json_object_get(doc, "data"), "status"));
    ck_assert_msg(status != NULL && strcmp(status, "ok") == 0,
                  "GET /healthz: data.status is not \"ok\": %s", res.body);
    json_decref(doc);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_query_string_does_not_affect_routing)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /healthz?probe=1&x=%20 HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "GET /healthz?probe=1: status %d", res.status);
    dm_e2e_response_free(&res);
}
END_TEST

/* Query values go to handlers (and PostgreSQL) as UTF-8 text: one that
 * does not decode to that is a 400 naming it, on every route, instead of
 * a database error later. */
START_TEST(test_query_that_is_not_utf8_is_400)
{
    start(NULL);
    const char *const bad[][2] = {
        { "GET /healthz?search=%ff HTTP/1.1\r\nHost: t\r\n\r\n", "search" },
        { "GET /healthz?q=%c0%af HTTP/1.1\r\nHost: t\r\n\r\n", "q" },        /* overlong '/' */
        { "GET /healthz?q=%ed%a0%80 HTTP/1.1\r\nHost: t\r\n\r\n", "q" },     /* a surrogate */
        { "GET /healthz?q=%zz HTTP/1.1\r\nHost: t\r\n\r\n", "q" },           /* not an escape */
        { "GET /healthz?%ff=1 HTTP/1.1\r\nHost: t\r\n\r\n", "(query)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_e2e_response res;
        roundtrip(bad[i][0], &res);
        dm_e2e_assert_error(&res, 400, bad[i][0]);
        ck_assert_msg(strstr(res.body, "VALIDATION_ERROR") != NULL, "%s: %s", bad[i][0], res.body);
        char want[64];
        snprintf(want, sizeof want, "\"field\":\"%s\"", bad[i][1]);
        ck_assert_msg(strstr(res.body, want) != NULL, "%s: names %s: %s", bad[i][0], bad[i][1], res.body);
        dm_e2e_response_free(&res);
    }
    dm_e2e_response res;
    roundtrip("GET /healthz?q=%e2%82%ac%f0%9f%98%80 HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "euro sign and emoji are UTF-8: %d", res.status);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_unknown_route_is_404_envelope)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /no/such/route HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_assert_error(&res, 404, "GET /no/such/route");
    dm_e2e_response_free(&res);
    roundtrip("GET /healthz/extra HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_assert_error(&res, 404, "GET /healthz/extra");
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_wrong_method_is_405_with_allow)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    read_ok(&c, &res, false, "POST /healthz");
    dm_e2e_assert_error(&res, 405, "POST /healthz");
    const char *allow = dm_e2e_header(&res, "Allow");
    ck_assert_msg(allow != NULL && strstr(allow, "GET") != NULL,
                  "POST /healthz: Allow is %s, expected it to list GET", allow ? allow : "(none)");
    ck_assert_msg(strstr(allow, "POST") == NULL, "POST /healthz: Allow lists POST: %s", allow);
    dm_e2e_response_free(&res);

    /* A 405 is an ordinary answer: the connection stays usable. */
    send_ok(&c, "DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "DELETE /metrics");
    dm_e2e_assert_error(&res, 405, "DELETE /metrics");
    allow = dm_e2e_header(&res, "Allow");
    ck_assert_msg(allow != NULL && strstr(allow, "GET") != NULL, "DELETE /metrics: Allow is %s",
                  allow ? allow : "(none)");
    dm_e2e_response_free(&res);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "GET /healthz after two 405s");
    ck_assert_msg(res.status == 200, "GET /healthz after 405s: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

static void expect_400_closed(const char *req, const char *what)
{
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, req);
    read_ok(&c, &res, false, what);
    dm_e2e_assert_error(&res, 400, what);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "%s: connection still open after a 400", what);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}

START_TEST(test_malformed_request_is_400_and_closed)
{
    start(NULL);
    expect_400_closed("GET /healthz HTTX/1.1\r\nHost: t\r\n\r\n", "bad protocol name");
    expect_400_closed("G@T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "bad method token");
    expect_400_closed("GET /healthz HTTP/1.1\r\nHost: a\rb\r\n\r\n", "bare CR in a header value");
    expect_400_closed("GET /healthz HTTP/1.1\nHost: t\n\n", "bare LF line endings");
}
END_TEST

/* RFC 9110 5.1: a field name is a token, and a token has no spaces. */
START_TEST(test_header_name_with_space_is_400)
{
    start(NULL);
    expect_400_closed("GET /healthz HTTP/1.1\r\nHost: t\r\nBad Header Name: x\r\n\r\n",
                      "header field name with spaces");
}
END_TEST

/* ---- X-Request-Id ----------------------------------------------------- */

static void check_id_echoed(const char *id)
{
    char req[256];
    snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n", id);
    dm_e2e_response res;
    roundtrip(req, &res);
    const char *got = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(got != NULL && strcmp(got, id) == 0, "X-Request-Id %s came back as %s", id,
                  got != NULL ? got : "(none)");
    ck_assert_msg(dm_e2e_header_count(&res, "X-Request-Id") == 1, "X-Request-Id sent twice");
    dm_e2e_response_free(&res);
}

START_TEST(test_request_id_passed_through)
{
    start(NULL);
    check_id_echoed("abc-123_X.y");
    check_id_echoed("7");
    /* 63 characters: the longest accepted. */
    check_id_echoed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789a");
}
END_TEST

static void check_id_replaced(const char *header_value)
{
    char req[512];
    snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n",
             header_value);
    dm_e2e_response res;
    roundtrip(req, &res);
    const char *got = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(is_uuid(got), "for X-Request-Id \"%s\" expected a generated UUID, got %s",
                  header_value, got != NULL ? got : "(none)");
    dm_e2e_response_free(&res);
}

START_TEST(test_request_id_generated_when_absent_or_unsafe)
{
    start(NULL);
    dm_e2e_response a, b;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &a);
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &b);
    const char *ia = dm_e2e_header(&a, "X-Request-Id"), *ib = dm_e2e_header(&b, "X-Request-Id");
    ck_assert_msg(is_uuid(ia), "generated X-Request-Id is not a UUID: %s", ia ? ia : "(none)");
    ck_assert_msg(is_uuid(ib) && strcmp(ia, ib) != 0, "two requests got the same id %s", ia);
    dm_e2e_response_free(&a);
    dm_e2e_response_free(&b);
    check_id_replaced("has space");
    check_id_replaced("a/b");
    check_id_replaced("quote\"inside");
    check_id_replaced("{\"json\":1}");
    /* 64 characters: one too many. */
    check_id_replaced("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab");
}
END_TEST

START_TEST(test_request_id_on_error_responses)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /missing HTTP/1.1\r\nHost: t\r\nX-Request-Id: err-404\r\n\r\n", &res);
    const char *id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(res.status == 404 && id != NULL && strcmp(id, "err-404") == 0,
                  "404: status %d, X-Request-Id %s", res.status, id ? id : "(none)");
    dm_e2e_response_free(&res);
}
END_TEST

/* ---- CORS ------------------------------------------------------------- */

static json_t *cors_config(void)
{
    return json_pack("{s:{s:[s,s]}}", "server", "corsOrigins", "https://app.example.com",
                     "http://localhost:5173");
}

START_TEST(test_cors_allowed_origin_is_echoed)
{
    start(cors_config());
    dm_e2e_response res;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n\r\n", &res);
    const char *acao = dm_e2e_header(&res, "Access-Control-Allow-Origin");
    ck_assert_msg(res.status == 200, "status %d", res.status);
    ck_assert_msg(acao != NULL && strcmp(acao, "https://app.example.com") == 0,
                  "Access-Control-Allow-Origin is %s", acao ? acao : "(none)");
    const char *vary = dm_e2e_header(&res, "Vary");
    ck_assert_msg(vary != NULL && strstr(vary, "Origin") != NULL,
                  "an echoed origin needs Vary: Origin, got %s", vary ? vary : "(none)");
    dm_e2e_response_free(&res);

    /* Errors carry it too, or a browser hides them from the front end. */
    roundtrip("GET /missing HTTP/1.1\r\nHost: t\r\nOrigin: http://localhost:5173\r\n\r\n", &res);
    acao = dm_e2e_header(&res, "Access-Control-Allow-Origin");
    ck_assert_msg(res.status == 404 && acao != NULL && strcmp(acao, "http://localhost:5173") == 0,
                  "404: status %d, Access-Control-Allow-Origin %s", res.status,
                  acao ? acao : "(none)");
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_cors_other_origin_not_echoed)
{
    start(cors_config());
    const char *origins[] = { "https://evil.example.com", "https://app.example.com.evil.net",
                              "http://app.example.com", "null" };
    for (size_t i = 0; i < sizeof origins / sizeof *origins; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\n\r\n",
                 origins[i]);
        dm_e2e_response res;
        roundtrip(req, &res);
        ck_assert_msg(res.status == 200, "Origin %s: status %d", origins[i], res.status);
        const char *acao = dm_e2e_header(&res, "Access-Control-Allow-Origin");
        ck_assert_msg(acao == NULL, "Origin %s not allowed but Access-Control-Allow-Origin is %s",
                      origins[i], acao);
        dm_e2e_response_free(&res);
    }
}
END_TEST

START_TEST(test_cors_preflight_allowed_is_204)
{
    start(cors_config());
    dm_e2e_response res;
    roundtrip("OPTIONS /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n"
              "Access-Control-Request-Method: GET\r\n"
              "Access-Control-Request-Headers: authorization, content-type\r\n\r\n",
              &res);
    ck_assert_msg(res.status == 204, "preflight from an allowed origin: status %d", res.status);
    const char *acam = dm_e2e_header(&res, "Access-Control-Allow-Methods");
    ck_assert_msg(acam != NULL && strstr(acam, "GET") != NULL,
                  "Access-Control-Allow-Methods is %s", acam ? acam : "(none)");
    const char *acao = dm_e2e_header(&res, "Access-Control-Allow-Origin");
    ck_assert_msg(acao != NULL && strcmp(acao, "https://app.example.com") == 0,
                  "preflight: Access-Control-Allow-Origin is %s", acao ? acao : "(none)");
    const char *acah = dm_e2e_header(&res, "Access-Control-Allow-Headers");
    ck_assert_msg(acah != NULL && strcasestr(acah, "authorization") != NULL,
                  "Access-Control-Allow-Headers is %s", acah ? acah : "(none)");
    ck_assert_msg(res.body_len == 0, "204 with a body: %s", res.body);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_cors_preflight_refused_is_403)
{
    start(cors_config());
    dm_e2e_response res;
    roundtrip("OPTIONS /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example.com\r\n"
              "Access-Control-Request-Method: GET\r\n\r\n",
              &res);
    dm_e2e_assert_error(&res, 403, "preflight from a foreign origin");
    ck_assert_msg(dm_e2e_header(&res, "Access-Control-Allow-Origin") == NULL,
                  "403 preflight carries Access-Control-Allow-Origin");
    ck_assert_msg(dm_e2e_header(&res, "Access-Control-Allow-Methods") == NULL,
                  "403 preflight carries Access-Control-Allow-Methods");
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_cors_empty_list_allows_nobody)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n\r\n", &res);
    ck_assert_msg(dm_e2e_header(&res, "Access-Control-Allow-Origin") == NULL,
                  "no corsOrigins configured, yet Access-Control-Allow-Origin is %s",
                  dm_e2e_header(&res, "Access-Control-Allow-Origin"));
    dm_e2e_response_free(&res);
    roundtrip("OPTIONS /healthz HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n"
              "Access-Control-Request-Method: GET\r\n\r\n",
              &res);
    dm_e2e_assert_error(&res, 403, "preflight with no corsOrigins");
    dm_e2e_response_free(&res);
}
END_TEST

/* ---- access log ------------------------------------------------------- */

/* The one access-log line carrying requestId id, parsed; fails if there is
 * not exactly one. */
static json_t *access_line(const char *id)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"requestId\":\"%s\"", id);
    ck_assert_msg(dm_e2e_server_wait_log(&srv, needle, T_MS), "no access-log line with %s", needle);
    char *log = dm_e2e_server_log(&srv);
    json_t *found = NULL;
    int count = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        const char *rid = json_string_value(json_object_get(j, "requestId"));
        if (rid != NULL && strcmp(rid, id) == 0) {
            count++;
            json_decref(found);
            found = json_incref(j);
        }
        json_decref(j);
    }
    free(log);
    ck_assert_msg(count == 1, "%d access-log lines for request %s, expected 1", count, id);
    return found;
}

static void check_access_line(const char *id, const char *method, const char *path, int status)
{
    json_t *j = access_line(id);
    const char *m = json_string_value(json_object_get(j, "method"));
    const char *p = json_string_value(json_object_get(j, "path"));
    json_t *st = json_object_get(j, "status");
    json_t *dur = json_object_get(j, "durationMs");
    ck_assert_msg(m != NULL && strcmp(m, method) == 0, "access log %s: method %s", id, m ? m : "-");
    if (path != NULL)
        ck_assert_msg(p != NULL && strcmp(p, path) == 0, "access log %s: path %s, expected %s",
                      id, p ? p : "-", path);
    else
        ck_assert_msg(p != NULL, "access log %s: no path", id);
    ck_assert_msg(json_is_integer(st) && json_integer_value(st) == status,
                  "access log %s: status is not %d", id, status);
    ck_assert_msg(json_is_number(dur) && json_number_value(dur) >= 0,
                  "access log %s: durationMs missing or negative", id);
    json_decref(j);
}

START_TEST(test_access_log_one_json_line_per_request)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: log-ok\r\n\r\n", &res);
    dm_e2e_response_free(&res);
    roundtrip("GET /nowhere/42 HTTP/1.1\r\nHost: t\r\nX-Request-Id: log-404\r\n\r\n", &res);
    dm_e2e_response_free(&res);
    roundtrip("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nX-Request-Id: log-405\r\n"
              "\r\n{}",
              &res);
    dm_e2e_response_free(&res);
    roundtrip("GET /healthz?secret=1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: log-query\r\n\r\n", &res);
    dm_e2e_response_free(&res);

    /* Refused requests are logged too, with the id they were answered with. */
    roundtrip("POST /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: log-400\r\nContent-Length: 5\r\n"
              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              &res);
    dm_e2e_response_free(&res);

    check_access_line("log-ok", "GET", "/healthz", 200);
    check_access_line("log-404", "GET", NULL, 404);
    check_access_line("log-405", "POST", "/healthz", 405);
    /* The route pattern is logged, never the raw target with its query. */
    check_access_line("log-query", "GET", "/healthz", 200);
    char *log = dm_e2e_server_log(&srv);
    ck_assert_msg(strstr(log, "secret=1") == NULL, "the query string reached the log");
    free(log);
    check_access_line("log-400", "POST", NULL, 400);
}
END_TEST

/* ---- connection handling ---------------------------------------------- */

START_TEST(test_keep_alive_reuses_the_connection)
{
    start(NULL);
    dm_e2e_conn c;
    connect_ok(&c);
    for (int i = 0; i < 3; i++) {
        dm_e2e_response res;
        send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        read_ok(&c, &res, false, "keep-alive request");
        ck_assert_msg(res.status == 200, "request %d on one connection: status %d", i, res.status);
        const char *conn = dm_e2e_header(&res, "Connection");
        ck_assert_msg(conn == NULL || strcasecmp(conn, "close") != 0,
                      "request %d: server asked to close a keep-alive connection", i);
        dm_e2e_response_free(&res);
    }
    ck_assert_msg(!dm_e2e_readable(&c, 200), "server sent bytes or closed an idle keep-alive "
                                             "connection well before its idle timeout");
    ck_assert_msg(dm_e2e_fetch_metric(srv.port, "dermaga_http_connections_total") == 2,
                  "three requests on one connection plus /metrics should be 2 connections");
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_connection_close_is_honoured)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    read_ok(&c, &res, false, "Connection: close");
    const char *conn = dm_e2e_header(&res, "Connection");
    ck_assert_msg(res.status == 200 && conn != NULL && strcasecmp(conn, "close") == 0,
                  "status %d, Connection %s", res.status, conn ? conn : "(none)");
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection not closed after Connection: close");
    ck_assert_msg(c.len == 0, "bytes after the response: %s", c.buf);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_http10_answers_10_and_closes)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.0\r\n\r\n");
    read_ok(&c, &res, false, "HTTP/1.0 request");
    ck_assert_msg(res.status == 200, "HTTP/1.0: status %d", res.status);
    ck_assert_msg(res.http_minor == 0, "HTTP/1.0 request answered with HTTP/1.%d", res.http_minor);
    ck_assert_msg(res.has_length, "HTTP/1.0 response without Content-Length");
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "HTTP/1.0 without keep-alive left open");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_http10_keep_alive)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    for (int i = 0; i < 2; i++) {
        send_ok(&c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        read_ok(&c, &res, false, "HTTP/1.0 keep-alive request");
        const char *conn = dm_e2e_header(&res, "Connection");
        ck_assert_msg(res.status == 200 && res.http_minor == 0, "request %d: HTTP/1.%d %d", i,
                      res.http_minor, res.status);
        ck_assert_msg(conn != NULL && strcasecmp(conn, "keep-alive") == 0,
                      "HTTP/1.0 keep-alive answered with Connection: %s", conn ? conn : "(none)");
        dm_e2e_response_free(&res);
    }
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_head_has_length_but_no_body)
{
    start(NULL);
    dm_e2e_response get, head, after;
    roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &get);
    dm_e2e_conn c;
    connect_ok(&c);
    /* HEAD then GET in one write: if HEAD leaked a body, the GET's status
     * line would not be where the client expects it. */
    send_ok(&c, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &head, true, "HEAD /healthz");
    ck_assert_msg(head.status == 200, "HEAD /healthz: status %d", head.status);
    const char *cl = dm_e2e_header(&head, "Content-Length");
    char want[32];
    snprintf(want, sizeof want, "%zu", get.body_len);
    ck_assert_msg(cl != NULL && strcmp(cl, want) == 0,
                  "HEAD Content-Length is %s, GET's body is %s bytes", cl ? cl : "(none)", want);
    read_ok(&c, &after, false, "GET after HEAD");
    ck_assert_msg(after.status == 200 && after.body_len == get.body_len,
                  "GET after HEAD: status %d, %zu bytes (HEAD sent a body?)", after.status,
                  after.body_len);
    dm_e2e_response_free(&head);
    dm_e2e_response_free(&after);

    /* An error answer to HEAD has no body either. */
    send_ok(&c, "HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &head, true, "HEAD /missing");
    ck_assert_msg(head.status == 404, "HEAD /missing: status %d", head.status);
    read_ok(&c, &after, false, "GET after HEAD /missing");
    ck_assert_msg(after.status == 200 && after.body_len == get.body_len,
                  "GET after HEAD /missing: status %d, %zu bytes (HEAD sent a body?)", after.status,
                  after.body_len);
    dm_e2e_response_free(&get);
    dm_e2e_response_free(&head);
    dm_e2e_response_free(&after);
    dm_e2e_close(&c);
}
END_TEST

/* ---- operational routes ----------------------------------------------- */

START_TEST(test_openapi_json)
{
    start(NULL);
    dm_e2e_response res;
    roundtrip("GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "GET /openapi.json: status %d: %.300s", res.status, res.body);
    const char *ct = dm_e2e_header(&res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "application/json", 16) == 0,
                  "GET /openapi.json: Content-Type %s", ct ? ct : "(none)");
    json_t *doc = dm_e2e_json(&res);
    const char *v = json_string_value(json_object_get(doc, "openapi"));
    ck_assert_msg(v != NULL && v[0] == '3', "GET /openapi.json: \"openapi\" is %s", v ? v : "absent");
    ck_assert_msg(json_is_object(json_object_get(doc, "paths"))
                      && json_object_get(json_object_get(doc, "paths"), "/healthz") != NULL,
                  "GET /openapi.json: paths does not describe /healthz");
    json_decref(doc);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_metrics_counts_requests)
{
    start(NULL);
    dm_e2e_response res;
    for (int i = 0; i < 3; i++) {
        roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
        dm_e2e_response_free(&res);
    }
    roundtrip("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_response_free(&res);
    roundtrip("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &res);
    dm_e2e_response_free(&res);

    roundtrip("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "GET /metrics: status %d", res.status);
    const char *ct = dm_e2e_header(&res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "text/plain", 10) == 0, "GET /metrics: Content-Type %s",
                  ct ? ct : "(none)");
    const char *m = res.body;
    ck_assert_msg(strstr(m, "# TYPE dermaga_http_requests_total counter\n") != NULL,
                  "no TYPE line for dermaga_http_requests_total:\n%s", m);
    long long ok = dm_e2e_metric(
        m, "dermaga_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}");
    ck_assert_msg(ok == 3, "GET /healthz 200 counted %lld times, expected 3:\n%s", ok, m);
    long long not_allowed = dm_e2e_metric(
        m, "dermaga_http_requests_total{method=\"POST\",route=\"/healthz\",status=\"405\"}");
    ck_assert_msg(not_allowed == 1, "POST /healthz 405 counted %lld times:\n%s", not_allowed, m);
    ck_assert_msg(strstr(m, "status=\"404\"} 1\n") != NULL, "the 404 is not counted:\n%s", m);
    ck_assert_msg(strstr(m, "route=\"/missing\"") == NULL,
                  "an unmatched path became a label (unbounded cardinality):\n%s", m);
    ck_assert_msg(dm_e2e_metric(m, "dermaga_http_connections_rejected_total") == 0,
                  "dermaga_http_connections_rejected_total is not 0:\n%s", m);
    long long ok_count = dm_e2e_metric(
        m, "dermaga_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"2xx\"}");
    ck_assert_msg(ok_count == 3, "2xx duration histogram of GET /healthz counts %lld, expected 3:\n%s",
                  ok_count, m);
    long long missing = dm_e2e_metric(
        m, "dermaga_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"4xx\"}");
    ck_assert_msg(missing == 1, "4xx duration histogram of unmatched paths counts %lld, expected 1:\n%s",
                  missing, m);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_readyz_with_database)
{
    DM_TEST_REQUIRE_ENV("DERMAGA_TEST_DATABASE_URL");
    start(json_pack("{s:{s:s}}", "database", "url", getenv("DERMAGA_TEST_DATABASE_URL")));
    dm_e2e_response res;
    roundtrip("GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "GET /readyz with a database: status %d: %s", res.status,
                  res.body);
    json_t *doc = dm_e2e_json(&res);
    const char *st = json_string_value(json_object_get(json_object_get(doc, "data"), "status"));
    ck_assert_msg(json_is_true(json_object_get(doc, "success")) && st != NULL
                      && strcmp(st, "ready") == 0,
                  "GET /readyz: %s", res.body);
    json_decref(doc);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(test_readyz_without_database_is_503)
{
    start(NULL); /* the default test URL refuses connections */
    dm_e2e_response res;
    roundtrip("GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_assert_error(&res, 503, "GET /readyz with the database refusing");
    const char *ra = dm_e2e_header(&res, "Retry-After");
    ck_assert_msg(ra != NULL && ra[0] >= '1' && ra[0] <= '9', "503 without a Retry-After: %s",
                  ra ? ra : "(none)");
    dm_e2e_response_free(&res);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_http_basics");
    TCase *routing = tcase_create("routing");
    tcase_add_checked_fixture(routing, NULL, teardown);
    tcase_set_timeout(routing, 30);
    tcase_add_test(routing, test_healthz_ok);
    tcase_add_test(routing, test_query_string_does_not_affect_routing);
    tcase_add_test(routing, test_query_that_is_not_utf8_is_400);
    tcase_add_test(routing, test_unknown_route_is_404_envelope);
    tcase_add_test(routing, test_wrong_method_is_405_with_allow);
    tcase_add_test(routing, test_malformed_request_is_400_and_closed);
    tcase_add_test(routing, test_header_name_with_space_is_400);
    suite_add_tcase(s, routing);

    TCase *ids = tcase_create("request_id");
    tcase_add_checked_fixture(ids, NULL, teardown);
    tcase_set_timeout(ids, 30);
    tcase_add_test(ids, test_request_id_passed_through);
    tcase_add_test(ids, test_request_id_generated_when_absent_or_unsafe);
    tcase_add_test(ids, test_request_id_on_error_responses);
    suite_add_tcase(s, ids);

    TCase *cors = tcase_create("cors");
    tcase_add_checked_fixture(cors, NULL, teardown);
    tcase_set_timeout(cors, 30);
    tcase_add_test(cors, test_cors_allowed_origin_is_echoed);
    tcase_add_test(cors, test_cors_other_origin_not_echoed);
    tcase_add_test(cors, test_cors_preflight_allowed_is_204);
    tcase_add_test(cors, test_cors_preflight_refused_is_403);
    tcase_add_test(cors, test_cors_empty_list_allows_nobody);
    suite_add_tcase(s, cors);

    TCase *conn = tcase_create("connection");
    tcase_add_checked_fixture(conn, NULL, teardown);
    tcase_set_timeout(conn, 30);
    tcase_add_test(conn, test_access_log_one_json_line_per_request);
    tcase_add_test(conn, test_keep_alive_reuses_the_connection);
    tcase_add_test(conn, test_connection_close_is_honoured);
    tcase_add_test(conn, test_http10_answers_10_and_closes);
    tcase_add_test(conn, test_http10_keep_alive);
    tcase_add_test(conn, test_head_has_length_but_no_body);
    suite_add_tcase(s, conn);

    TCase *ops = tcase_create("ops");
    tcase_add_checked_fixture(ops, NULL, teardown);
    tcase_set_timeout(ops, 30);
    tcase_add_test(ops, test_openapi_json);
    tcase_add_test(ops, test_metrics_counts_requests);
    tcase_add_test(ops, test_readyz_with_database);
    tcase_add_test(ops, test_readyz_without_database_is_503);
    suite_add_tcase(s, ops);
    return s;
}

DM_TEST_MAIN(make_suite)

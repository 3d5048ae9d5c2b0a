/*
 * e2e_logs.c — the live-log stream helpers of e2e_logs.h.
 */
#include "e2e_logs.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e_auth.h"
#include "e2e_instances.h"

#define srv dm_e2e_auth_srv
#define EVENT_MS DM_E2E_LOGS_EVENT_MS

void dm_e2e_logs_path(char *out, size_t n, const char *inst, const char *query)
{
    snprintf(out, n, "/api/instances/%s/logs/stream%s", inst, query);
}

/* "2026-11-26T01:02:03Z", with an optional fraction and a Z or ±hh:mm. */
static bool rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (s == NULL || strlen(s) < sizeof shape)
        return false;
    for (size_t i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return false;
    }
    const char *p = s + sizeof shape - 1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (p[0] == 'Z')
        return p[1] == '\0';
    return (p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':';
}

int dm_e2e_logs_open(dm_e2e_conn *c, const char *path, const char *tok, const char *extra)
{
    dm_e2e_response res;
    int rc = dm_e2e_sse_open_with(c, srv.port, path, tok, extra, &res, EVENT_MS);
    ck_assert_msg(rc == 0, "%s: %s", path, dm_e2e_strerror(rc));
    if (res.status != 200) {
        int status = res.status;
        fprintf(stderr, "%s: %d %.300s\n", path, status, res.body);
        dm_e2e_response_free(&res);
        dm_e2e_close(c);
        return status;
    }
    const char *ct = dm_e2e_header(&res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "text/event-stream", 17) == 0 && (ct[17] == '\0' || ct[17] == ';'),
                  "%s: Content-Type %s", path, ct != NULL ? ct : "(none)");
    const char *cc = dm_e2e_header(&res, "Cache-Control");
    ck_assert_msg(cc != NULL && strcasecmp(cc, "no-cache") == 0, "%s: Cache-Control %s", path,
                  cc != NULL ? cc : "(none)");
    const char *conn = dm_e2e_header(&res, "Connection");
    ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0, "%s: Connection %s", path,
                  conn != NULL ? conn : "(none)");
    ck_assert_msg(dm_e2e_header(&res, "Content-Length") == NULL, "%s: a stream with a Content-Length", path);
    ck_assert_msg(dm_e2e_header(&res, "Transfer-Encoding") == NULL, "%s: the body is not close-delimited", path);
    ck_assert_msg(dm_e2e_header(&res, "X-Request-Id") != NULL, "%s: no X-Request-Id", path);
    dm_e2e_response_free(&res);
    /* The very first bytes of the body, exactly. */
    int got = dm_e2e_sse_wait_bytes(c, 13, EVENT_MS);
    ck_assert_msg(got == 0 && memcmp(c->buf, ": connected\n\n", 13) == 0,
                  "%s: the body does not start with \": connected\\n\\n\" (%s): \"%.200s\"", path,
                  dm_e2e_strerror(got), c->buf != NULL ? c->buf : "");
    dm_e2e_sse_event ev;
    ck_assert_int_eq(dm_e2e_sse_next(c, &ev, 0), 0);
    dm_e2e_sse_event_free(&ev);
    return 200;
}

void dm_e2e_logs_open_ok(dm_e2e_conn *c, const char *path, const char *tok, const char *extra)
{
    int status = dm_e2e_logs_open(c, path, tok, extra);
    ck_assert_msg(status == 200, "%s: status %d (body above)", path, status);
}

void dm_e2e_logs_next(dm_e2e_conn *c, dm_e2e_sse_event *ev, int ms, const char *what)
{
    long long end = dm_e2e_now_ms() + ms;
    for (;;) {
        long long left = end - dm_e2e_now_ms();
        int rc = dm_e2e_sse_next(c, ev, left > 0 ? (int)left : 0);
        ck_assert_msg(rc != DM_E2E_PROTO, "%s: not SSE: \"%s\"", what, ev->comment);
        ck_assert_msg(rc == 0, "%s: %s after %d ms (buffered: \"%.300s\")", what, dm_e2e_strerror(rc), ms,
                      c->buf != NULL ? c->buf : "");
        if (ev->data != NULL || ev->event[0] != '\0')
            return;
        ck_assert_msg(ev->comment != NULL && strcmp(ev->comment, "keep-alive") == 0, "%s: unexpected %s", what,
                      dm_e2e_sse_describe(ev));
        dm_e2e_sse_event_free(ev);
    }
}

uint64_t dm_e2e_logs_id(const dm_e2e_sse_event *ev)
{
    if (ev->id == NULL || ev->id[0] < '1' || ev->id[0] > '9' || strspn(ev->id, "0123456789") != strlen(ev->id))
        return 0;
    return strtoull(ev->id, NULL, 10);
}

json_t *dm_e2e_logs_line(const dm_e2e_sse_event *ev, const char *inst)
{
    ck_assert_msg(ev->event[0] == '\0' && ev->n_data == 1, "not a log line: %s", dm_e2e_sse_describe(ev));
    json_error_t je;
    json_t *j = json_loads(ev->data, 0, &je);
    ck_assert_msg(j != NULL, "data is not JSON (or not UTF-8): %s: %s", je.text, dm_e2e_sse_describe(ev));
    ck_assert_msg(strstr(ev->data, "\": ") == NULL && strstr(ev->data, ", \"") == NULL, "data is not compact: %s",
                  ev->data);
    ck_assert_msg(json_object_size(j) == 4, "a line has %zu keys: %s", json_object_size(j), ev->data);
    ck_assert_str_eq(dm_e2e_jstr(j, "instanceId"), inst);
    dm_e2e_jstr(j, "line");
    const char *s = dm_e2e_jstr(j, "stream");
    ck_assert_msg(strcmp(s, "stdout") == 0 || strcmp(s, "stderr") == 0, "stream \"%s\"", s);
    json_t *ts = json_object_get(j, "timestamp");
    ck_assert_msg(json_is_null(ts) || rfc3339(json_string_value(ts)), "timestamp in %s", ev->data);
    bool notice = strncmp(dm_e2e_jstr(j, "line"), "lines dropped: ", 15) == 0;
    ck_assert_msg(notice ? ev->id == NULL : dm_e2e_logs_id(ev) > 0, "a %s with id %s: %s", notice ? "notice" : "line",
                  ev->id != NULL ? ev->id : "(none)", ev->data);
    return j;
}

json_t *dm_e2e_logs_next_line(dm_e2e_conn *c, const char *inst, int ms, const char *what, uint64_t *id)
{
    dm_e2e_sse_event ev;
    dm_e2e_logs_next(c, &ev, ms, what);
    ck_assert_msg(ev.event[0] == '\0', "%s: got %s", what, dm_e2e_sse_describe(&ev));
    json_t *j = dm_e2e_logs_line(&ev, inst);
    if (id != NULL)
        *id = dm_e2e_logs_id(&ev);
    dm_e2e_sse_event_free(&ev);
    return j;
}

json_t *dm_e2e_logs_wait_line(dm_e2e_conn *c, const char *inst, const char *text, int ms, json_t *before)
{
    json_t *seen = json_array();
    long long end = dm_e2e_now_ms() + ms;
    for (;;) {
        char what[2048];
        char *dump = json_dumps(seen, JSON_COMPACT);
        snprintf(what, sizeof what, "waiting for the line \"%s\" (lines so far: %.1500s)", text, dump);
        free(dump);
        long long left = end - dm_e2e_now_ms();
        json_t *j = dm_e2e_logs_next_line(c, inst, left > 0 ? (int)left : 0, what, NULL);
        if (strcmp(dm_e2e_jstr(j, "line"), text) == 0) {
            json_decref(seen);
            return j;
        }
        json_array_append(seen, json_object_get(j, "line"));
        if (before != NULL)
            json_array_append(before, json_object_get(j, "line"));
        json_decref(j);
    }
}

json_t *dm_e2e_logs_wait_control(dm_e2e_conn *c, const char *inst, const char *name, int ms)
{
    char what[96];
    snprintf(what, sizeof what, "waiting for event: %s", name);
    long long end = dm_e2e_now_ms() + ms;
    for (;;) {
        dm_e2e_sse_event ev;
        long long left = end - dm_e2e_now_ms();
        dm_e2e_logs_next(c, &ev, left > 0 ? (int)left : 0, what);
        if (ev.event[0] == '\0') {
            json_decref(dm_e2e_logs_line(&ev, inst));
            dm_e2e_sse_event_free(&ev);
            continue;
        }
        ck_assert_msg(strcmp(ev.event, name) == 0 && ev.n_data == 1, "%s: got %s", what, dm_e2e_sse_describe(&ev));
        json_t *j = json_loads(ev.data, 0, NULL);
        ck_assert_msg(json_is_object(j) && json_object_size(j) == 1, "%s: data %s", what, ev.data);
        dm_e2e_sse_event_free(&ev);
        return j;
    }
}

void dm_e2e_logs_expect_ended(dm_e2e_conn *c, const char *inst, int ms)
{
    json_t *j = dm_e2e_logs_wait_control(c, inst, "logs-ended", ms);
    ck_assert_str_eq(dm_e2e_jstr(j, "instanceId"), inst);
    json_decref(j);
    ck_assert_msg(dm_e2e_wait_closed(c, 5000) == 0, "the connection stays open after logs-ended");
    ck_assert_msg(c->len == 0, "bytes after logs-ended: \"%.200s\"", c->buf);
}

int dm_e2e_logs_count(const char *needle)
{
    char *log = dm_e2e_server_log(&srv);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(log);
    return n;
}

void dm_e2e_logs_wait_count(const char *needle, int n, int ms)
{
    long long end = dm_e2e_now_ms() + ms;
    while (dm_e2e_logs_count(needle) < n && dm_e2e_now_ms() < end)
        dm_e2e_nap_ms(50);
    ck_assert_msg(dm_e2e_logs_count(needle) >= n, "the server logged \"%s\" %d times in %d ms, want %d", needle,
                  dm_e2e_logs_count(needle), ms, n);
}

char *dm_e2e_logs_running(const char *email, char inst[37])
{
    char sub[37];
    char *tok = dm_e2e_instances_subscribe(email, sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    return tok;
}

void dm_e2e_logs_wait_logged(const char *tok, const char *inst, const char *const texts[])
{
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/logs?tail=1000", inst);
    bool all = false;
    char *dump = NULL;
    for (long long end = dm_e2e_now_ms() + 20000; !all && dm_e2e_now_ms() < end;) {
        dm_e2e_response res;
        dm_e2e_auth_call("GET", path, tok, NULL, &res);
        json_t *d = dm_e2e_auth_ok_data(&res, 200, path);
        dm_e2e_response_free(&res);
        free(dump);
        dump = json_dumps(d, JSON_COMPACT);
        all = true;
        for (int i = 0; texts[i] != NULL; i++) {
            char quoted[128];
            snprintf(quoted, sizeof quoted, "\"line\":\"%s\"", texts[i]);
            all = all && strstr(dump, quoted) != NULL;
        }
        json_decref(d);
        if (!all)
            dm_e2e_nap_ms(200);
    }
    ck_assert_msg(all, "the printed lines never reached the log: %.2000s", dump);
    free(dump);
}

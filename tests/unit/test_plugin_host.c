/*
 * test_plugin_host.c — the dm_host table plugins receive: its header
 * fields, logging under the plugin's name, config, clocks, randomness, and
 * the libcurl HTTP client against a loopback server in this file (methods,
 * headers, bodies, status passthrough, no redirects, timeouts, caps,
 * refused URLs and headers, concurrent use from threads), plus a real
 * plugin calling HTTP through the host.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/host_api.h"
#include "plugin/registry.h"

/* ---- a loopback HTTP/1.1 server: one connection at a time ---- */

typedef struct server {
    int             fd;
    int             port;
    int             stop[2];
    pthread_t       thread;
    pthread_mutex_t mu;
    char            last[16384]; /* the last request, raw */
} server;

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *extra_headers, const char *body, size_t len)
{
    char *head = NULL;
    int n = asprintf(&head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nX-Reply: yes\r\nConnection: close\r\n%s\r\n",
                     status, len, extra_headers);
    if (n < 0)
        return;
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
    free(head);
}

/* Read one request (head and Content-Length body) into buf; its length. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (len + 1 < cap && (end = strstr(buf, "\r\n\r\n")) == NULL) {
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            return len;
        len += (size_t)r;
        buf[len] = '\0';
    }
    if (end == NULL)
        return len;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want && len + 1 < cap) {
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
    }
    return len;
}

static void handle(server *s, int fd)
{
    char req[16384] = "";
    size_t len = read_request(fd, req, sizeof req);
    pthread_mutex_lock(&s->mu);
    memcpy(s->last, req, len + 1);
    pthread_mutex_unlock(&s->mu);
    char path[256] = "";
    sscanf(req, "%*s %255s", path);
    if (strcmp(path, "/ok") == 0) {
        reply(fd, "200 OK", "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
    } else if (strcmp(path, "/echo") == 0) {
        reply(fd, "200 OK", "", req, len);
    } else if (strcmp(path, "/redirect") == 0) {
        reply(fd, "302 Found", "Location: /ok\r\n", "", 0);
    } else if (strcmp(path, "/big") == 0) {
        static char big[100000];
        memset(big, 'x', sizeof big);
        reply(fd, "200 OK", "", big, sizeof big);
    } else if (strcmp(path, "/many-headers") == 0) {
        static char hdrs[8192];
        size_t n = 0;
        for (int i = 0; i < 300; i++)
            n += (size_t)snprintf(hdrs + n, sizeof hdrs - n, "X-H%d: v\r\n", i);
        reply(fd, "200 OK", hdrs, "", 0);
    } else if (strncmp(path, "/stream/", 8) == 0) {
        /* /stream/<chunks>/<gap ms>/<hold ms>: chunked, "line <i>\n" each,
         * gap between them, then hold before the end (a followed log). */
        int chunks = 0, gap = 0, hold = 0;
        sscanf(path + 8, "%d/%d/%d", &chunks, &gap, &hold);
        const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        send_all(fd, head, strlen(head));
        /* Waits end early when the test stops or the client hangs up (the
         * server takes one connection at a time). */
        struct pollfd p[2] = { { .fd = s->stop[0], .events = POLLIN }, { .fd = fd, .events = POLLIN } };
        for (int i = 0; i < chunks; i++) {
            char chunk[64], line[32];
            int n = snprintf(line, sizeof line, "line %d\n", i);
            int m = snprintf(chunk, sizeof chunk, "%x\r\n%s\r\n", n, line);
            send_all(fd, chunk, (size_t)m);
            if (gap > 0 && poll(p, 2, gap) != 0)
                return;
        }
        if (hold > 0 && poll(p, 2, hold) != 0)
            return;
        send_all(fd, "0\r\n\r\n", 5);
    } else if (strcmp(path, "/hang") == 0) {
        struct pollfd p = { .fd = s->stop[0], .events = POLLIN };
        poll(&p, 1, 10000);
    } else if (strcmp(path, "/v2/TXMP-7/status") == 0) {
        const char *b = "{\"status\":\"settlement\",\"amount\":50000}";
        reply(fd, "200 OK", "", b, strlen(b));
    } else {
        reply(fd, "404 Not Found", "", "nope", 4);
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };
        if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN) != 0)
            break;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        handle(s, c);
        close(c);
    }
    return NULL;
}

static int bound_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "socket failed");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind failed");
    ck_assert_msg(getsockname(fd, (struct sockaddr *)&a, &al) == 0, "getsockname failed");
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(server *s)
{
    memset(s, 0, sizeof *s);
    s->fd = bound_socket(&s->port);
    ck_assert_msg(listen(s->fd, 64) == 0, "listen failed");
    ck_assert_msg(pipe(s->stop) == 0, "pipe failed");
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_msg(pthread_create(&s->thread, NULL, serve, s) == 0, "pthread_create failed");
}

static void server_stop(server *s)
{
    ck_assert_msg(write(s->stop[1], "x", 1) == 1, "stopping the server failed");
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop[0]);
    close(s->stop[1]);
    pthread_mutex_destroy(&s->mu);
}

/* ---- helpers ---- */

static server srv;
static dm_plugin_ctx_t *ctx;
static const dm_host_t *host;

static void setup(void)
{
    ck_assert_int_eq(dm__plugins_global_init(), 0);
    server_start(&srv);
    ctx = dm__plugin_ctx_new("tester", json_pack("{s:i}", "answer", 42));
    ck_assert_msg(ctx != NULL, "ctx");
    host = dm__plugin_host();
}

static void teardown(void)
{
    server_stop(&srv);
    dm__plugin_ctx_free(ctx);
    dm__plugins_global_cleanup();
}

static int call(const char *method, const char *path, const dm_http_header_t *h, size_t nh,
                const char *body, size_t max, uint32_t timeout_ms, dm_http_response_t **resp,
                dm_err_t *err)
{
    char url[256];
    if (strstr(path, "://") != NULL)
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
    dm_http_request_t req = { .size = sizeof req, .method = method, .url = url, .headers = h,
                              .n_headers = nh, .body = body, .body_len = body != NULL ? strlen(body) : 0,
                              .timeout_ms = timeout_ms, .max_response_bytes = max };
    dm_err_clear(err);
    return host->http_request(ctx, &req, resp, err);
}

/* ---- the table ---- */

START_TEST(table_header_fields)
{
    ck_assert_uint_eq(host->size, sizeof(dm_host_t));
    ck_assert_uint_eq(host->abi_major, DM_PLUGIN_ABI_MAJOR);
    ck_assert_uint_eq(host->abi_minor, DM_PLUGIN_ABI_MINOR);
    ck_assert_msg(DM_HOST_HAS(host, random_bytes), "the last 1.0 field must be present");
    ck_assert_msg(host->log && host->config && host->http_request && host->http_response_free &&
                  host->clock_wall_ms && host->clock_mono_ns && host->random_bytes,
                  "every 1.0 function must be set");
}
END_TEST

START_TEST(log_carries_plugin_name_and_level)
{
    fx_capture cap;
    fx_capture_start(&cap);
    host->log(ctx, DM_HOST_LOG_WARN, "hello %d", 42);
    host->log(ctx, DM_HOST_LOG_DEBUG, "debug is below the default level");
    char *log = fx_capture_end(&cap);
    json_t *j = json_loads(log, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_msg(j != NULL, "log is not JSON lines: %s", log);
    ck_assert_str_eq(json_string_value(json_object_get(j, "src")), "plugin");
    ck_assert_str_eq(json_string_value(json_object_get(j, "plugin")), "tester");
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(j, "msg")), "hello 42");
    ck_assert_msg(strstr(log, "debug is below") == NULL, "debug line written at level info:\n%s", log);
    json_decref(j);
    free(log);
}
END_TEST

START_TEST(invalid_ctx_is_caught_not_followed)
{
    struct dm_plugin_ctx fake = { .magic = 0x1234, .name = NULL, .config = NULL };
    fx_capture cap;
    fx_capture_start(&cap);
    host->log(&fake, DM_HOST_LOG_INFO, "x");
    char *log = fx_capture_end(&cap);
    ck_assert_msg(fx_log_has(log, "plugin", "invalid ctx"), "no complaint logged:\n%s", log);
    free(log);
    ck_assert_msg(host->config(&fake) == NULL, "config of a bad ctx");
    ck_assert_msg(host->config(NULL) == NULL, "config of NULL");
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    dm_http_request_t req = { .size = sizeof req, .method = "GET", .url = "http://127.0.0.1:1/" };
    ck_assert_int_eq(host->http_request(&fake, &req, &resp, &err), DM_EINVAL);
    ck_assert_msg(resp == NULL, "resp set on failure");
}
END_TEST

START_TEST(config_is_the_ctx_object)
{
    json_t *cfg = host->config(ctx);
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "answer")), 42);
    ck_assert_msg(host->config(ctx) == cfg, "config must be the same borrowed object each time");
}
END_TEST

START_TEST(clocks_and_random_bytes)
{
    int64_t wall = host->clock_wall_ms();
    int64_t now = (int64_t)time(NULL) * 1000;
    ck_assert_msg(wall > now - 5000 && wall < now + 5000, "wall clock %lld far from %lld",
                  (long long)wall, (long long)now);
    uint64_t a = host->clock_mono_ns(), b = host->clock_mono_ns();
    ck_assert_msg(b >= a, "monotonic clock went back");
    unsigned char r1[32] = { 0 }, r2[32] = { 0 };
    ck_assert_int_eq(host->random_bytes(r1, sizeof r1), 0);
    ck_assert_int_eq(host->random_bytes(r2, sizeof r2), 0);
    ck_assert_msg(memcmp(r1, r2, sizeof r1) != 0, "two random draws are equal");
}
END_TEST

/* ---- HTTP ---- */

START_TEST(get_returns_status_headers_body)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_msg(call("GET", "/ok", NULL, 0, NULL, 0, 0, &resp, &err) == 0, "GET failed: %s", err.msg);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(resp->body, "{\"ok\":true}");
    ck_assert_uint_eq(resp->body_len, 11);
    ck_assert_str_eq(dm_http_response_header(resp, "x-reply"), "yes");
    ck_assert_str_eq(dm_http_response_header(resp, "Content-Type"), "application/json");
    ck_assert_msg(dm_http_response_header(resp, "X-Absent") == NULL, "absent header found");
    host->http_response_free(resp);
    host->http_response_free(NULL);
}
END_TEST

START_TEST(post_sends_headers_and_body)
{
    const dm_http_header_t h[] = { { "X-Test", "1" }, { "Content-Type", "application/x-www-form-urlencoded" } };
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_msg(call("POST", "/echo", h, 2, "hello=world", 0, 0, &resp, &err) == 0, "POST: %s", err.msg);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_msg(strncmp(resp->body, "POST /echo HTTP/1.1\r\n", 21) == 0, "request line: %s", resp->body);
    ck_assert_msg(strstr(resp->body, "\r\nX-Test: 1\r\n") != NULL, "header missing: %s", resp->body);
    ck_assert_msg(strstr(resp->body, "User-Agent: dermaga/") != NULL &&
                  strstr(resp->body, "(plugin tester)") != NULL, "user agent: %s", resp->body);
    ck_assert_msg(strstr(resp->body, "Expect:") == NULL, "Expect header sent: %s", resp->body);
    size_t n = strlen(resp->body);
    ck_assert_msg(n > 11 && strcmp(resp->body + n - 11, "hello=world") == 0, "body: %s", resp->body);
    host->http_response_free(resp);
}
END_TEST

START_TEST(other_methods)
{
    const char *methods[] = { "PUT", "PATCH", "DELETE" };
    for (size_t i = 0; i < 3; i++) {
        dm_http_response_t *resp = NULL;
        dm_err_t err;
        ck_assert_msg(call(methods[i], "/echo", NULL, 0, i < 2 ? "{}" : NULL, 0, 0, &resp, &err) == 0,
                      "%s: %s", methods[i], err.msg);
        char want[32];
        snprintf(want, sizeof want, "%s /echo HTTP/1.1", methods[i]);
        ck_assert_msg(strncmp(resp->body, want, strlen(want)) == 0, "%s sent as: %.40s", methods[i], resp->body);
        host->http_response_free(resp);
    }
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_msg(call("HEAD", "/ok", NULL, 0, NULL, 0, 0, &resp, &err) == 0, "HEAD: %s", err.msg);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_uint_eq(resp->body_len, 0);
    ck_assert_str_eq(resp->body, "");
    host->http_response_free(resp);
}
END_TEST

START_TEST(http_errors_are_responses_and_redirects_not_followed)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_int_eq(call("GET", "/missing", NULL, 0, NULL, 0, 0, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 404);
    ck_assert_str_eq(resp->body, "nope");
    host->http_response_free(resp);
    ck_assert_int_eq(call("GET", "/redirect", NULL, 0, NULL, 0, 0, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_str_eq(dm_http_response_header(resp, "Location"), "/ok");
    host->http_response_free(resp);
}
END_TEST

START_TEST(times_out)
{
    dm_http_response_t *resp = (dm_http_response_t *)1;
    dm_err_t err;
    uint64_t t0 = host->clock_mono_ns();
    ck_assert_int_eq(call("GET", "/hang", NULL, 0, NULL, 0, 300, &resp, &err), DM_ETIMEDOUT);
    uint64_t ms = (host->clock_mono_ns() - t0) / 1000000u;
    ck_assert_msg(ms < 5000, "timeout of 300 ms took %llu ms", (unsigned long long)ms);
    ck_assert_msg(resp == NULL, "resp set on failure");
    ck_assert_msg(strstr(err.msg, "timed out") != NULL, "message: %s", err.msg);
}
END_TEST

START_TEST(caps_the_body)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_int_eq(call("GET", "/big", NULL, 0, NULL, 1000, 0, &resp, &err), DM_EBUSY);
    ck_assert_msg(strstr(err.msg, "larger than 1000 bytes") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(call("GET", "/big", NULL, 0, NULL, 0, 0, &resp, &err), 0);
    ck_assert_uint_eq(resp->body_len, 100000);
    host->http_response_free(resp);
}
END_TEST

START_TEST(caps_the_header_count)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_int_eq(call("GET", "/many-headers", NULL, 0, NULL, 0, 0, &resp, &err), DM_EIO);
    ck_assert_msg(strstr(err.msg, "more than 256 response headers") != NULL, "message: %s", err.msg);
}
END_TEST

START_TEST(refuses_bad_requests)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    const dm_http_header_t crlf[] = { { "X-A", "a\r\nX-Evil: 1" } };
    const dm_http_header_t badname[] = { { "Bad Name", "v" } };
    ck_assert_int_eq(call("GET", "/ok", crlf, 1, NULL, 0, 0, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "header 'X-A' has an invalid value") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(call("GET", "/ok", badname, 1, NULL, 0, 0, &resp, &err), DM_EINVAL);
    ck_assert_int_eq(call("G ET", "/ok", NULL, 0, NULL, 0, 0, &resp, &err), DM_EINVAL);
    ck_assert_int_eq(call("GET", "file:///etc/passwd", NULL, 0, NULL, 0, 0, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "only http and https") != NULL, "message: %s", err.msg);
    dm_http_request_t nosize = { .method = "GET", .url = "http://127.0.0.1/" };
    ck_assert_int_eq(host->http_request(ctx, &nosize, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "size") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(host->http_request(ctx, NULL, &resp, &err), DM_EINVAL);
    ck_assert_msg(resp == NULL, "resp set on failure");
}
END_TEST

/* ---- ABI 1.5: streaming and TLS settings ---- */

typedef struct got {
    char text[256];
    int  calls;
    int  stop_after; /* on_data answers non-zero on this call; 0 never */
    bool cancel_after_data; /* cancelled() true once a chunk arrived */
    int  polls;
} got;

static int got_data(void *opaque, const char *data, size_t len)
{
    got *g = opaque;
    size_t have = strlen(g->text);
    snprintf(g->text + have, sizeof g->text - have, "%.*s", (int)len, data);
    g->calls++;
    return g->stop_after != 0 && g->calls >= g->stop_after;
}

static bool got_cancelled(void *opaque)
{
    got *g = opaque;
    g->polls++;
    return g->cancel_after_data && g->calls > 0;
}

static int stream(const char *path, got *g, uint32_t flags, uint32_t timeout_ms,
                  dm_http_response_t **resp, dm_err_t *err)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
    dm_http_request_t req = { .size = sizeof req, .method = "GET", .url = url,
                              .timeout_ms = timeout_ms, .flags = flags, .on_data = got_data,
                              .cancelled = got_cancelled, .stream_opaque = g };
    dm_err_clear(err);
    return host->http_request(ctx, &req, resp, err);
}

/* A 2xx body goes to on_data as it arrives, none of it into resp->body; a
 * non-2xx answer's body is collected as usual and on_data never called. */
START_TEST(streams_a_2xx_body_to_on_data)
{
    got g = { 0 };
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_int_eq(stream("/stream/3/20/0", &g, 0, 0, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(g.text, "line 0\nline 1\nline 2\n");
    ck_assert_uint_eq(resp->body_len, 0);
    host->http_response_free(resp);
    got nf = { 0 };
    ck_assert_int_eq(stream("/missing", &nf, 0, 0, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 404);
    ck_assert_str_eq(resp->body, "nope");
    ck_assert_int_eq(nf.calls, 0);
    host->http_response_free(resp);
}
END_TEST

/* on_data's non-zero and cancelled()'s true each end a stream the server
 * would hold for 10 s, promptly and as a success. */
START_TEST(a_stream_stops_when_asked)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    got g = { .stop_after = 1 };
    uint64_t t0 = host->clock_mono_ns();
    ck_assert_int_eq(stream("/stream/1/0/10000", &g, DM_HTTP_NO_TIMEOUT, 0, &resp, &err), 0);
    ck_assert_str_eq(g.text, "line 0\n");
    host->http_response_free(resp);
    got c = { .cancel_after_data = true };
    ck_assert_int_eq(stream("/stream/1/0/10000", &c, DM_HTTP_NO_TIMEOUT, 0, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(c.text, "line 0\n");
    ck_assert_int_gt(c.polls, 0);
    host->http_response_free(resp);
    uint64_t ms = (host->clock_mono_ns() - t0) / 1000000u;
    ck_assert_msg(ms < 6000, "stopping two held streams took %llu ms", (unsigned long long)ms);
}
END_TEST

/* A stream longer than timeout_ms times out, unless DM_HTTP_NO_TIMEOUT. */
START_TEST(no_timeout_lets_a_stream_outlive_timeout_ms)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    got g = { 0 };
    ck_assert_int_eq(stream("/stream/1/0/1200", &g, 0, 400, &resp, &err), DM_ETIMEDOUT);
    ck_assert_msg(resp == NULL, "resp set on failure");
    got h = { 0 };
    ck_assert_int_eq(stream("/stream/2/0/1200", &h, DM_HTTP_NO_TIMEOUT, 400, &resp, &err), 0);
    ck_assert_str_eq(h.text, "line 0\nline 1\n");
    host->http_response_free(resp);
}
END_TEST

/* The 1.5 TLS fields are checked before anything is sent. */
START_TEST(refuses_half_given_tls_settings)
{
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", srv.port);
    const char pem[] = "-----BEGIN CERTIFICATE-----\n";
    dm_http_request_t no_len = { .size = sizeof no_len, .method = "GET", .url = url, .ca_pem = pem };
    ck_assert_int_eq(host->http_request(ctx, &no_len, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "ca_pem and ca_pem_len") != NULL, "message: %s", err.msg);
    dm_http_request_t no_key = { .size = sizeof no_key, .method = "GET", .url = url,
                                 .client_cert_pem = pem, .client_cert_pem_len = sizeof pem - 1 };
    ck_assert_int_eq(host->http_request(ctx, &no_key, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "client certificate needs its key") != NULL, "message: %s", err.msg);
    dm_http_request_t bad_flag = { .size = sizeof bad_flag, .method = "GET", .url = url, .flags = 0x80 };
    ck_assert_int_eq(host->http_request(ctx, &bad_flag, &resp, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "unknown flags 0x80") != NULL, "message: %s", err.msg);
    /* A 1.0-sized request never reads the 1.5 fields behind it. */
    dm_http_request_t old = bad_flag;
    old.size = DM_HTTP_REQUEST_SIZE_1_0;
    ck_assert_int_eq(host->http_request(ctx, &old, &resp, &err), 0);
    ck_assert_int_eq(resp->status, 200);
    host->http_response_free(resp);
}
END_TEST

START_TEST(connection_refused_is_eio)
{
    int port;
    int fd = bound_socket(&port); /* bound, never listening */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    dm_http_response_t *resp = NULL;
    dm_err_t err;
    ck_assert_int_eq(call("GET", url, NULL, 0, NULL, 0, 2000, &resp, &err), DM_EIO);
    close(fd);
}
END_TEST

static atomic_int thread_failures;

static void *many_gets(void *arg)
{
    for (int i = 0; i < 10; i++) {
        dm_http_response_t *resp = NULL;
        dm_err_t err;
        if (call("GET", "/ok", NULL, 0, NULL, 0, 10000, &resp, &err) != 0 || resp->status != 200)
            atomic_fetch_add(&thread_failures, 1);
        host->http_response_free(resp);
    }
    return NULL;
}

START_TEST(usable_from_several_threads_at_once)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, many_gets, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_msg(atomic_load(&thread_failures) == 0, "%d requests failed", atomic_load(&thread_failures));
}
END_TEST

/* ---- a real plugin going through the host ---- */

START_TEST(plugin_calls_http_through_the_host)
{
    char dir[512], text[1024];
    fx_mkdtemp(dir, sizeof dir);
    fx_install(dir, "payment-good");
    snprintf(text, sizeof text,
             "[{\"name\":\"payment-good\",\"config\":{\"server_key\":\"sk-1\",\"base_url\":\"http://127.0.0.1:%d\"}}]",
             srv.port);
    json_t *plugins = fx_json(text);
    dm_plugin_set *set = dm__plugins_new();
    ck_assert_int_eq(dm__plugins_load(set, dir, plugins, NULL), 0);
    const dm_plugin *p = dm__plugins_find(set, DM_PLUGIN_PAYMENT, "payment-good");
    ck_assert_msg(p != NULL, "payment-good did not load");
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);

    dm_payment_event_t ev = { 0 };
    dm_err_t err;
    ck_assert_msg(ops->query_status(p->state, "TXMP-7", &ev, &err) == 0, "query_status: %s", err.msg);
    ck_assert_uint_eq(ev.status, DM_PAYMENT_SUCCESS);
    ck_assert_int_eq(ev.amount, 50000);
    json_decref(ev.raw);
    pthread_mutex_lock(&srv.mu);
    int sent_right = strstr(srv.last, "GET /v2/TXMP-7/status HTTP/1.1") != NULL &&
                     strstr(srv.last, "Accept: application/json") != NULL &&
                     strstr(srv.last, "(plugin payment-good)") != NULL;
    pthread_mutex_unlock(&srv.mu);
    ck_assert_msg(sent_right, "the gateway saw: %s", srv.last);

    const dm_http_header_t good[] = { { "X-Signature", "sk-1" } };
    const dm_http_header_t bad[] = { { "X-Signature", "forged" } };
    const char *body = "{\"order_id\":\"TXMP-7\",\"amount\":50000}";
    dm_payment_event_t ev2 = { 0 };
    ck_assert_int_eq(ops->verify_notification(p->state, bad, 1, body, strlen(body), &ev2, &err), DM_EPERM);
    ck_assert_int_eq(ops->verify_notification(p->state, good, 1, body, strlen(body), &ev2, &err), 0);
    ck_assert_str_eq(ev2.order_id, "TXMP-7");
    json_decref(ev2.raw);

    dm__plugins_free(set);
    json_decref(plugins);
    fx_rmdir(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_host");
    TCase *t = tcase_create("table");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, table_header_fields);
    tcase_add_test(t, log_carries_plugin_name_and_level);
    tcase_add_test(t, invalid_ctx_is_caught_not_followed);
    tcase_add_test(t, config_is_the_ctx_object);
    tcase_add_test(t, clocks_and_random_bytes);
    suite_add_tcase(s, t);
    TCase *h = tcase_create("http");
    tcase_add_checked_fixture(h, setup, teardown);
    tcase_set_timeout(h, 30);
    tcase_add_test(h, get_returns_status_headers_body);
    tcase_add_test(h, post_sends_headers_and_body);
    tcase_add_test(h, other_methods);
    tcase_add_test(h, http_errors_are_responses_and_redirects_not_followed);
    tcase_add_test(h, times_out);
    tcase_add_test(h, caps_the_body);
    tcase_add_test(h, caps_the_header_count);
    tcase_add_test(h, refuses_bad_requests);
    tcase_add_test(h, connection_refused_is_eio);
    tcase_add_test(h, streams_a_2xx_body_to_on_data);
    tcase_add_test(h, a_stream_stops_when_asked);
    tcase_add_test(h, no_timeout_lets_a_stream_outlive_timeout_ms);
    tcase_add_test(h, refuses_half_given_tls_settings);
    tcase_add_test(h, usable_from_several_threads_at_once);
    tcase_add_test(h, plugin_calls_http_through_the_host);
    suite_add_tcase(s, h);
    return s;
}

DM_TEST_MAIN(make_suite)

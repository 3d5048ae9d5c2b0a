/*
 * test_http_review.c — regressions found in the review of the HTTP core:
 * the pipeline bound when requests arrive one per read, responses still
 * queued for writing when the client half-closes or the server drains,
 * chunked bodies not reserving the configured maximum, trailers kept out of
 * the request headers, 100-continue for a pipelined request, the 408
 * deadline not moved by earlier responses, the 417 status line, and a
 * database that stops answering on an open connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"

#define T_MS DM_E2E_T_MS

static dm_e2e_server srv;
static int hole = -1;

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
    if (hole >= 0)
        close(hole);
    hole = -1;
}

/* A server whose database accepts the TCP handshake and then never answers,
 * so a /readyz holds the single worker for connect_s seconds. */
static void start_with_hung_db(int connect_s, json_t *server_overrides)
{
    int hole_port = 0;
    hole = dm_e2e_blackhole_listen(&hole_port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", hole_port);
    json_t *o = json_pack("{s:{s:s,s:i,s:i}}", "database", "url", url, "connectTimeoutS", connect_s,
                          "workers", 1);
    ck_assert_msg(o != NULL, "out of memory");
    if (server_overrides != NULL)
        json_object_set_new(o, "server", server_overrides);
    dm_e2e_server_start(&srv, o);
}

/* The server's peak resident set (VmHWM) in KiB, from /proc. */
static long long peak_rss_kib(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    char line[256];
    long long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            char *end = NULL;
            kib = strtoll(line + 6, &end, 10);
            break;
        }
    }
    fclose(f);
    ck_assert_msg(kib > 0, "no VmHWM line in %s", path);
    return kib;
}

/* A client socket with a small receive buffer, so the server cannot push
 * megabytes into the kernel and must keep them in its write queue. */
static void connect_small_rcvbuf(dm_e2e_conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_msg(c->fd >= 0, "socket: %s", strerror(errno));
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                  strerror(errno));
}

static char *repeat(const char *s, int n)
{
    size_t len = strlen(s);
    char *out = malloc(len * (size_t)n + 1);
    ck_assert_msg(out != NULL, "out of memory");
    for (int i = 0; i < n; i++)
        memcpy(out + len * (size_t)i, s, len);
    out[len * (size_t)n] = '\0';
    return out;
}

/* ---- the pipeline bound ----------------------------------------------- */

/* Requests that each arrive in their own read must stop being read once
 * server.maxPipeline are owed, exactly as when they arrive in one read;
 * otherwise a client grows the queue (and the write queue) without limit. */
START_TEST(test_pipeline_bound_holds_for_one_request_per_read)
{
    start_with_hung_db(4, json_pack("{s:i}", "maxPipeline", 2));
    dm_e2e_conn c;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: slow\r\n\r\n");
    long long n = dm_e2e_wait_metric(srv.port, "dermaga_http_inflight_requests", 1, 1, 3000);
    ck_assert_msg(n == 1, "the /readyz never reached the worker pool (inflight %lld)", n);
    enum { N = 6 };
    int read_by_server = 0;
    bool held_back = false;
    for (int i = 0; i < N; i++) {
        char req[128], needle[64];
        snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: one-%d\r\n\r\n", i);
        snprintf(needle, sizeof needle, "\"requestId\":\"one-%d\"", i);
        dm_e2e_send_ok(&c, req);
        /* A request the server reads is answered (and logged) at once; its
         * response then waits behind the slow one. Once one is held back,
         * the rest are only sent (all of it within ~1 s of the 4 s hold). */
        if (held_back)
            continue;
        if (dm_e2e_server_wait_log(&srv, needle, 1000))
            read_by_server++;
        else
            held_back = true;
    }
    ck_assert_msg(read_by_server <= 1,
                  "with maxPipeline 2 and one request on the pool, the server read %d more "
                  "requests sent one at a time (at most 1 may be queued)", read_by_server);
    /* Nothing is lost: everything is answered, in order, once the slow one ends. */
    const char *ids[N + 1] = { "slow", "one-0", "one-1", "one-2", "one-3", "one-4", "one-5" };
    int statuses[N + 1] = { 503, 200, 200, 200, 200, 200, 200 };
    dm_e2e_expect_in_order(&c, N + 1, ids, statuses);
    dm_e2e_close(&c);
}
END_TEST

/* ---- queued writes and closing ---------------------------------------- */

/* The client sends many requests and half-closes at once. Every response
 * must arrive in full, including those still in the write queue when the
 * server reads the EOF. */
START_TEST(test_half_close_does_not_drop_queued_responses)
{
    dm_e2e_server_start(&srv, NULL);
    /* 600 x 11 KiB is more than the kernel's socket buffers (4 MiB at most
     * on loopback) plus the server's 1 MiB write high-water mark. */
    enum { N = 600 };
    dm_e2e_conn c;
    connect_small_rcvbuf(&c);
    char *reqs = repeat("GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n", N);
    ck_assert_msg(dm_e2e_send(&c, reqs, strlen(reqs)) == 0, "sending %d requests failed", N);
    free(reqs);
    ck_assert_msg(dm_e2e_shutdown_write(&c) == 0, "shutdown(SHUT_WR) failed");
    for (int i = 0; i < N; i++) {
        dm_e2e_response res;
        int rc = dm_e2e_read_response(&c, &res, T_MS, false);
        ck_assert_msg(rc == 0, "response %d of %d to a half-closed client: %s (%zu bytes left over)",
                      i + 1, N, dm_e2e_strerror(rc), c.len);
        ck_assert_msg(res.status == 200, "response %d: status %d", i + 1, res.status);
        dm_e2e_response_free(&res);
    }
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "half-closed connection left open");
    dm_e2e_close(&c);
}
END_TEST

/* Enough ~11 KiB /openapi.json requests that their answers overflow the
 * kernel's socket buffers (tcp_wmem's maximum for the server's side, a
 * small receive buffer on ours) plus the server's 1 MiB write high-water
 * mark, so the server must hold some in its write queue. */
static int requests_to_fill_buffers(void)
{
    long long wmem_max = 4 << 20;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f != NULL) {
        long long lo, def, hi;
        if (fscanf(f, "%lld %lld %lld", &lo, &def, &hi) == 3)
            wmem_max = hi;
        fclose(f);
    }
    long long n = (wmem_max + (3 << 20)) / 11000;
    return n < 600 ? 600 : (int)n;
}

static int count_in(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* SIGTERM while answers sit in the write queue: every request the server
 * answered (its handler ran and it was logged) reaches the client whole
 * before the close; requests it had not read yet may go unanswered. */
START_TEST(test_drain_does_not_drop_queued_responses)
{
    dm_e2e_server_start(&srv, NULL);
    int n = requests_to_fill_buffers();
    dm_e2e_conn c;
    connect_small_rcvbuf(&c);
    size_t cap = (size_t)n * 64 + 1, len = 0;
    char *reqs = malloc(cap);
    ck_assert_msg(reqs != NULL, "out of memory");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(reqs + len, cap - len,
                                "GET /openapi.json HTTP/1.1\r\nHost: t\r\nX-Request-Id: d-%d\r\n\r\n", i);
    ck_assert_msg(dm_e2e_send(&c, reqs, len) == 0, "sending %d requests failed", n);
    free(reqs);
    /* The server answers what it read in one go until its write queue
     * passes the high-water mark; the batch is logged together. */
    ck_assert_msg(dm_e2e_server_wait_log(&srv, "\"requestId\":\"d-10\"", T_MS),
                  "the server never answered the first requests");
    ck_assert_msg(kill(srv.pid, SIGTERM) == 0, "kill: %s", strerror(errno));
    ck_assert_msg(dm_e2e_server_wait_log(&srv, "draining", T_MS), "no drain after SIGTERM");
    int complete = 0, rc;
    dm_e2e_response res;
    while ((rc = dm_e2e_read_response(&c, &res, T_MS, false)) == 0) {
        ck_assert_msg(res.status == 200, "response %d while draining: status %d", complete + 1,
                      res.status);
        dm_e2e_response_free(&res);
        complete++;
    }
    ck_assert_msg(rc == DM_E2E_CLOSED, "after %d responses while draining: %s", complete,
                  dm_e2e_strerror(rc));
    ck_assert_msg(c.len == 0, "the connection closed in the middle of response %d (%zu bytes of it)",
                  complete + 1, c.len);
    dm_e2e_close(&c);
    int st = dm_e2e_server_wait_exit(&srv, 10000);
    ck_assert_msg(dm_e2e_exited_0(st), "server after SIGTERM: %s", dm_e2e_describe_status(st));
    char *log = dm_e2e_server_log(&srv);
    int answered = count_in(log, "\"requestId\":\"d-");
    free(log);
    dm_e2e_server_free(&srv);
    ck_assert_msg(answered > 10, "only %d requests were answered before the drain", answered);
    ck_assert_msg(complete == answered,
                  "the server answered %d requests but only %d responses reached the client "
                  "before it closed the connection", answered, complete);
}
END_TEST

/* ---- bodies ----------------------------------------------------------- */

/* A two-byte chunked body must not cost server.maxBodyBytes of memory. */
START_TEST(test_small_chunked_body_does_not_reserve_the_maximum)
{
    dm_e2e_server_start(&srv, json_pack("{s:{s:i}}", "server", "maxBodyBytes", 128 * 1024 * 1024));
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_response_free(&res);
    long long before = peak_rss_kib(srv.pid);
    dm_e2e_roundtrip_ok(srv.port,
                        "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "2\r\n{}\r\n0\r\n\r\n",
                        &res);
    ck_assert_msg(res.status == 405, "chunked POST /healthz: status %d", res.status);
    dm_e2e_response_free(&res);
    long long grown = peak_rss_kib(srv.pid) - before;
    ck_assert_msg(grown < 32 * 1024,
                  "a 2-byte chunked body raised the server's peak memory by %lld KiB "
                  "(maxBodyBytes is 128 MiB)", grown);
}
END_TEST

/* Trailer fields after a chunked body are not request headers: a handler
 * or middleware reading a header must not see them. */
START_TEST(test_trailers_are_not_request_headers)
{
    dm_e2e_server_start(&srv, NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "2\r\n{}\r\n0\r\nX-Request-Id: from-trailer\r\n\r\n");
    dm_e2e_read_ok(&c, &res, false, "chunked POST with a trailer");
    const char *id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(id != NULL && strcmp(id, "from-trailer") != 0,
                  "a trailer field was taken as the X-Request-Id header (%s)", id ? id : "none");
    ck_assert_msg(res.status == 405, "chunked POST with a trailer: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    dm_e2e_read_ok(&c, &res, false, "GET after a trailer");
    ck_assert_msg(res.status == 200, "GET after a trailer: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

/* ---- Expect: 100-continue --------------------------------------------- */

/* A request with Expect: 100-continue behind a slow one gets its 100 once
 * the earlier response is out (never before it), so the client sends its
 * body instead of waiting in vain. */
START_TEST(test_100_continue_for_a_pipelined_request)
{
    start_with_hung_db(2, NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: slow\r\n\r\n"
                       "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nExpect: 100-continue\r\nX-Request-Id: cont\r\n\r\n");
    dm_e2e_read_ok(&c, &res, false, "the slow response");
    ck_assert_msg(res.status == 503, "slow /readyz: status %d (a 100 must not overtake it)",
                  res.status);
    dm_e2e_response_free(&res);
    dm_e2e_read_ok(&c, &res, false, "100 Continue after the earlier response");
    ck_assert_msg(res.status == 100, "expected 100 Continue once the request reached the front, got %d",
                  res.status);
    dm_e2e_response_free(&res);
    dm_e2e_send_ok(&c, "{}");
    dm_e2e_read_ok(&c, &res, false, "final response after the body");
    ck_assert_msg(res.status == 405, "POST /healthz after 100-continue: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

/* ---- the 408 deadline ------------------------------------------------- */

/* The header deadline counts from the request's first byte; an earlier
 * pipelined response going out must not restart it. */
START_TEST(test_408_deadline_not_moved_by_earlier_responses)
{
    start_with_hung_db(2, json_pack("{s:i}", "headerTimeoutMs", 3000));
    dm_e2e_conn c;
    dm_e2e_response res;
    dm_e2e_connect_ok(&c, srv.port);
    long long t0 = dm_e2e_now_ms();
    dm_e2e_send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: slow\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost");
    dm_e2e_read_ok(&c, &res, false, "the slow response");
    ck_assert_msg(res.status == 503, "slow /readyz: status %d", res.status);
    dm_e2e_response_free(&res);
    int rc = dm_e2e_read_response(&c, &res, 8000, false);
    ck_assert_msg(rc == 0, "no 408 for the incomplete request: %s", dm_e2e_strerror(rc));
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 408, "incomplete request behind a slow one");
    ck_assert_msg(waited < 4500,
                  "408 after %lld ms; the 3000 ms header deadline started with the request's "
                  "first byte, not when the earlier response (after ~2000 ms) went out", waited);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

/* ---- status lines ----------------------------------------------------- */

START_TEST(test_417_has_its_reason_phrase)
{
    dm_e2e_server_start(&srv, NULL);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                                  "Expect: 200-ok\r\n\r\n{}", &res);
    ck_assert_msg(res.status == 417, "status %d", res.status);
    ck_assert_msg(res.reason != NULL && strcmp(res.reason, "Expectation Failed") == 0,
                  "417 reason phrase is \"%s\"", res.reason ? res.reason : "");
    dm_e2e_response_free(&res);
}
END_TEST


/* ---- a database that stops answering ---------------------------------- */

/* A TCP relay in front of the test PostgreSQL that can be frozen: while
 * frozen it forwards nothing (the kernel still acknowledges what is sent),
 * like a database host that hangs with its connections open. */
enum { PROXY_MAX = 32 };
typedef struct proxy {
    int         lfd, port, upstream_port;
    int         fds[PROXY_MAX][2]; /* client side, upstream side; -1 when free */
    atomic_bool frozen, stop;
    pthread_t   thread;
} proxy;

static proxy px = { .lfd = -1 };

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void proxy_drop(int i)
{
    close(px.fds[i][0]);
    close(px.fds[i][1]);
    px.fds[i][0] = px.fds[i][1] = -1;
}

static void proxy_accept(void)
{
    int cfd = accept4(px.lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    int ufd = connect_loopback(px.upstream_port);
    for (int i = 0; ufd >= 0 && i < PROXY_MAX; i++) {
        if (px.fds[i][0] < 0) {
            px.fds[i][0] = cfd;
            px.fds[i][1] = ufd;
            return;
        }
    }
    close(cfd);
    if (ufd >= 0)
        close(ufd);
}

static void *proxy_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&px.stop)) {
        struct pollfd pf[1 + 2 * PROXY_MAX];
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = px.lfd, .events = POLLIN };
        bool frozen = atomic_load(&px.frozen);
        for (int i = 0; i < PROXY_MAX; i++)
            for (int side = 0; side < 2; side++)
                pf[n++] = (struct pollfd){ .fd = frozen ? -1 : px.fds[i][side], .events = POLLIN };
        if (poll(pf, (nfds_t)n, 20) <= 0)
            continue;
        if (pf[0].revents & POLLIN)
            proxy_accept();
        for (int i = 0; i < PROXY_MAX; i++) {
            for (int side = 0; side < 2 && px.fds[i][0] >= 0; side++) {
                if (pf[1 + 2 * i + side].revents == 0)
                    continue;
                char buf[16384];
                ssize_t got = read(px.fds[i][side], buf, sizeof buf);
                bool ok = got > 0;
                for (ssize_t off = 0; ok && off < got;) {
                    ssize_t w = write(px.fds[i][1 - side], buf + off, (size_t)(got - off));
                    ok = w > 0;
                    off += w > 0 ? w : 0;
                }
                if (!ok)
                    proxy_drop(i);
            }
        }
    }
    return NULL;
}

/* The test database URL (DERMAGA_TEST_DATABASE_URL) with the proxy's port. */
static void proxy_start(char *url, size_t url_len)
{
    DM_TEST_REQUIRE_ENV("DERMAGA_TEST_DATABASE_URL");
    const char *real = getenv("DERMAGA_TEST_DATABASE_URL");
    const char *host = strstr(real, "@127.0.0.1:");
    ck_assert_msg(host != NULL, "expected a 127.0.0.1 URL in DERMAGA_TEST_DATABASE_URL: %s", real);
    char *end = NULL;
    long up = strtol(host + 11, &end, 10);
    ck_assert_msg(up > 0 && up < 65536 && end != NULL, "no port in %s", real);
    for (int i = 0; i < PROXY_MAX; i++)
        px.fds[i][0] = px.fds[i][1] = -1;
    px.upstream_port = (int)up;
    atomic_store(&px.frozen, false);
    atomic_store(&px.stop, false);
    px.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    ck_assert_msg(px.lfd >= 0 && bind(px.lfd, (struct sockaddr *)&a, sizeof a) == 0
                      && listen(px.lfd, 64) == 0
                      && getsockname(px.lfd, (struct sockaddr *)&a, &alen) == 0,
                  "proxy listener: %s", strerror(errno));
    px.port = ntohs(a.sin_port);
    ck_assert_msg(pthread_create(&px.thread, NULL, proxy_main, NULL) == 0, "proxy thread");
    snprintf(url, url_len, "%.*s@127.0.0.1:%d%s", (int)(host - real), real, px.port, end);
}

static void proxy_stop(void)
{
    if (px.lfd < 0)
        return;
    atomic_store(&px.stop, true);
    pthread_join(px.thread, NULL);
    for (int i = 0; i < PROXY_MAX; i++)
        if (px.fds[i][0] >= 0)
            proxy_drop(i);
    close(px.lfd);
    px.lfd = -1;
}

static void teardown_proxy(void)
{
    atomic_store(&px.frozen, false); /* let the server's connections finish */
    teardown();
    proxy_stop();
}

/* The database host hangs while the pool's connection is open: the request
 * ends in 503 within the statement timeout plus a margin, never hangs; and
 * once the database answers again the pool recovers by itself. */
START_TEST(test_database_that_stops_answering_is_503_not_a_hang)
{
    char url[512];
    proxy_start(url, sizeof url);
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:i,s:i,s:i}}", "database", "url", url, "workers", 1,
                                        "statementTimeoutMs", 500, "connectTimeoutS", 2));
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "/readyz through the relay: status %d", res.status);
    dm_e2e_response_free(&res);

    atomic_store(&px.frozen, true);
    long long t0 = dm_e2e_now_ms();
    int rc = dm_e2e_roundtrip(srv.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res, 15000);
    long long waited = dm_e2e_now_ms() - t0;
    ck_assert_msg(rc == 0, "/readyz with a hung database: %s after %lld ms", dm_e2e_strerror(rc),
                  waited);
    ck_assert_msg(res.status == 503 && dm_e2e_header(&res, "Retry-After") != NULL,
                  "/readyz with a hung database: status %d", res.status);
    ck_assert_msg(waited < 8000, "/readyz with a hung database took %lld ms (statement timeout 500 ms)",
                  waited);
    dm_e2e_response_free(&res);

    atomic_store(&px.frozen, false);
    long long deadline = dm_e2e_now_ms() + 10000;
    int status = 0;
    while (status != 200 && dm_e2e_now_ms() < deadline) {
        if (dm_e2e_roundtrip(srv.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res, 8000) == 0) {
            status = res.status;
            dm_e2e_response_free(&res);
        }
    }
    ck_assert_msg(status == 200, "/readyz did not recover after the database answered again (%d)",
                  status);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_http_review");
    TCase *tc = tcase_create("review");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pipeline_bound_holds_for_one_request_per_read);
    tcase_add_test(tc, test_half_close_does_not_drop_queued_responses);
    tcase_add_test(tc, test_drain_does_not_drop_queued_responses);
    tcase_add_test(tc, test_small_chunked_body_does_not_reserve_the_maximum);
    tcase_add_test(tc, test_trailers_are_not_request_headers);
    tcase_add_test(tc, test_100_continue_for_a_pipelined_request);
    tcase_add_test(tc, test_408_deadline_not_moved_by_earlier_responses);
    tcase_add_test(tc, test_417_has_its_reason_phrase);
    suite_add_tcase(s, tc);

    tc = tcase_create("hung_database");
    tcase_add_checked_fixture(tc, NULL, teardown_proxy);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_database_that_stops_answering_is_503_not_a_hang);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)

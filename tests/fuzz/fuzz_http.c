/*
 * fuzz_http.c — the whole request path: the input is sent over a real
 * loopback connection to an in-process server (listener, conn.c, llhttp,
 * dispatch, router, the ops routes, a worker pool pointed at a database that
 * refuses connections). The server must not crash, must close every
 * connection once the client half-closes, and must answer with well-formed
 * HTTP responses, no more of them than requests begun (plus one error).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>
#include <uv.h>

#include "fuzz_support.h"
#include "http/response.h"
#include "http/server.h"
#include "ops/ops_routes.h"
#include "util/clock.h"
#include "util/log.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define MAX_OUTPUT (4u * 1024u * 1024u) /* response bytes kept for the checks */
#define DEADLINE_MS 10000               /* far beyond any legitimate answer */
#define MAX_MSGS 4096

/* Small limits so that a fuzzer's short inputs reach every refusal: 431,
 * 413, too many headers, a full pipeline and a full worker queue. The
 * database port refuses at once; the pool answers 503 after that. */
static const char config_json[] =
    "{\"server\":{\"listen\":\"127.0.0.1\",\"port\":1,\"maxConnections\":8,"
    "\"maxBodyBytes\":4096,\"maxHeaderBytes\":2048,\"maxHeaders\":16,"
    "\"headerTimeoutMs\":200,\"requestTimeoutMs\":400,\"idleTimeoutMs\":200,\"shutdownGraceMs\":0,"
    "\"maxPipeline\":4,\"corsOrigins\":[\"https://app.example.com\"]},"
    "\"database\":{\"url\":\"postgresql://127.0.0.1:1/x\",\"workers\":1,\"queueDepth\":2,"
    "\"connectTimeoutS\":2,\"migrateOnStart\":false}}";

static struct {
    uv_loop_t          loop;
    dm_config          cfg;
    dm_server          s;
    struct sockaddr_in addr;
} H;

/* ---- routes beyond the ops ones: params, queries, JSON bodies ---------- */

static void item_get(dm_request *r)
{
    const char *q = dm__req_query(r, "q");
    const char *ua = dm__req_header(r, "User-Agent");
    /* json_pack fails on invalid UTF-8 in decoded input; data is then null. */
    dm__res_ok(r, 200, json_pack("{s:s?,s:s?,s:s?}", "id", dm__req_param(r, "id"), "q", q, "ua", ua));
}

static void item_forgets_to_answer(dm_request *r)
{
    (void)r; /* dispatch must turn this into a 500 */
}

static void echo_json(dm_request *r)
{
    dm__res_ok(r, 201, json_incref(r->json));
}

static void file_raw(dm_request *r)
{
    dm__res_header(r, "X-Path", r->path);
    dm__res_raw(r, 200, "text/plain", r->path, strlen(r->path));
}

static int add_routes(dm_router *rt)
{
    int rc = dm__ops_routes_add(rt);
    if (rc == 0)
        rc = dm__router_add(rt, "GET", "/fuzz/items/:id", item_get, DM_ROUTE_LOOP);
    if (rc == 0)
        rc = dm__router_add(rt, "DELETE", "/fuzz/items/:id", item_forgets_to_answer, DM_ROUTE_LOOP);
    if (rc == 0)
        rc = dm__router_add(rt, "POST", "/fuzz/echo", echo_json, DM_ROUTE_JSON);
    if (rc == 0)
        rc = dm__router_add(rt, "PUT", "/fuzz/echo", echo_json, DM_ROUTE_JSON | DM_ROUTE_POOL);
    if (rc == 0)
        rc = dm__router_add(rt, "GET", "/fuzz/files/*", file_raw, DM_ROUTE_LOOP);
    return rc;
}

/* ---- the server, started once ----------------------------------------- */

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* At exit, the shutdown order of main.c, so LeakSanitizer sees a clean
 * server. A worker stuck past the grace period is left alone. */
static void teardown(void)
{
    if (dm__pool_stop(H.s.pool, 5000) != 0)
        return;
    uv_walk(&H.loop, close_walk, NULL);
    uv_run(&H.loop, UV_RUN_DEFAULT);
    uv_loop_close(&H.loop);
    dm__pool_free(H.s.pool);
    dm__router_free(&H.s.router);
    free(H.s.openapi_json);
    dm__config_free(&H.cfg);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    dm__log_set_level(getenv("DM_FUZZ_VERBOSE") != NULL ? DM_LOG_DEBUG : DM_LOG_ERROR);
    FUZZ_CHECK(uv_loop_init(&H.loop) == 0, "uv_loop_init");
    dm_err_t err = { 0 };
    FUZZ_CHECK(dm__config_load_text(&H.cfg, config_json, no_env, &err) == 0, "config: %s", err.msg);
    H.cfg.port = 0; /* let the kernel pick a free port; a file may not say 0 */
    H.s.loop = &H.loop;
    H.s.cfg = &H.cfg;
    dm__router_init(&H.s.router);
    FUZZ_CHECK(add_routes(&H.s.router) == 0, "cannot register routes");
    static const char doc[] = "{\"openapi\":\"3.0.3\",\"info\":{},\"paths\":{}}";
    H.s.openapi_json = strdup(doc);
    H.s.openapi_len = sizeof doc - 1;
    FUZZ_CHECK(H.s.openapi_json != NULL, "out of memory");
    H.s.pool = dm__pool_new(&H.loop, &H.cfg, H.cfg.workers, H.cfg.queue_depth, &err);
    FUZZ_CHECK(H.s.pool != NULL, "pool: %s", err.msg);

    /* The server takes SIGINT/SIGTERM for draining; give them back to
     * libFuzzer (or the default) so ^C still stops the fuzzer. */
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    FUZZ_CHECK(dm__server_start(&H.s, &err) == 0, "server: %s", err.msg);
    uv_signal_stop(&H.s.sigint);
    uv_signal_stop(&H.s.sigterm);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    struct sockaddr_storage ss;
    int len = sizeof ss;
    FUZZ_CHECK(uv_tcp_getsockname(&H.s.listener, (struct sockaddr *)&ss, &len) == 0, "getsockname");
    memcpy(&H.addr, &ss, sizeof H.addr);
    atexit(teardown);
}

/* ---- one conversation ------------------------------------------------- */

/* Wait until the client socket or the loop has something to do; bounded
 * by the loop's next timer so timeouts fire on time. */
static void wait_events(int fd, bool want_write)
{
    struct pollfd p[2] = {
        { .fd = uv_backend_fd(&H.loop), .events = POLLIN },
        { .fd = fd, .events = (short)(POLLIN | (want_write ? POLLOUT : 0)) },
    };
    int t = uv_backend_timeout(&H.loop);
    if (t < 0 || t > 50)
        t = 50;
    (void)poll(p, fd >= 0 ? 2 : 1, t);
}

static void check_deadline(uint64_t deadline, const char *what, size_t sent, size_t size)
{
    FUZZ_CHECK(dm__clock_mono_ns() < deadline, "%s within %d ms (sent %zu of %zu bytes)", what,
               DEADLINE_MS, sent, size);
}

typedef struct output {
    char  *data;
    size_t len;
    bool   reset;     /* ended by a reset rather than a clean close */
    bool   truncated; /* more than MAX_OUTPUT came back; the rest was dropped */
} output;

/* Read what the server has sent so far into out. True once it closed. */
static bool read_available(int fd, output *out)
{
    for (;;) {
        char buf[16384];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t keep = out->len + (size_t)n <= MAX_OUTPUT ? (size_t)n : MAX_OUTPUT - out->len;
            out->truncated |= keep < (size_t)n;
            memcpy(out->data + out->len, buf, keep);
            out->len += keep;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            out->reset = n < 0;
            return true;
        }
        return false;
    }
}

/* Send the input (in the planned pieces), half-close, and read until the
 * server closes. */
static void converse(const uint8_t *data, size_t size, output *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    /* A loopback connect completes in the kernel's backlog, before the
     * loop accepts it, so a blocking connect cannot deadlock here. */
    FUZZ_CHECK(connect(fd, (const struct sockaddr *)&H.addr, sizeof H.addr) == 0, "connect: %s",
               strerror(errno));
    FUZZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0, "fcntl");
    uint64_t deadline = dm__clock_mono_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    size_t cuts[FUZZ_MAX_CUTS];
    size_t n_cuts = fuzz_plan_cuts(data, size, cuts), next_cut = 0;
    size_t off = 0;
    bool wr_done = false, eof = false;
    while (!eof) {
        uv_run(&H.loop, UV_RUN_NOWAIT);
        if (!wr_done && off < size) {
            /* One piece per turn of the loop: the server reads it before
             * the next one is sent. */
            while (next_cut < n_cuts && cuts[next_cut] <= off)
                next_cut++;
            size_t end = next_cut < n_cuts ? cuts[next_cut] : size;
            ssize_t w = send(fd, data + off, end - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                wr_done = true; /* the server closed: the rest is not wanted */
        }
        if (!wr_done && off == size) {
            shutdown(fd, SHUT_WR);
            wr_done = true;
        }
        eof = read_available(fd, out);
        if (!eof) {
            check_deadline(deadline, "the server neither answered nor closed", off, size);
            wait_events(fd, !wr_done);
        }
    }
    close(fd);
    /* Let the server free the connection (and its pool requests) before
     * the next input, so each input starts from the same state. */
    while (H.s.n_conns > 0 || H.s.metrics.inflight_requests > 0) {
        uv_run(&H.loop, UV_RUN_NOWAIT);
        check_deadline(deadline, "the server did not release the connection", off, size);
        wait_events(-1, false);
    }
}

/* ---- checking what came back ------------------------------------------ */

typedef struct requests {
    uint8_t methods[MAX_MSGS]; /* method of each request begun, if parsed */
    size_t  begun;
} requests;

static int req_begin(llhttp_t *p)
{
    requests *rq = p->data;
    if (rq->begun < MAX_MSGS)
        rq->methods[rq->begun] = HTTP_GET; /* what conn.c assumes until known */
    rq->begun++;
    return 0;
}

static int req_method(llhttp_t *p)
{
    requests *rq = p->data;
    if (rq->begun > 0 && rq->begun <= MAX_MSGS)
        rq->methods[rq->begun - 1] = llhttp_get_method(p);
    return 0;
}

/* Parse the input as the server's parser would, to learn which requests
 * were HEAD (their responses have no body) and how many were begun. */
static void scan_requests(const uint8_t *data, size_t size, requests *rq)
{
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = req_begin;
    st.on_method_complete = req_method;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &st);
    p.data = rq;
    (void)llhttp_execute(&p, (const char *)data, size); /* stops at the first error */
}

typedef struct responses {
    const requests *rq;
    size_t          finals;  /* final (non-1xx) responses seen */
    bool            unknown; /* more requests than we tracked: stop judging */
} responses;

static int res_headers_complete(llhttp_t *p)
{
    responses *rs = p->data;
    int status = llhttp_get_status_code(p);
    FUZZ_CHECK(status >= 100 && status <= 599, "status %d", status);
    if (status < 200)
        return 0; /* 100 Continue: interim, no body */
    size_t i = rs->finals++;
    if (i >= MAX_MSGS) {
        rs->unknown = true;
        return 0;
    }
    bool head = i < rs->rq->begun && rs->rq->methods[i] == HTTP_HEAD;
    return head ? 1 : 0; /* 1: this response has no body */
}

static void check_responses(const uint8_t *data, size_t size, const output *out)
{
    static requests rq;
    memset(&rq, 0, sizeof rq);
    scan_requests(data, size, &rq);
    if (out->len == 0)
        return;
    FUZZ_CHECK(out->len >= 7 && memcmp(out->data, "HTTP/1.", 7) == 0, "output starts with %.20s",
               out->data);
    responses rs = { .rq = &rq };
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_headers_complete = res_headers_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &st);
    p.data = &rs;
    llhttp_errno_t e = llhttp_execute(&p, out->data, out->len);
    FUZZ_CHECK(e == HPE_OK || rs.unknown, "malformed response stream (%s: %s) at byte %zu",
               llhttp_errno_name(e), llhttp_get_error_reason(&p),
               (size_t)(llhttp_get_error_pos(&p) - out->data));
    if (!out->reset && !out->truncated && !rs.unknown) {
        e = llhttp_finish(&p);
        FUZZ_CHECK(e == HPE_OK, "response stream cut short (%s)", llhttp_errno_name(e));
    }
    /* Truncated output can only undercount, so this holds either way. */
    FUZZ_CHECK(rs.finals <= rq.begun + 1, "%zu responses to %zu requests begun", rs.finals,
               rq.begun);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready = false;
    static char out_buf[MAX_OUTPUT];
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > FUZZ_MAX_INPUT)
        return 0;
    output out = { .data = out_buf };
    converse(data, size, &out);
    if (getenv("DM_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "---- %zu bytes back%s:\n%.*s\n----\n", out.len,
                out.reset ? " (reset)" : "", (int)out.len, out.data);
    check_responses(data, size, &out);
    return 0;
}

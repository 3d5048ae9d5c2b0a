/*
 * ws_testserver.c — the WebSocket tests' in-process server (ws_testserver.h).
 */
#include "ws_testserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "http/response.h"
#include "util/clock.h"
#include "util/log.h"

dm_inproc  wst_srv;
wst_record wst;

static const char config_fmt[] =
    "{\"server\":{\"listen\":\"127.0.0.1\",\"port\":1,\"corsOrigins\":[\"https://app.example.com\"],"
    "\"trustedProxies\":[\"127.0.0.1\"]," /* the client is a proxy: X-Forwarded-Proto counts */
    "\"wsCloseTimeoutMs\":%d,\"wsMaxBufferedBytes\":%d,\"shutdownGraceMs\":2000,"
    "\"idleTimeoutMs\":60000,\"headerTimeoutMs\":5000},"
    "\"database\":{\"url\":\"postgresql://127.0.0.1:1/x\",\"workers\":1,\"connectTimeoutS\":1,"
    "\"migrateOnStart\":false}}";

/* ---- the handlers -------------------------------------------------------- */

static void note_sent(dm_ws *ws)
{
    size_t b = dm__ws_buffered(ws);
    if (b > wst.max_buffered)
        wst.max_buffered = b;
}

static void flood(dm_ws *ws)
{
    static char chunk[65536];
    for (wst.flood_sent = 0; wst.flood_sent < 400; wst.flood_sent++) {
        wst.flood_rc = dm__ws_send(ws, true, chunk, sizeof chunk);
        if (wst.flood_rc != 0)
            return;
        note_sent(ws);
    }
}

static void fill(dm_ws *ws)
{
    static char chunk[16384];
    /* What an owner does with back-pressure: stop above a mark, go on
     * when on_drain says the client caught up. */
    while (dm__ws_buffered(ws) <= WST_MAX_BUFFERED / 4 && wst.fill_sent < 400) {
        ck_assert_int_eq(dm__ws_send(ws, true, chunk, sizeof chunk), 0);
        wst.fill_sent++;
        note_sent(ws);
    }
}

static void fan(void)
{
    dm_rbuf *frame = dm__ws_frame_text("fan-out", 7);
    ck_assert_ptr_nonnull(frame);
    for (int i = 0; i < wst.n_open; i++)
        ck_assert_int_eq(dm__ws_send_frame(wst.open[i], frame), 0);
    dm__rbuf_unref(frame); /* each WebSocket holds its own reference */
}

static void command(dm_ws *ws, const char *cmd, size_t len)
{
    if (len == 12 && memcmp(cmd, "close-policy", 12) == 0) {
        dm__ws_close(ws, 1008, "policy");
        dm__ws_close(ws, 1000, "again"); /* idempotent: the first one stands */
        ck_assert_int_eq(dm__ws_send(ws, false, "late", 4), DM_ECONFLICT);
    } else if (len == 5 && memcmp(cmd, "flood", 5) == 0) {
        flood(ws);
    } else if (len == 4 && memcmp(cmd, "fill", 4) == 0) {
        fill(ws);
    } else if (len == 3 && memcmp(cmd, "fan", 3) == 0) {
        fan();
    } else {
        ck_abort_msg("unknown test command %.*s", (int)len, cmd);
    }
}

static void on_message(dm_ws *ws, void *ctx, bool binary, const char *data, size_t len)
{
    (void)ctx;
    wst.messages++;
    if (!binary && len > 4 && memcmp(data, "cmd:", 4) == 0) {
        command(ws, data + 4, len - 4);
        return;
    }
    ck_assert_int_eq(dm__ws_send(ws, binary, data, len), 0);
    note_sent(ws);
}

static void on_close(dm_ws *ws, void *ctx, int code)
{
    (void)ctx;
    ck_assert_msg(wst.n_closes < WST_MAX_CLOSES, "too many closes");
    wst.closes[wst.n_closes++] = code;
    for (int i = 0; i < wst.n_open; i++) {
        if (wst.open[i] == ws) {
            wst.open[i] = wst.open[--wst.n_open];
            break;
        }
    }
}

static void on_drain(dm_ws *ws, void *ctx)
{
    (void)ctx;
    wst.drains++;
    ck_assert_int_eq(dm__ws_send(ws, false, "drained", 7), 0);
}

static const dm_ws_handler handler = { on_message, on_close, on_drain };

static dm_ws *upgrade(dm_request *r, const dm_ws_limits *lim)
{
    dm_ws *ws = dm__ws_upgrade(r, &handler, NULL, lim);
    if (ws != NULL) {
        ck_assert_msg(wst.n_open < 16, "too many WebSockets");
        wst.open[wst.n_open++] = ws;
    }
    return ws;
}

static void route_echo(dm_request *r)
{
    upgrade(r, NULL);
}

static void route_small(dm_request *r)
{
    dm_ws_limits lim = { WST_SMALL_MAX, 0 };
    upgrade(r, &lim);
}

static void route_idle(dm_request *r)
{
    dm_ws_limits lim = { 1024 * 1024, WST_IDLE_MS };
    upgrade(r, &lim);
}

static void route_hello(dm_request *r)
{
    dm_ws *ws = upgrade(r, NULL);
    if (ws != NULL) /* before the 101 is even written */
        ck_assert_int_eq(dm__ws_send(ws, false, "hello", 5), 0);
}

static void route_refuse(dm_request *r)
{
    dm__res_error(r, 401, "UNAUTHORIZED", "no WebSocket for you", NULL);
}

static const struct {
    const char   *path;
    dm_handler_fn fn;
    unsigned      flags;
} routes[] = {
    { "/ws/echo", route_echo, DM_ROUTE_LOOP },
    { "/ws/small", route_small, DM_ROUTE_LOOP },
    { "/ws/idle", route_idle, DM_ROUTE_LOOP },
    { "/ws/hello", route_hello, DM_ROUTE_LOOP },
    { "/ws/refuse", route_refuse, DM_ROUTE_LOOP },
    { "/ws/pool", route_echo, DM_ROUTE_POOL }, /* a WebSocket must never hold a worker: refused */
};

static int add_routes(dm_router *rt)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof routes / sizeof routes[0]; i++)
        rc = dm__router_add(rt, "GET", routes[i].path, routes[i].fn, routes[i].flags);
    return rc;
}

void wst_start(int close_ms)
{
    memset(&wst, 0, sizeof wst);
    dm__log_set_level(getenv("DM_TEST_VERBOSE") != NULL ? DM_LOG_DEBUG : DM_LOG_WARN);
    char config[1024], err[256];
    snprintf(config, sizeof config, config_fmt, close_ms, WST_MAX_BUFFERED);
    ck_assert_msg(dm_inproc_start(&wst_srv, config, add_routes, err, sizeof err) == 0, "server: %s", err);
}

void wst_stop(void)
{
    dm_inproc_free(&wst_srv);
}

void wst_expect_close(int n, int code)
{
    wst_wait_closes(n);
    ck_assert_msg(wst.closes[n - 1] == code, "on_close %d said %d, expected %d", n, wst.closes[n - 1], code);
}

void wst_wait_closes(int n)
{
    int64_t deadline = dm__clock_mono_ms() + 5000;
    while (wst.n_closes < n) {
        ck_assert_msg(dm__clock_mono_ms() < deadline, "on_close called %d times, expected %d", wst.n_closes, n);
        dm_inproc_step(&wst_srv, -1, false, 20);
    }
}

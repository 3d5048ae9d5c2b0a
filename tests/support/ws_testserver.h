/*
 * ws_testserver.h — the in-process server of the WebSocket tests: routes
 * that upgrade (echo, small limits, idle timeout, a greeting sent before the
 * 101, a pool route that must not upgrade) and one that refuses, with what
 * their handlers saw recorded for the tests to check.
 *
 * The echo route answers each message with the same message, except text
 * commands: "cmd:close-policy" (close 1008 "policy"), "cmd:flood" (send
 * 64 KiB binary messages until refused), "cmd:fill" (send 16 KiB messages
 * until a quarter of wsMaxBufferedBytes is queued; "drained" follows
 * on_drain), "cmd:fan" (one shared frame "fan-out" to every open WebSocket).
 */
#ifndef DM_WS_TESTSERVER_H
#define DM_WS_TESTSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "inproc.h"
#include "http/ws.h"

#define WST_CLOSE_MS 3000         /* server.wsCloseTimeoutMs, usually */
#define WST_CLOSE_SHORT_MS 300    /* …for the tests that wait for it */
#define WST_MAX_BUFFERED 262144   /* server.wsMaxBufferedBytes */
#define WST_SMALL_MAX 1000        /* /ws/small: max_message */
#define WST_IDLE_MS 1000          /* /ws/idle: idle_timeout_ms */
#define WST_MAX_CLOSES 64

typedef struct wst_record {
    int    closes[WST_MAX_CLOSES]; /* on_close codes, in order */
    int    n_closes;
    int    messages;               /* on_message calls */
    int    drains;                 /* on_drain calls */
    int    flood_rc;               /* what ended "cmd:flood" */
    int    flood_sent;
    int    fill_sent;              /* messages "cmd:fill" queued */
    size_t max_buffered;           /* most dm__ws_buffered seen after a send */
    dm_ws *open[16];               /* WebSockets not yet closed */
    int    n_open;
} wst_record;

extern dm_inproc  wst_srv;
extern wst_record wst;

/* Start the server with server.wsCloseTimeoutMs close_ms (fails the test
 * when it cannot) / free it. */
void wst_start(int close_ms);
void wst_stop(void);

/* Turn the loop until on_close has been called n times (fails after 5 s). */
void wst_wait_closes(int n);
/* The same, and the n-th call must have said code. */
void wst_expect_close(int n, int code);

#endif

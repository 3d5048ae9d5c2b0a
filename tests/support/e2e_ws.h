/*
 * e2e_ws.h — a WebSocket client for e2e tests against the real binary, on
 * the blocking loopback connection of e2e.h: the upgrade request, masked
 * text frames out, and the server's frames (unmasked, any length form)
 * read whole against a deadline. Frames are built by ws_client.h's
 * dm_wsc_build, the one frame writer of the tests.
 */
#ifndef DM_E2E_WS_H
#define DM_E2E_WS_H

#include "e2e.h"

/* Upgrade c (connected) with GET target ("/socket.io/?…"): the answer's
 * status (101 when c is now a WebSocket). A failed read fails the test. */
int  dm_e2e_ws_open(dm_e2e_conn *c, const char *target);
/* Send one masked text frame. */
void dm_e2e_ws_send_text(dm_e2e_conn *c, const char *text);
/* The next whole server frame within timeout_ms: 0 with *opcode and
 * *payload (new NUL-terminated string; for a close frame, its bytes);
 * DM_E2E_TIMEOUT or DM_E2E_CLOSED. */
int  dm_e2e_ws_read(dm_e2e_conn *c, int *opcode, char **payload, int timeout_ms);
/* The next frame must be a text frame starting with prefix: its payload
 * (new string). what names the step in the failure message. */
char *dm_e2e_ws_expect_text(dm_e2e_conn *c, const char *prefix, int timeout_ms, const char *what);

#endif

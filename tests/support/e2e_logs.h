/*
 * e2e_logs.h — reading an instance's live log (GET
 * /api/instances/:id/logs/stream) in end-to-end tests, on the SSE client of
 * e2e_sse.h, against the test server of e2e_auth.h: open a stream and
 * check its contract, read log lines and control events with bounded
 * waits, and look for what the server logged. Every helper fails the
 * current test when what it expects does not come in time.
 */
#ifndef DM_E2E_LOGS_H
#define DM_E2E_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "e2e.h"
#include "e2e_sse.h"

/* One event's wait (sanitizer builds are slow), a live line's, an end's. */
#define DM_E2E_LOGS_EVENT_MS 10000
#define DM_E2E_LOGS_LIVE_MS 5000
#define DM_E2E_LOGS_END_MS 30000

/* "/api/instances/<inst>/logs/stream<query>" into out. */
void dm_e2e_logs_path(char *out, size_t n, const char *inst, const char *query);

/*
 * GET path as a stream with token (may be NULL) and the extra header lines
 * (may be NULL; see dm_e2e_sse_open_with). When it answers 200: the
 * contract's headers, then the `: connected` comment, and c stays open.
 * Otherwise c is closed. The status.
 */
int dm_e2e_logs_open(dm_e2e_conn *c, const char *path, const char *token, const char *extra);
/* The same, and the status must be 200. */
void dm_e2e_logs_open_ok(dm_e2e_conn *c, const char *path, const char *token, const char *extra);

/* The next event that is not a comment (keep-alives are skipped) within
 * ms; fails on a timeout, a close or bytes that are not SSE. */
void dm_e2e_logs_next(dm_e2e_conn *c, dm_e2e_sse_event *ev, int ms, const char *what);

/* ev must be a log line of inst: one compact data line with exactly
 * instanceId, line, stream, timestamp, and a decimal `id:` unless it is a
 * "lines dropped: N" notice (which has none). Its JSON (new reference). */
json_t *dm_e2e_logs_line(const dm_e2e_sse_event *ev, const char *inst);
/* The id of a line event (0 when it has none). */
uint64_t dm_e2e_logs_id(const dm_e2e_sse_event *ev);

/* The next event, which must be a log line of inst (within ms; what names
 * the wait in failures): its JSON (new reference), its id into *id (may be
 * NULL; 0 for a notice). */
json_t *dm_e2e_logs_next_line(dm_e2e_conn *c, const char *inst, int ms, const char *what, uint64_t *id);

/* Read lines until the one whose text is text (within ms); that line (new
 * reference). The texts of the lines before it go to before (may be NULL). */
json_t *dm_e2e_logs_wait_line(dm_e2e_conn *c, const char *inst, const char *text, int ms, json_t *before);

/* Skip lines until the control event name; its data (new reference). */
json_t *dm_e2e_logs_wait_control(dm_e2e_conn *c, const char *inst, const char *name, int ms);

/* The stream ends: `logs-ended` naming inst, then the server closes with
 * nothing after it. */
void dm_e2e_logs_expect_ended(dm_e2e_conn *c, const char *inst, int ms);

/* How often the test server's output holds needle so far. */
int dm_e2e_logs_count(const char *needle);
/* Wait (bounded by ms) until it holds needle at least n times. */
void dm_e2e_logs_wait_count(const char *needle, int n, int ms);

/* A user (email) with a RUNNING static-site instance (e2e_instances.h);
 * the access token (new string) and the instance id. */
char *dm_e2e_logs_running(const char *email, char inst[37]);

/* Wait (bounded) until GET /logs (not streamed) has every text in texts
 * (NULL-ended), each a whole line. */
void dm_e2e_logs_wait_logged(const char *token, const char *inst, const char *const texts[]);

#endif

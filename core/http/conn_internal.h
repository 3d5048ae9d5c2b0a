/*
 * conn_internal.h — what conn.c (the connection: reads, writes, timers,
 * close) and conn_parse.c (llhttp's callbacks: requests and their limits)
 * call of each other. Nothing outside those two files includes it.
 */
#ifndef DM_HTTP_CONN_INTERNAL_H
#define DM_HTTP_CONN_INTERNAL_H

#include "http/conn.h"

/* ---- conn_parse.c ---- */

/* The parser settings every connection uses (loop thread). */
const llhttp_settings_t *dm__conn_parser_settings(void);
/* A new request of c with the defaults it has until its request line is
 * read; NULL without memory. */
dm_request *dm__conn_request_new(struct dm_conn *c);
/* Append r to c's pipeline. */
void dm__conn_enqueue(struct dm_conn *c, dm_request *r);
/* Answer a protocol failure: the request being parsed (or a new one) gets
 * the error and the connection closes after it. */
void dm__conn_fail_request(struct dm_conn *c, int status, const char *code, const char *msg);
/* Check the bytes at `at` against the CRLF still owed after a chunk's
 * data: 0, or HPE_USER with the 400 recorded on c. */
int dm__conn_crlf_mismatch(struct dm_conn *c, const char *at, size_t avail);

/* ---- conn.c ---- */

void dm__conn_close(struct dm_conn *c);
/* Run c's timer (408 or idle close) ms from now. */
void dm__conn_arm_timer(struct dm_conn *c, int ms);
/* Run c's timer ms from now for the request being parsed, or earlier at
 * its absolute deadline (c->req_deadline): progress never moves that. */
void dm__conn_arm_request_timer(struct dm_conn *c, int ms);
/* The timer that applies now: idle keep-alive, or none while handlers run. */
void dm__conn_rearm(struct dm_conn *c);
/* Queue "100 Continue" for r, at the front of the pipeline. */
void dm__conn_send_continue(struct dm_conn *c, dm_request *r);

#endif

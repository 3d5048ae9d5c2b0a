/*
 * access_log.h — one JSON line per request. Lines are batched in a loop-owned
 * buffer and written once per loop iteration, so logging costs one write(2)
 * per batch rather than per request.
 */
#ifndef DM_ACCESS_LOG_H
#define DM_ACCESS_LOG_H

#include <stdint.h>

#include <uv.h>

#include "http/request.h"

/* Start the flusher on the loop (uv_check). 0 or a uv error. */
int  dm__access_log_start(uv_loop_t *loop);
/* Flush and stop; the handle is closed by the loop. */
void dm__access_log_stop(void);
/* Append one line for r: method, path pattern, status, duration, request
 * id, client address (dm__req_client_ip). */
void dm__access_log(dm_server *s, const dm_request *r, uint64_t duration_ns);

#endif

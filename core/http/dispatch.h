/*
 * dispatch.h — what happens to a parsed request: request id, CORS, routing,
 * JSON body checks, then the handler on the loop or on the worker pool, and
 * finally the access log line and metrics. Loop thread only.
 */
#ifndef DM_DISPATCH_H
#define DM_DISPATCH_H

#include "http/request.h"

/* Route and run a complete request. */
void dm__dispatch(dm_request *r);
/* The response is set: add the common headers, log, count, hand to conn. */
void dm__dispatch_finish(dm_request *r);

#endif

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

/*
 * For a loop handler that answers later (a long poll): the request stays
 * owed — its connection keeps it, and answers pipelined behind it wait —
 * until dm__req_resume. When the connection closes first, on_abort (may be
 * NULL) is called once on the loop: the owner must forget r and resume it
 * (any response; nobody will read it). Loop thread only.
 */
void dm__req_defer(dm_request *r, void (*on_abort)(dm_request *r));
/* The deferred request's response is set: send it. Loop thread. */
void dm__req_resume(dm_request *r);

#endif

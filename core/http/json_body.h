/*
 * json_body.h — the JSON body middleware for DM_ROUTE_JSON routes: the
 * Content-Type check (415) and parsing into req->json (400). The size limit
 * (413) is enforced earlier, while the body is read (conn.c).
 */
#ifndef DM_JSON_BODY_H
#define DM_JSON_BODY_H

#include <stdbool.h>

#include "http/request.h"

/* Parse req's body into req->json (owned by req, freed with it). Returns
 * false after setting the error response: 415 UNSUPPORTED_MEDIA_TYPE when
 * Content-Type is not application/json, 400 VALIDATION_ERROR for an empty
 * body or one that is not an object, 400 INVALID_JSON (with line and column
 * in details) for malformed JSON or duplicate keys. Runs wherever the
 * handler runs, so large bodies are parsed off the loop. */
bool dm__json_body_parse(dm_request *req);

#endif

/*
 * response.h — building responses, always in the docs/openapi.yaml envelope for JSON.
 * All functions may be called from the loop or from a pool worker that owns
 * the request. Setting a response twice replaces the first one.
 */
#ifndef DM_RESPONSE_H
#define DM_RESPONSE_H

#include <stddef.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "http/request.h"

/* {"success":true,"data":data}. Steals data (NULL → null). */
void dm__res_ok(dm_request *req, int status, json_t *data);
/* {"success":true,"data":items,"pagination":{page,limit,total,totalPages}}. Steals items. */
void dm__res_list(dm_request *req, json_t *items, long page, long limit, long total);
/* {"success":false,"error":{"code","message","details"}}. Steals details (NULL → []). */
void dm__res_error(dm_request *req, int status, const char *code, const char *message,
                   json_t *details);
/* 503 SERVICE_UNAVAILABLE with Retry-After from the configuration. */
void dm__res_unavailable(dm_request *req, const char *message);
/* The same with another error code (RUNTIME_UNAVAILABLE, …). */
void dm__res_unavailable_as(dm_request *req, const char *code, const char *message);
/* Answer an unexpected failure of an internal call: 503 with Retry-After
 * when err says the database is unavailable, else log "what: message" and
 * answer a bare 500 (the message stays in the log, never in the body). */
void dm__res_failure(dm_request *req, const dm_err_t *err, const char *what);
/* A raw body with its content type (copied). */
void dm__res_raw(dm_request *req, int status, const char *content_type,
                 const char *body, size_t len);
/* 204 or other status with no body. */
void dm__res_empty(dm_request *req, int status);
/* Add a response header line (copied; name and value must not contain CR/LF). */
void dm__res_header(dm_request *req, const char *name, const char *value);

/* Standard reason phrase for a status code. */
const char *dm__http_reason(int status);

#endif

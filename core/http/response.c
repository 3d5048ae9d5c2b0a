/*
 * response.c — fill dm_response in the docs/openapi.yaml envelope. The bytes on the
 * wire (status line, standard headers) are written by conn.c.
 */
#include "http/response.h"

#include <stdio.h>
#include <string.h>

#include "http/server.h"
#include "util/log.h"

static void set_body(dm_request *req, int status, const char *ctype, const char *body, size_t len)
{
    dm_response *res = &req->res;
    res->status = status;
    res->content_type = ctype;
    dm__buf_reset(&res->body);
    if (len > 0 && dm__buf_append(&res->body, body, len) != 0) {
        /* Out of memory for the body: answer something small instead. */
        res->status = 500;
        res->content_type = "application/json";
        dm__buf_reset(&res->body);
    }
}

static void set_json(dm_request *req, int status, json_t *doc)
{
    char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    if (s == NULL) {
        static const char oom[] =
            "{\"success\":false,\"error\":{\"code\":\"INTERNAL\",\"message\":\"internal error\",\"details\":[]}}";
        set_body(req, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    set_body(req, status, "application/json", s, strlen(s));
    free(s);
}

void dm__res_ok(dm_request *req, int status, json_t *data)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "success", json_true());
    json_object_set_new(doc, "data", data != NULL ? data : json_null());
    set_json(req, status, doc);
}

void dm__res_list(dm_request *req, json_t *items, long page, long limit, long total)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "success", json_true());
    json_object_set_new(doc, "data", items != NULL ? items : json_array());
    long pages = limit > 0 ? (total + limit - 1) / limit : 0;
    json_object_set_new(doc, "pagination",
                        json_pack("{s:I,s:I,s:I,s:I}", "page", (json_int_t)page, "limit",
                                  (json_int_t)limit, "total", (json_int_t)total, "totalPages",
                                  (json_int_t)pages));
    set_json(req, 200, doc);
}

void dm__res_error(dm_request *req, int status, const char *code, const char *message,
                   json_t *details)
{
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(code));
    json_t *msg = json_string(message);
    json_object_set_new(err, "message", msg != NULL ? msg : json_string("error"));
    json_object_set_new(err, "details", details != NULL ? details : json_array());
    json_t *doc = json_object();
    json_object_set_new(doc, "success", json_false());
    json_object_set_new(doc, "error", err);
    set_json(req, status, doc);
}

void dm__res_unavailable_as(dm_request *req, const char *code, const char *message)
{
    char secs[16];
    int retry = req->server != NULL ? req->server->cfg->retry_after_s : 5;
    snprintf(secs, sizeof secs, "%d", retry);
    dm__res_header(req, "Retry-After", secs);
    dm__res_error(req, 503, code, message, NULL);
}

void dm__res_unavailable(dm_request *req, const char *message)
{
    dm__res_unavailable_as(req, "SERVICE_UNAVAILABLE", message);
}

void dm__res_failure(dm_request *req, const dm_err_t *err, const char *what)
{
    if (err->code == DM_EUNAVAIL) {
        dm__res_unavailable(req, "database unavailable");
        return;
    }
    DM_LOG_E("%s: %s (request %s)", what, err->msg, req->request_id);
    dm__res_error(req, 500, "INTERNAL", "internal error", NULL);
}

void dm__res_raw(dm_request *req, int status, const char *content_type, const char *body,
                 size_t len)
{
    set_body(req, status, content_type, body, len);
}

void dm__res_empty(dm_request *req, int status)
{
    set_body(req, status, NULL, NULL, 0);
}

void dm__res_header(dm_request *req, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
        return; /* never let a value split the header block */
    dm__buf_printf(&req->res.headers, "%s: %s\r\n", name, value);
}

const char *dm__http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Unknown";
    }
}

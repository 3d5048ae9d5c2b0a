/*
 * json_body.c — strict JSON request bodies: the media type must be
 * application/json (parameters such as charset allowed), duplicate keys are
 * refused, and the top level must be an object.
 */
#include "http/json_body.h"

#include <string.h>
#include <strings.h>

#include "http/response.h"

static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

bool dm__json_body_parse(dm_request *r)
{
    if (!is_json_type(dm__req_header(r, "Content-Type"))) {
        dm__res_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json", NULL);
        return false;
    }
    if (r->body == NULL || r->body_len == 0) {
        dm__res_error(r, 400, "VALIDATION_ERROR", "a JSON body is required", NULL);
        return false;
    }
    json_error_t jerr;
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->json == NULL) {
        json_t *details = json_pack("[{s:s,s:i,s:i}]", "message", jerr.text, "line", jerr.line,
                                    "column", jerr.column);
        dm__res_error(r, 400, "INVALID_JSON", "request body is not valid JSON", details);
        return false;
    }
    if (!json_is_object(r->json)) {
        dm__res_error(r, 400, "VALIDATION_ERROR", "request body must be a JSON object", NULL);
        return false;
    }
    return true;
}

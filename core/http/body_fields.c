/*
 * body_fields.c — strict request-body fields. jansson has already refused
 * invalid UTF-8 and duplicate keys (json_body.c), so strings here are UTF-8.
 */
#include "http/body_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/response.h"

void dm__body_invalid(dm_request *r, const char *field, const char *message)
{
    char msg[320];
    snprintf(msg, sizeof msg, "%s: %s", field, message);
    dm__res_error(r, 400, "VALIDATION_ERROR", msg,
                  json_pack("[{s:s,s:s}]", "field", field, "message", message));
}

bool dm__body_only(dm_request *r, const char *const fields[])
{
    const char *key;
    json_t *value;
    json_object_foreach(r->json, key, value) {
        bool known = false;
        for (size_t i = 0; fields[i] != NULL && !known; i++)
            known = strcmp(key, fields[i]) == 0;
        if (!known) {
            /* The key is client text: echo it only in details, cut short. */
            char shown[65];
            snprintf(shown, sizeof shown, "%s", key);
            dm__body_invalid(r, shown, "is not a field of this request");
            return false;
        }
    }
    return true;
}

bool dm__body_string(dm_request *r, const char *field, size_t min, size_t max, const char **out)
{
    json_t *v = json_object_get(r->json, field);
    if (v == NULL || json_is_null(v)) {
        dm__body_invalid(r, field, "is required");
        return false;
    }
    if (!json_is_string(v)) {
        dm__body_invalid(r, field, "must be a string");
        return false;
    }
    size_t n = json_string_length(v);
    if (n < min || n > max || strlen(json_string_value(v)) != n) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be %zu to %zu bytes without NUL", min, max);
        dm__body_invalid(r, field, msg);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool dm__body_name(dm_request *r, const char *field, const char **out)
{
    const char *s;
    if (!dm__body_string(r, field, 1, 400, &s))
        return false;
    size_t chars = 0;
    bool visible = false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xc0) != 0x80)
            chars++;
        if (*p < 0x20 || *p == 0x7f) {
            dm__body_invalid(r, field, "must not contain control characters");
            return false;
        }
        visible |= *p != ' ';
    }
    if (chars > 100 || !visible) {
        dm__body_invalid(r, field, "must be 1 to 100 characters, not only spaces");
        return false;
    }
    *out = s;
    return true;
}

bool dm__body_int(dm_request *r, const char *field, long long min, long long max, long long *out)
{
    json_t *v = json_object_get(r->json, field);
    if (!json_is_integer(v)) {
        dm__body_invalid(r, field, v == NULL ? "is required" : "must be an integer");
        return false;
    }
    long long n = (long long)json_integer_value(v);
    if (n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be from %lld to %lld", min, max);
        dm__body_invalid(r, field, msg);
        return false;
    }
    *out = n;
    return true;
}

bool dm__query_paging(dm_request *r, long *page, long *limit)
{
    const char *names[] = { "page", "limit" };
    long *out[] = { page, limit };
    long defaults[] = { 1, 20 }, max[] = { 1000000, 100 };
    for (int i = 0; i < 2; i++) {
        const char *v = dm__req_query(r, names[i]);
        *out[i] = defaults[i];
        if (v == NULL || v[0] == '\0')
            continue;
        char *end;
        long n = strtol(v, &end, 10);
        if (*end != '\0' || n < 1 || n > max[i]) {
            dm__body_invalid(r, names[i], i == 0 ? "must be a positive integer"
                                                 : "must be an integer from 1 to 100");
            return false;
        }
        *out[i] = n;
    }
    return true;
}

bool dm__body_reason(dm_request *r, bool required, const char **out)
{
    enum { REASON_MAX_CHARS = 2000 };
    json_t *v = json_object_get(r->json, "reason");
    *out = NULL;
    if (!required && (v == NULL || json_is_null(v)))
        return true;
    /* 4 bytes per character at most; counted exactly below. */
    if (!dm__body_string(r, "reason", 1, REASON_MAX_CHARS * 4, out))
        return false;
    size_t chars = 0;
    bool visible = false;
    for (const unsigned char *p = (const unsigned char *)*out; *p != '\0'; p++) {
        chars += (*p & 0xc0) != 0x80;
        visible |= *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n';
    }
    if (chars > REASON_MAX_CHARS || !visible) {
        dm__body_invalid(r, "reason", "must be 1 to 2000 characters, not only blanks");
        return false;
    }
    return true;
}

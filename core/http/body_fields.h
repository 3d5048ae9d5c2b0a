/*
 * body_fields.h — field checks for JSON request bodies, answering 400
 * VALIDATION_ERROR with details [{field, message}] in the docs/openapi.yaml envelope.
 * Bodies accept only their documented fields, so nothing can be assigned
 * through a field a handler forgot to ignore (role, creditBalance, …).
 */
#ifndef DM_AUTH_BODY_H
#define DM_AUTH_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"

/* Answer 400 VALIDATION_ERROR for one field. */
void dm__body_invalid(dm_request *r, const char *field, const char *message);

/* False (400 set) when req->json has a member not in the NULL-ended list. */
bool dm__body_only(dm_request *r, const char *const fields[]);

/* The string member `field` of min..max bytes (borrowed from req->json).
 * False (400 set) when missing, not a string or of another length. */
bool dm__body_string(dm_request *r, const char *field, size_t min, size_t max, const char **out);

/* A display name: 1–100 characters, not only spaces, no control
 * characters. False (400 set) otherwise. */
bool dm__body_name(dm_request *r, const char *field, const char **out);

/* The integer member `field` in min..max (a JSON integer: 1.0 and "1" are
 * refused). False (400 set) when missing, of another type or out of range. */
bool dm__body_int(dm_request *r, const char *field, long long min, long long max, long long *out);

/* The member "reason" an administrator gives for a change (kept in the
 * audit row): 1 to 2000 characters, not only blanks. When not required,
 * absent or null gives *out NULL. False (400 set) otherwise. */
bool dm__body_reason(dm_request *r, bool required, const char **out);

/* ?page=&limit= with docs/openapi.yaml's defaults (1, 20) and cap (100). False (400
 * set, naming the parameter) for anything else. */
bool dm__query_paging(dm_request *r, long *page, long *limit);

#endif

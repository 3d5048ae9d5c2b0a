/*
 * openapi.h — loads docs/openapi.yaml and turns it into the compact JSON that
 * GET /openapi.json serves. The YAML-to-JSON conversion is strict and bounded
 * (size, nesting, no anchors/aliases, no duplicate keys) so that a bad file
 * fails loudly at start instead of serving something surprising.
 */
#ifndef DM_OPENAPI_H
#define DM_OPENAPI_H

#include <stddef.h>

#include <dermaga/error.h>

/* Inputs larger than this are refused before parsing. */
#define DM_OPENAPI_MAX_BYTES (4u * 1024u * 1024u)
/* Collections (mappings and sequences) nested deeper than this are refused;
 * the root collection is depth 1. */
#define DM_OPENAPI_MAX_DEPTH 64

/*
 * Read the OpenAPI document at yaml_path, convert it to compact JSON and check
 * that it looks like an OpenAPI 3 document (an object with a string "openapi"
 * starting with "3.", an object "info" and an object "paths").
 * yaml_path: borrowed. *out_json: new, NUL-terminated (caller frees with
 * free()); *out_len: its length without the NUL (out_len may be NULL).
 * On failure *out_json is NULL and err (may be NULL) names the file and, for
 * YAML problems, "path:line:column".
 * Returns 0; DM_EINVAL (bad argument, not a regular file, over
 * DM_OPENAPI_MAX_BYTES, YAML syntax error, duplicate key, nesting over
 * DM_OPENAPI_MAX_DEPTH, a value with no JSON form, not OpenAPI 3);
 * DM_EUNSUPPORTED (anchors, aliases, complex keys, unknown tags);
 * DM_ENOTFOUND (no such file); DM_EIO (read failed); DM_ENOMEM.
 * Thread-safe (no shared state); meant to be called once at start.
 */
int dm__openapi_load(const char *yaml_path, char **out_json, size_t *out_len, dm_err_t *err);

/*
 * Convert one YAML document held in memory to compact JSON, with the same
 * rules as dm__openapi_load but without the OpenAPI shape check (any root,
 * scalars included, is accepted).
 * Plain scalars are typed by the YAML 1.2 core schema: null, ~ and empty are
 * null; true/false (also True/TRUE…) are booleans; decimal, 0o octal and 0x
 * hex integers are integers; decimal floats are reals; .inf and .nan are
 * refused (JSON has no form for them). Quoted, literal and folded scalars are
 * always strings. The explicit tags !, !!str, !!null, !!bool, !!int, !!float,
 * !!map and !!seq are honoured; other tags are refused. Mapping keys become
 * their scalar text.
 * name: borrowed, used as the prefix of error messages (NULL → "<yaml>").
 * yaml: borrowed, len bytes, need not be NUL-terminated.
 * *out_json: new (caller frees); *out_len may be NULL. Same error codes as
 * dm__openapi_load except DM_ENOTFOUND and DM_EIO.
 */
int dm__openapi_yaml_to_json(const char *name, const char *yaml, size_t len, char **out_json,
                             size_t *out_len, dm_err_t *err);

#endif

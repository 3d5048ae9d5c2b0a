/*
 * config_check.h — a plugin's configuration checked against the key table
 * its descriptor declares (dermaga/plugin.h: dm_plugin_conf_key_t), before
 * init ever sees it.
 */
#ifndef DM_PLUGIN_CONFIG_CHECK_H
#define DM_PLUGIN_CONFIG_CHECK_H

#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>
#include <dermaga/plugin.h>

/*
 * Check the table itself: terminated within DM_PLUGIN_CONF_MAX_KEYS, keys
 * are [a-z0-9_]+ and unique, types known, each default is JSON of its
 * key's type, and a required key has no default. keys may be NULL (no keys).
 * keys is borrowed. Returns 0 or DM_EINVAL with the entry named in err.
 */
int dm__plugin_conf_table_check(const dm_plugin_conf_key_t *keys, dm_err_t *err);

/*
 * Validate `given` (a JSON object, or NULL meaning {}) against a table that
 * passed dm__plugin_conf_table_check. On success *out is a new object: a
 * copy of given with the defaults of absent keys filled in. Refusals, each
 * DM_EINVAL with a message naming the key (never its value, which may be a
 * secret): not an object; unknown key; wrong type (with the expected
 * type); missing required key. keys and given are borrowed.
 */
int dm__plugin_conf_apply(const dm_plugin_conf_key_t *keys, const json_t *given,
                          json_t **out, dm_err_t *err);

/* "string", "int", "bool", "object", "array", "secret" or "unknown". */
const char *dm__plugin_conf_type_name(uint32_t type);

/* The keys (of a table that passed dm__plugin_conf_table_check) as a new
 * JSON array [{"key","type","required","doc","default"?}] for `dermaga
 * plugins`; "default" is the parsed value. NULL on allocation failure. */
json_t *dm__plugin_conf_table_json(const dm_plugin_conf_key_t *keys);

#endif

/*
 * config_check.c — validation of a plugin's config block against its
 * declared key table: the table is checked once when the plugin is opened,
 * the operator's values before init. Messages name keys and types, never
 * values, because a value may be a secret.
 */
#include "config_check.h"

#include <stdbool.h>
#include <string.h>

static const char *type_names[] = { "unknown", "string", "int", "bool", "object", "array", "secret" };

const char *dm__plugin_conf_type_name(uint32_t type)
{
    return type < sizeof type_names / sizeof type_names[0] ? type_names[type] : "unknown";
}

/* A JSON value's type in the vocabulary of the messages above. */
static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "object";
    case JSON_ARRAY:   return "array";
    case JSON_STRING:  return "string";
    case JSON_INTEGER: return "int";
    case JSON_REAL:    return "real";
    case JSON_TRUE:
    case JSON_FALSE:   return "bool";
    case JSON_NULL:    return "null";
    }
    return "unknown";
}

static bool type_matches(uint32_t type, const json_t *v)
{
    switch (type) {
    case DM_CONF_STRING:
    case DM_CONF_SECRET: return json_is_string(v);
    case DM_CONF_INT:    return json_is_integer(v);
    case DM_CONF_BOOL:   return json_is_boolean(v);
    case DM_CONF_OBJECT: return json_is_object(v);
    case DM_CONF_ARRAY:  return json_is_array(v);
    default:             return false;
    }
}

static bool key_is_valid(const char *k)
{
    if (k[0] == '\0' || strlen(k) > 64)
        return false;
    for (const char *p = k; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* The default of one key parsed, as a new reference; NULL if it has none
 * or it does not parse (the table check reports which). */
static json_t *parse_default(const dm_plugin_conf_key_t *k)
{
    if (k->def == NULL)
        return NULL;
    return json_loads(k->def, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

static int check_entry(const dm_plugin_conf_key_t *keys, size_t i, dm_err_t *err)
{
    const dm_plugin_conf_key_t *k = &keys[i];
    if (!key_is_valid(k->key))
        return dm_err_set(err, DM_EINVAL, "config table: entry %zu has an invalid key name", i);
    for (size_t j = 0; j < i; j++) {
        if (strcmp(keys[j].key, k->key) == 0)
            return dm_err_set(err, DM_EINVAL, "config table: key '%s' is declared twice", k->key);
    }
    if (strcmp(dm__plugin_conf_type_name(k->type), "unknown") == 0)
        return dm_err_set(err, DM_EINVAL, "config table: key '%s' has unknown type %u", k->key, k->type);
    if ((k->flags & ~DM_CONF_REQUIRED) != 0)
        return dm_err_set(err, DM_EINVAL, "config table: key '%s' has unknown flags 0x%x", k->key, k->flags);
    if (k->doc != NULL && !is_utf8(k->doc))
        return dm_err_set(err, DM_EINVAL, "config table: doc of key '%s' is not valid UTF-8", k->key);
    if (k->def == NULL)
        return 0;
    if ((k->flags & DM_CONF_REQUIRED) != 0)
        return dm_err_set(err, DM_EINVAL, "config table: required key '%s' has a default", k->key);
    json_t *d = parse_default(k);
    if (d == NULL)
        return dm_err_set(err, DM_EINVAL, "config table: default of key '%s' is not valid JSON", k->key);
    bool ok = type_matches(k->type, d);
    json_decref(d);
    if (!ok)
        return dm_err_set(err, DM_EINVAL, "config table: default of key '%s' is not of type %s",
                          k->key, dm__plugin_conf_type_name(k->type));
    return 0;
}

int dm__plugin_conf_table_check(const dm_plugin_conf_key_t *keys, dm_err_t *err)
{
    if (keys == NULL)
        return 0;
    for (size_t i = 0; i < DM_PLUGIN_CONF_MAX_KEYS; i++) {
        if (keys[i].key == NULL)
            return 0;
        int rc = check_entry(keys, i, err);
        if (rc != 0)
            return rc;
    }
    return dm_err_set(err, DM_EINVAL, "config table: no DM_CONF_END within %d entries",
                      DM_PLUGIN_CONF_MAX_KEYS);
}

static const dm_plugin_conf_key_t *find_key(const dm_plugin_conf_key_t *keys, const char *name)
{
    for (size_t i = 0; keys != NULL && keys[i].key != NULL; i++) {
        if (strcmp(keys[i].key, name) == 0)
            return &keys[i];
    }
    return NULL;
}

/* Reject unknown and mistyped keys in given. */
static int check_given(const dm_plugin_conf_key_t *keys, const json_t *given, dm_err_t *err)
{
    const char *name;
    json_t *v;
    /* json_object_foreach wants a non-const object; we only read. */
    json_object_foreach((json_t *)given, name, v) {
        const dm_plugin_conf_key_t *k = find_key(keys, name);
        if (k == NULL)
            return dm_err_set(err, DM_EINVAL, "config: unknown key '%s'", name);
        if (!type_matches(k->type, v))
            return dm_err_set(err, DM_EINVAL, "config: key '%s' must be %s, got %s", name,
                              dm__plugin_conf_type_name(k->type), json_type_name(v));
    }
    return 0;
}

/* Add defaults for absent keys; refuse absent required ones. */
static int fill_defaults(const dm_plugin_conf_key_t *keys, json_t *out, dm_err_t *err)
{
    for (size_t i = 0; keys != NULL && keys[i].key != NULL; i++) {
        const dm_plugin_conf_key_t *k = &keys[i];
        if (json_object_get(out, k->key) != NULL)
            continue;
        if ((k->flags & DM_CONF_REQUIRED) != 0)
            return dm_err_set(err, DM_EINVAL, "config: missing required key '%s' (%s)", k->key,
                              dm__plugin_conf_type_name(k->type));
        if (k->def == NULL)
            continue;
        json_t *d = parse_default(k);
        if (d == NULL || json_object_set_new(out, k->key, d) != 0)
            return dm_err_set(err, DM_ENOMEM, "config: out of memory filling key '%s'", k->key);
    }
    return 0;
}

int dm__plugin_conf_apply(const dm_plugin_conf_key_t *keys, const json_t *given,
                          json_t **out, dm_err_t *err)
{
    *out = NULL;
    if (given != NULL && !json_is_object(given))
        return dm_err_set(err, DM_EINVAL, "config: must be a JSON object, got %s",
                          json_type_name(given));
    json_t *copy = given != NULL ? json_deep_copy(given) : json_object();
    if (copy == NULL)
        return dm_err_set(err, DM_ENOMEM, "config: out of memory");
    int rc = check_given(keys, copy, err);
    if (rc == 0)
        rc = fill_defaults(keys, copy, err);
    if (rc != 0) {
        json_decref(copy);
        return rc;
    }
    *out = copy;
    return 0;
}

json_t *dm__plugin_conf_table_json(const dm_plugin_conf_key_t *keys)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && keys != NULL && keys[i].key != NULL; i++) {
        const dm_plugin_conf_key_t *k = &keys[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "key", k->key,
                              "type", dm__plugin_conf_type_name(k->type),
                              "required", (k->flags & DM_CONF_REQUIRED) != 0,
                              "doc", k->doc != NULL ? k->doc : "");
        json_t *def = parse_default(k);
        if (o != NULL && def != NULL)
            json_object_set_new(o, "default", def);
        else
            json_decref(def);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

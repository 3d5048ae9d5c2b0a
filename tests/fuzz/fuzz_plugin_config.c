/*
 * fuzz_plugin_config.c — a plugin's configuration checked against its key
 * table (core/plugin/config_check.h), both halves fed from the input.
 * Input byte 0 picks the mode: even → the rest is the operator's JSON,
 * checked against a fixed table; odd → the rest is a key table, one entry
 * per line "key<TAB>type<TAB>flags<TAB>default<TAB>doc" (a missing field is
 * NULL), which is checked and, if accepted, used.
 */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "plugin/config_check.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define MAX_ROWS (DM_PLUGIN_CONF_MAX_KEYS + 8) /* room to run past the limit */

static const dm_plugin_conf_key_t fixed_table[] = {
    { "api_key", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "key for the provider" },
    { "endpoint", DM_CONF_STRING, 0, "\"https://api.example.com\"", "base URL" },
    { "timeout_s", DM_CONF_INT, 0, "30", "seconds" },
    { "sandbox", DM_CONF_BOOL, 0, "true", NULL },
    { "labels", DM_CONF_OBJECT, 0, "{\"a\":1}", "extra labels" },
    { "regions", DM_CONF_ARRAY, 0, "[\"id-jkt\"]", "regions" },
    { "note", DM_CONF_STRING, 0, NULL, "optional, no default" },
    DM_CONF_END,
};

static bool type_ok(uint32_t type, const json_t *v)
{
    switch (type) {
    case DM_CONF_STRING:
    case DM_CONF_SECRET: return json_is_string(v);
    case DM_CONF_INT:    return json_is_integer(v);
    case DM_CONF_BOOL:   return json_is_boolean(v);
    case DM_CONF_OBJECT: return json_is_object(v);
    case DM_CONF_ARRAY:  return json_is_array(v);
    }
    return false;
}

static const dm_plugin_conf_key_t *find(const dm_plugin_conf_key_t *keys, const char *name)
{
    for (size_t i = 0; keys[i].key != NULL; i++)
        if (strcmp(keys[i].key, name) == 0)
            return &keys[i];
    return NULL;
}

/* A successful apply: only declared keys, each of its type, and every
 * required or defaulted key present. */
static void check_applied(const dm_plugin_conf_key_t *keys, const json_t *out)
{
    FUZZ_CHECK(json_is_object(out), "success without an object");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)out, name, v) {
        const dm_plugin_conf_key_t *k = find(keys, name);
        FUZZ_CHECK(k != NULL, "undeclared key '%s' accepted", name);
        FUZZ_CHECK(type_ok(k->type, v), "key '%s' of the wrong type accepted", name);
    }
    for (size_t i = 0; keys[i].key != NULL; i++) {
        bool must = (keys[i].flags & DM_CONF_REQUIRED) != 0 || keys[i].def != NULL;
        FUZZ_CHECK(!must || json_object_get(out, keys[i].key) != NULL, "key '%s' missing",
                   keys[i].key);
    }
}

/* Messages name keys, never values: a distinctive secret value must not
 * show. Distinctive: 10+ letters and digits only, with both, and inside no
 * key name. Message text around keys is quotes, spaces and digit-free
 * words, so such a value can only appear in a message if a value leaked
 * (a value with punctuation could be spelt by a quote and a key name). */
static void check_no_secret(const dm_plugin_conf_key_t *keys, const json_t *given, const char *msg)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)given, name, v) {
        const dm_plugin_conf_key_t *k = find(keys, name);
        if (k == NULL || k->type != DM_CONF_SECRET || !json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        bool alpha = false, digit = false, punct = false;
        for (const char *p = s; *p != '\0'; p++) {
            alpha |= isalpha((unsigned char)*p) != 0;
            digit |= isdigit((unsigned char)*p) != 0;
            punct |= !isalnum((unsigned char)*p);
        }
        if (strlen(s) < 10 || !alpha || !digit || punct)
            continue;
        bool in_a_key = false;
        const char *other;
        json_t *ov;
        json_object_foreach((json_t *)given, other, ov) {
            in_a_key |= strstr(other, s) != NULL;
        }
        if (!in_a_key)
            FUZZ_CHECK(strstr(msg, s) == NULL, "secret value in message: %s", msg);
    }
}

static void apply_and_check(const dm_plugin_conf_key_t *keys, const json_t *given)
{
    json_t *out = (json_t *)1; /* must be reset to NULL on failure */
    dm_err_t err = { 0 };
    int rc = dm__plugin_conf_apply(keys, given, &out, &err);
    if (rc == 0) {
        check_applied(keys, out);
    } else {
        FUZZ_CHECK(rc == DM_EINVAL || rc == DM_ENOMEM, "code %d", rc);
        FUZZ_CHECK(out == NULL, "failure left *out set");
        FUZZ_CHECK(err.msg[0] != '\0', "failure without a message");
        if (json_is_object(given))
            check_no_secret(keys, given, err.msg);
    }
    json_decref(out);
}

static void fuzz_given(const char *text, size_t len)
{
    json_t *given = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    apply_and_check(fixed_table, given);
    json_decref(given);
}

/* A value of the key's own type, for filling required keys. */
static json_t *sample(uint32_t type)
{
    switch (type) {
    case DM_CONF_INT:    return json_integer(7);
    case DM_CONF_BOOL:   return json_false();
    case DM_CONF_OBJECT: return json_object();
    case DM_CONF_ARRAY:  return json_array();
    default:             return json_string("x");
    }
}

/* Exercise an accepted table: its JSON listing, defaults only, every
 * required key given, then one unknown key and one mistyped key. */
static void use_table(const dm_plugin_conf_key_t *keys, size_t n)
{
    json_t *listing = dm__plugin_conf_table_json(keys);
    FUZZ_CHECK(json_array_size(listing) == n, "listing has %zu of %zu keys",
               json_array_size(listing), n);
    json_decref(listing);

    apply_and_check(keys, NULL);
    json_t *given = json_object();
    for (size_t i = 0; i < n; i++)
        if (keys[i].flags & DM_CONF_REQUIRED)
            json_object_set_new(given, keys[i].key, sample(keys[i].type));
    json_t *out = NULL;
    dm_err_t err = { 0 };
    FUZZ_CHECK(dm__plugin_conf_apply(keys, given, &out, &err) == 0, "required keys given: %s", err.msg);
    check_applied(keys, out);
    json_decref(out);

    json_object_set_new(given, "Not-A-Key", json_true()); /* never a valid key name */
    FUZZ_CHECK(dm__plugin_conf_apply(keys, given, &out, &err) == DM_EINVAL, "unknown key accepted");
    json_object_del(given, "Not-A-Key");
    if (n > 0) {
        json_object_set_new(given, keys[0].key, json_real(0.5)); /* no key type takes a real */
        FUZZ_CHECK(dm__plugin_conf_apply(keys, given, &out, &err) == DM_EINVAL, "real accepted");
    }
    json_decref(given);
}

/* Split one line's tab-separated field i (modified in place); NULL when
 * the line has fewer fields. */
static char *field(char *line, int i)
{
    char *p = line;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '\t');
        if (p == NULL)
            return NULL;
        p++;
    }
    return p;
}

static void fuzz_table(char *text)
{
    static dm_plugin_conf_key_t keys[MAX_ROWS + 1];
    size_t n = 0;
    char *line = text;
    while (line != NULL && *line != '\0' && n < MAX_ROWS) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *f[5];
        for (int i = 0; i < 5; i++)
            f[i] = field(line, i);
        for (int i = 0; i < 5; i++) /* cut each field at its tab */
            if (f[i] != NULL && strchr(f[i], '\t') != NULL)
                *strchr(f[i], '\t') = '\0';
        keys[n].key = f[0];
        /* Lenient on purpose: any number, junk or overflow is just another
         * type or flags value for the table check to refuse. */
        keys[n].type = f[1] != NULL ? (uint32_t)strtoul(f[1], NULL, 10) : 0;
        keys[n].flags = f[2] != NULL ? (uint32_t)strtoul(f[2], NULL, 16) : 0;
        keys[n].def = f[3];
        keys[n].doc = f[4];
        n++;
        line = nl != NULL ? nl + 1 : NULL;
    }
    keys[n] = (dm_plugin_conf_key_t)DM_CONF_END;
    dm_err_t err = { 0 };
    int rc = dm__plugin_conf_table_check(keys, &err);
    if (n > DM_PLUGIN_CONF_MAX_KEYS)
        FUZZ_CHECK(rc != 0, "table of %zu keys accepted", n);
    if (rc != 0) {
        FUZZ_CHECK(rc == DM_EINVAL && err.msg[0] != '\0', "code %d, message '%s'", rc, err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(strcmp(dm__plugin_conf_type_name(keys[i].type), "unknown") != 0,
                   "key %zu of unknown type accepted", i);
    use_table(keys, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_MAX_INPUT)
        return 0;
    char *text = malloc(size);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if ((data[0] & 1) == 0)
        fuzz_given(text, size - 1);
    else
        fuzz_table(text);
    free(text);
    return 0;
}

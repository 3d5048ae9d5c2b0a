/*
 * fuzz_config.c — the configuration loader on arbitrary JSON text.
 * Input: the JSON text, optionally followed by a NUL byte and environment
 * lines "NAME=value\n" that the env lookup serves (without a NUL byte the
 * lookup returns NULL for every name, as for an empty environment).
 */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "app/config.h"
#include "fuzz_support.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define MAX_ENV 16

static struct {
    char *name, *value;
} env_vars[MAX_ENV];
static size_t n_env;

static const char *fuzz_env(const char *name)
{
    for (size_t i = 0; i < n_env; i++)
        if (strcmp(env_vars[i].name, name) == 0)
            return env_vars[i].value;
    return NULL;
}

/* Cut "NAME=value" lines out of buf (modified in place, borrowed). */
static void parse_env(char *buf, size_t len)
{
    n_env = 0;
    char *p = buf, *end = buf + len;
    while (p < end && n_env < MAX_ENV) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl != NULL ? nl : end;
        *line_end = '\0';
        char *eq = strchr(p, '=');
        if (eq != NULL) {
            *eq = '\0';
            env_vars[n_env].name = p;
            env_vars[n_env].value = eq + 1;
            n_env++;
        }
        p = line_end + 1;
    }
}

/* Does v occur in any key or string of j other than the node skip? */
static bool occurs_elsewhere(json_t *j, const json_t *skip, const char *v)
{
    if (j == skip)
        return false;
    if (json_is_string(j))
        return strstr(json_string_value(j), v) != NULL;
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, key, child) {
            if (strstr(key, v) != NULL || occurs_elsewhere(child, skip, v))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, child) {
            if (occurs_elsewhere(child, skip, v))
                return true;
        }
    }
    return false;
}

/* A secret distinctive enough that finding it in a message cannot be an
 * accident: 10+ letters and digits only, with both, inside no other key,
 * value or environment variable that a message may quote. Fixed message
 * text has no such run, and punctuation is excluded so that quotes or dots
 * next to a quoted key cannot spell the secret. */
static bool distinctive(json_t *tree, const json_t *node)
{
    const char *v = json_string_value(node);
    size_t n = strlen(v);
    bool alpha = false, digit = false, other = false;
    for (size_t i = 0; i < n; i++) {
        alpha |= isalpha((unsigned char)v[i]) != 0;
        digit |= isdigit((unsigned char)v[i]) != 0;
        other |= !isalnum((unsigned char)v[i]);
    }
    if (n < 10 || !alpha || !digit || other || occurs_elsewhere(tree, node, v))
        return false;
    for (size_t i = 0; i < n_env; i++)
        if (strstr(env_vars[i].value, v) != NULL || strstr(env_vars[i].name, v) != NULL)
            return false;
    return true;
}

static json_t *secret_at(json_t *tree, const char *section, const char *key)
{
    json_t *v = json_object_get(json_object_get(tree, section), key);
    return json_is_string(v) ? v : NULL;
}

/* Secrets never appear in error messages nor in cfg->root. */
static void check_secrets(const char *text, const dm_config *cfg, int rc, const dm_err_t *err)
{
    json_t *tree = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (tree == NULL)
        return;
    json_t *secrets[] = { secret_at(tree, "auth", "jwtSecret"),
                          secret_at(tree, "auth", "adminPassword"),
                          secret_at(tree, "database", "url") };
    char *dump = rc == 0 ? json_dumps(cfg->root, JSON_COMPACT) : NULL;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (secrets[i] == NULL || !distinctive(tree, secrets[i]))
            continue;
        const char *v = json_string_value(secrets[i]);
        if (rc != 0)
            FUZZ_CHECK(strstr(err->msg, v) == NULL, "secret in message: %s", err->msg);
        else
            FUZZ_CHECK(dump != NULL && strstr(dump, v) == NULL, "secret in cfg->root");
    }
    free(dump);
    json_decref(tree);
}

/* What a loaded configuration always satisfies, whatever the input. */
static void check_loaded(const dm_config *cfg)
{
    FUZZ_CHECK(json_is_object(cfg->root), "no effective configuration");
    FUZZ_CHECK(json_is_array(cfg->plugins), "plugins is not an array");
    FUZZ_CHECK(cfg->port >= 1 && cfg->port <= 65535, "port %d", cfg->port);
    FUZZ_CHECK(cfg->listen != NULL && cfg->listen[0] != '\0', "no listen address");
    FUZZ_CHECK(cfg->max_headers >= 1 && cfg->max_pipeline >= 1 && cfg->workers >= 1,
               "a count below 1");
    FUZZ_CHECK(cfg->max_header_bytes >= 256 && cfg->max_body_bytes >= 1, "a size below its minimum");
    FUZZ_CHECK(cfg->header_timeout_ms >= 100 && cfg->idle_timeout_ms >= 100, "a timeout too small");
    FUZZ_CHECK(cfg->n_cors_origins <= DM_CONFIG_MAX_CORS, "%zu origins", cfg->n_cors_origins);
    for (size_t i = 0; i < cfg->n_cors_origins; i++)
        FUZZ_CHECK(dm__config_cors_allowed(cfg, cfg->cors_origins[i]), "listed origin refused");
    FUZZ_CHECK(!dm__config_cors_allowed(cfg, NULL), "NULL origin allowed");
    size_t i;
    json_t *p;
    json_array_foreach(cfg->plugins, i, p) {
        FUZZ_CHECK(json_is_string(json_object_get(p, "name")), "plugin %zu without a name", i);
        FUZZ_CHECK(json_is_boolean(json_object_get(p, "enabled")), "plugin %zu: enabled", i);
        FUZZ_CHECK(json_is_object(json_object_get(p, "config")), "plugin %zu: config", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char *buf = malloc(size + 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t text_len = strlen(buf);
    n_env = 0;
    if (text_len < size)
        parse_env(buf + text_len + 1, size - text_len - 1);

    dm_config cfg;
    dm_err_t err = { 0 };
    /* Never NULL (that would mean getenv): no input may depend on the
     * machine's environment. */
    int rc = dm__config_load_text(&cfg, buf, fuzz_env, &err);
    if (rc == 0) {
        check_loaded(&cfg);
    } else {
        FUZZ_CHECK(rc < 0, "positive error code %d", rc);
        FUZZ_CHECK(err.msg[0] != '\0', "failure %d without a message", rc);
        FUZZ_CHECK(cfg.root == NULL && cfg.listen == NULL, "failed load left memory behind");
    }
    check_secrets(buf, &cfg, rc, &err);
    dm__config_free(&cfg);
    free(buf);
    return 0;
}

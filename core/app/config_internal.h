/*
 * config_internal.h — the one table that describes every configuration key
 * (nginx-style command table) and the helpers the config_*.c files share.
 * Defaults, JSON parsing, environment overrides, validation, the effective
 * tree in cfg->root and the generated docs listing are all driven by it.
 */
#ifndef DM_CONFIG_INTERNAL_H
#define DM_CONFIG_INTERNAL_H

#include "app/config.h"

typedef enum {
    DM_CK_STR,         /* char *, owned */
    DM_CK_INT,         /* int, within [min, max] */
    DM_CK_SIZE,        /* size_t, within [min, max] */
    DM_CK_BOOL,        /* bool */
    DM_CK_STRLIST,     /* char *[max] at off, size_t count at off_n */
    DM_CK_SECRET_FILE, /* a path; the file's content goes into the char * at off */
    DM_CK_PLUGINS      /* json_t * array of plugin entries at off */
} dm_ck_type;

#define DM_CK_SECRET   0x1u /* value never printed, never copied into root */
#define DM_CK_NONEMPTY 0x2u /* "" is refused */

typedef struct dm_config_key {
    const char *path;        /* "server.port": sections joined by dots */
    dm_ck_type  type;
    size_t      off;         /* the field in dm_config */
    size_t      off_n;       /* STRLIST: the count field */
    const char *env;         /* "DERMAGA_PORT", or NULL */
    const char *def;         /* STR: default text; STRLIST: comma list */
    char     *(*def_fn)(void); /* computed default (new string), or NULL */
    const char *def_doc;     /* how the docs show a default that varies */
    long long   idef;        /* INT/SIZE/BOOL default */
    long long   min, max;    /* INT/SIZE range; STRLIST: max entries */
    unsigned    flags;       /* DM_CK_* */
    /* NULL when s is acceptable, else what it "must be" (for the message). */
    const char *(*check)(const char *s);
    const char *pair;        /* SECRET_FILE: path of the key it fills */
    const char *allowed;     /* the docs' "Allowed" cell when check decides it */
    const char *doc;         /* one line for the docs listing */
} dm_config_key;

extern const dm_config_key dm__config_keys[];
extern const size_t dm__config_nkeys;

/* The entry for a dotted path, or NULL. Borrowed, static. */
const dm_config_key *dm__config_key_find(const char *path);

/* Checks shared by table entries and the plugin list. */
const char *dm__config_check_plugin_name(const char *s);

/* Apply one value to cfg: from the JSON file (a null keeps the current
 * value) or from an environment variable's text. Messages name the key as
 * "server.port", or as DERMAGA_PORT (server.port) for the environment, and
 * never show a secret's value. Returns 0, DM_EINVAL or DM_ENOMEM. */
int dm__config_apply_json(dm_config *cfg, const dm_config_key *k, json_t *v, dm_err_t *err);
int dm__config_apply_text(dm_config *cfg, const dm_config_key *k, const char *s, dm_err_t *err);

/* Replace a string slot with a copy of s (NULL allowed); the old value is
 * wiped first when wipe is set. Returns 0 or DM_ENOMEM. */
int dm__config_set_str(char **slot, const char *s, bool wipe);

/* Free a string, wiping it first when it may hold a secret. */
void dm__config_free_str(char *s, bool wipe);

/* Build the effective tree (every non-secret key). New reference or NULL. */
json_t *dm__config_emit(const dm_config *cfg);

#endif

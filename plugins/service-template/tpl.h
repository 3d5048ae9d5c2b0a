/*
 * tpl.h — the service-template plugin's internals: the set of loaded
 * templates (tpl_load.c reads and validates a directory of JSON files) and
 * the placeholder language and rendering (tpl_render.c). Nothing here is
 * exported from the plugin; service_template.c wires it to the ops table.
 */
#ifndef DM_SERVICE_TEMPLATE_TPL_H
#define DM_SERVICE_TEMPLATE_TPL_H

#include <stddef.h>

#include <jansson.h>

#include <dermaga/host.h>
#include <dermaga/service.h>

/* One loaded template. doc is the validated file with defaults filled in
 * (ports[].protocol and .public, health delays, resources); owned here. */
typedef struct tpl {
    char        slug[64];
    char        file[128]; /* the file's name inside the directory, for messages */
    const char *dir;       /* its directory (borrowed from the config) */
    json_t     *doc;
} tpl;

/* All templates of the template directories, sorted by slug. Read-only
 * after load, so the ops may use it from any number of threads. */
typedef struct tpl_set {
    tpl   *items;
    size_t n;
} tpl_set;

/* ---- tpl_load.c ---- */

/* What loading tells the operator: level (dm/host.h DM_HOST_LOG_*) and
 * one line. */
typedef void (*tpl_note_fn)(void *ud, int level, const char *line);

/*
 * Load and validate every *.json file of dirs[0..n) (borrowed until
 * tpl_set_free) into set (zeroed by the caller), in order: a template of a
 * later directory replaces an earlier one's of the same slug (noted at
 * info: "template S: <new path> overrides <old path>"). A file that fails
 * validation is refused alone: noted at warn as "template refused:
 * <dir>/<file>: <field>: <reason>" and skipped, the others are served.
 * 0; DM_EINVAL when no directory is given or not one template is usable
 * (set then empty); DM_EIO when a directory cannot be read; DM_ENOMEM.
 */
int tpl_set_load_dirs(tpl_set *set, const char *const *dirs, size_t n, tpl_note_fn note, void *ud,
                      dm_err_t *err);

/* Free everything set holds; set may be zeroed or NULL. */
void tpl_set_free(tpl_set *set);

/* The template for slug, or NULL. Borrowed from set. */
const tpl *tpl_set_find(const tpl_set *set, const char *slug);

/* ---- tpl_render.c: placeholders ---- */

/* What a ${ns.arg} placeholder refers to. */
typedef enum tpl_ph_kind {
    TPL_PH_SECRET = 1,   /* ${secret.NAME}: a declared secret */
    TPL_PH_PLAN,         /* ${plan.FIELD}: name, cpuMillicores, memoryMb, storageGb */
    TPL_PH_INSTANCE,     /* ${instance.id} */
    TPL_PH_SUBSCRIPTION, /* ${subscription.id} */
    TPL_PH_ENDPOINT,     /* ${endpoint.PORT}: where a declared port is reached, host:port */
    TPL_PH_URL           /* ${url.PORT}: the same as a URL, scheme://host[:port] */
} tpl_ph_kind;

typedef struct tpl_ph {
    tpl_ph_kind kind;
    const char *arg;     /* points into the walked string; not NUL-terminated */
    size_t      arg_len;
} tpl_ph;

/* Called for each piece of a string: a literal run (ph NULL, lit/len set)
 * or a placeholder (ph set). Return 0 to go on, anything else to stop
 * (tpl_walk returns it). */
typedef int (*tpl_piece_fn)(void *ud, const char *lit, size_t len, const tpl_ph *ph);

/* Split s into literal runs and placeholders. "$${" is a literal "${"; any
 * other "$" is literal. Syntax errors (unclosed "${", an unknown namespace,
 * a bad name, ${instance.x} for x other than id) return DM_EINVAL with the
 * reason in why (never NULL, len > 0). */
int tpl_walk(const char *s, tpl_piece_fn fn, void *ud, char *why, size_t why_len);

/* The plan fields ${plan.X} may name, and which of them are integers. */
int tpl_plan_field_known(const char *name, size_t len, int *is_int);

/* ---- tpl_render.c: rendering ---- */

/* The workload spec of dermaga/service.h for req. image_map (borrowed,
 * may be NULL) replaces the template's image when it has it as a key.
 * *out is new. DM_EINVAL (the plan lacks a field the template uses, with
 * the field named), DM_EIO (no randomness), DM_ENOMEM. */
int tpl_render_workload(const tpl *t, const dm_host_t *host, const json_t *image_map,
                        const dm_service_request_t *req, json_t **out, dm_err_t *err);

/* {"urls":{…},"credentials":{…}} for req; an entry whose secret or endpoint
 * is not known yet is left out. *out is new. DM_EINVAL, DM_ENOMEM. */
int tpl_render_presentation(const tpl *t, const dm_service_request_t *req, json_t **out,
                            dm_err_t *err);

/* Secret alphabets by name ("alnum", "hex", "base64url", "lowernum"); NULL
 * for an unknown name. Static. */
const char *tpl_alphabet(const char *name);

#endif /* DM_SERVICE_TEMPLATE_TPL_H */

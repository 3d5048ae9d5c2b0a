/*
 * catalog_fields.c — the fields of categories, services and plans and the
 * one checker for them. The ranges repeat the CHECKs of 0003_catalog.sql so
 * a bad value is a 400 naming its field, never a database error.
 */
#include "catalog/catalog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "instances/instance_runtime.h"

static const dm_cat_field category_fields[] = {
    { "slug", CF_SLUG, 0, 0, false },
    { "name", CF_NAME, 0, 0, true },
    { "description", CF_TEXT, 0, 2000, false },
    { "sortOrder", CF_INT, -1000000, 1000000, false },
    { "isActive", CF_BOOL, 0, 0, false },
};

static const dm_cat_field service_fields[] = {
    { "categoryId", CF_REF, 0, 0, true },
    { "slug", CF_SLUG, 0, 0, false },
    { "name", CF_NAME, 0, 0, true },
    { "description", CF_TEXT, 0, 4000, false },
    { "serviceType", CF_IDENT, 0, 0, true },
    /* Required for service-template services only (instance_service.h),
     * which the caller checks with the plugins loaded. */
    { "template", CF_IDENT, 0, 0, false },
    { "iconUrl", CF_TEXT, 0, 2048, false },
    { "sortOrder", CF_INT, -1000000, 1000000, false },
    { "isActive", CF_BOOL, 0, 0, false },
    /* Which runtime plugin runs the service's new instances; the instance
     * records it (core/instances/instance_runtime.h). Only the form is
     * checked: the plugins loaded may differ between nodes and over time. */
    { "runtime", CF_RUNTIME, 0, 0, false },
};

static const dm_cat_field plan_fields[] = {
    { "serviceId", CF_REF, 0, 0, true },
    { "slug", CF_SLUG, 0, 0, false },
    { "name", CF_NAME, 0, 0, true },
    { "description", CF_TEXT, 0, 2000, false },
    { "price", CF_INT, 0, 1000000000000LL, true },
    { "billingPeriodDays", CF_INT, 1, 3660, false },
    { "cpuMillicores", CF_INT, 1, 1024000, true },
    { "memoryMb", CF_INT, 1, 4194304, true },
    { "storageGb", CF_INT, 0, 1048576, false },
    { "totalQuota", CF_INT, 0, 1000000, true },
    { "features", CF_FEATURES, 0, 0, false },
    { "sortOrder", CF_INT, -1000000, 1000000, false },
    { "isActive", CF_BOOL, 0, 0, false },
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
const dm_cat_kind dm__cat_category = { "category", category_fields, N(category_fields) };
const dm_cat_kind dm__cat_service = { "service", service_fields, N(service_fields) };
const dm_cat_kind dm__cat_plan = { "plan", plan_fields, N(plan_fields) };

int dm__cat_field_index(const dm_cat_kind *kind, const char *name)
{
    for (int i = 0; i < kind->n_fields; i++)
        if (strcmp(kind->fields[i].name, name) == 0)
            return i;
    return -1;
}

/* UTF-8 characters in s, or -1 when it holds a control character. */
static long chars_of(const char *s, bool allow_newlines)
{
    long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\t' || *p == '\r'))) || *p == 0x7f)
            return -1;
        n += (*p & 0xc0) != 0x80;
    }
    return n;
}

/* ^[a-z0-9][a-z0-9-]{0,62}$, with '_' also allowed when underscore. */
static bool ident_ok(const char *s, bool underscore)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || (i > 0 && (c == '-' || (underscore && c == '_')));
        if (!ok)
            return false;
    }
    return true;
}

/* "Uptime Kuma (v2)" → "uptime-kuma-v2": lower-case ASCII letters and
 * digits, every other run of bytes one '-', trimmed, at most 63. NULL when
 * nothing is left (a name of only symbols) or out of memory. */
static char *slug_from(const char *name)
{
    char *out = malloc(64);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && n < 63; p++) {
        char c = (char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && n > 0) {
                if (n + 2 > 63)
                    break; /* no room for '-' and a character: stop at a whole word */
                out[n++] = '-';
            }
            out[n++] = c;
            dash = false;
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int bad(char msg[160], const char *text)
{
    snprintf(msg, 160, "%s", text);
    return DM_EINVAL;
}

/* Check one string-valued field; its text is borrowed from v. */
static int check_string(const dm_cat_field *f, const json_t *v, const char **out, char msg[160])
{
    if (!json_is_string(v))
        return bad(msg, "must be a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(msg, "must not contain NUL");
    long chars = chars_of(s, f->type == CF_TEXT);
    if (f->type == CF_SLUG && !ident_ok(s, false))
        return bad(msg, "must be 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit");
    if (f->type == CF_IDENT && !ident_ok(s, true))
        return bad(msg, "must be 1 to 63 of a-z, 0-9, '-' and '_', starting with a letter or digit");
    if (f->type == CF_RUNTIME && !dm__instance_runtime_name_ok(s))
        return bad(msg, "must be null or 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit");
    if (f->type == CF_REF && !dm__users_valid_id(s))
        return bad(msg, "must be a lowercase uuid");
    if (f->type == CF_NAME) {
        bool visible = strspn(s, " ") != strlen(s);
        if (chars < 1 || chars > 100 || !visible)
            return bad(msg, "must be 1 to 100 characters without control characters, not only spaces");
    }
    if (f->type == CF_TEXT && (chars < 0 || chars > f->max)) {
        snprintf(msg, 160, "must be at most %lld characters without control characters", f->max);
        return DM_EINVAL;
    }
    *out = s;
    return 0;
}

/* features: an array of 0..50 strings of 1..200 characters, stored as
 * jsonb text (new, caller frees). */
static int check_features(const json_t *v, char **out, char msg[160])
{
    if (!json_is_array(v) || json_array_size(v) > 50)
        return bad(msg, "must be an array of at most 50 strings");
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        long chars = json_is_string(e) && strlen(json_string_value(e)) == json_string_length(e)
                         ? chars_of(json_string_value(e), false) : -1;
        if (chars < 1 || chars > 200) {
            snprintf(msg, 160, "item %zu must be a string of 1 to 200 characters", i);
            return DM_EINVAL;
        }
    }
    *out = json_dumps(v, JSON_COMPACT);
    return *out != NULL ? 0 : DM_ENOMEM;
}

/* Check field i of kind from value v into out. */
static int check_field(const dm_cat_field *f, const json_t *v, int i, dm_cat_values *out, char msg[160])
{
    switch (f->type) {
    case CF_INT: {
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
            snprintf(msg, 160, "must be an integer from %lld to %lld", f->min, f->max);
            return DM_EINVAL;
        }
        snprintf(out->num[i], sizeof out->num[i], "%lld", (long long)json_integer_value(v));
        out->v[i] = out->num[i];
        return 0;
    }
    case CF_BOOL:
        if (!json_is_boolean(v))
            return bad(msg, "must be true or false");
        out->v[i] = json_is_true(v) ? "t" : "f";
        return 0;
    case CF_FEATURES: {
        int rc = check_features(v, &out->owned[i], msg);
        out->v[i] = out->owned[i];
        return rc;
    }
    default:
        return check_string(f, v, &out->v[i], msg);
    }
}

static bool listed(const char *const list[], const char *key)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

/* Every member is a known field (or in extra); CF_REF is not one when nested. */
static int check_members(const dm_cat_kind *kind, const json_t *obj, unsigned flags,
                         const char *const extra[], const char **field, char msg[160])
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int i = dm__cat_field_index(kind, key);
        bool ok = listed(extra, key) || (i >= 0 && !((flags & DM_CAT_NESTED) && kind->fields[i].type == CF_REF));
        if (!ok) {
            *field = key;
            return bad(msg, "is not a field of this request");
        }
    }
    return 0;
}

int dm__cat_values_read(const dm_cat_kind *kind, const json_t *obj, unsigned flags,
                        const char *const extra[], dm_cat_values *out, const char **field,
                        char msg[160])
{
    memset(out, 0, sizeof *out);
    *field = kind->noun;
    msg[0] = '\0'; /* DM_ENOMEM leaves no message of its own */
    if (!json_is_object(obj))
        return bad(msg, "must be a JSON object");
    int rc = check_members(kind, obj, flags, extra, field, msg);
    for (int i = 0; rc == 0 && i < kind->n_fields; i++) {
        const dm_cat_field *f = &kind->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        *field = f->name;
        if (f->type == CF_REF && (flags & DM_CAT_NESTED))
            continue;
        const bool nullable = f->type == CF_TEXT || f->type == CF_RUNTIME;
        if (v == NULL || (json_is_null(v) && !nullable)) {
            if ((flags & DM_CAT_CREATE) && f->required)
                rc = bad(msg, "is required");
            continue;
        }
        if (json_is_null(v)) /* a text field set to null: stored as ""; a runtime as NULL */
            out->v[i] = "";
        else
            rc = check_field(f, v, i, out, msg);
        out->given++;
    }
    int si = dm__cat_field_index(kind, "slug"), ni = dm__cat_field_index(kind, "name");
    if (rc == 0 && (flags & DM_CAT_CREATE) && out->v[si] == NULL) {
        *field = "slug";
        out->owned[si] = slug_from(out->v[ni]);
        out->v[si] = out->owned[si];
        if (out->v[si] == NULL)
            rc = bad(msg, "cannot be derived from the name: give one");
    }
    return rc;
}

void dm__cat_values_free(dm_cat_values *v)
{
    for (int i = 0; i < DM_CAT_MAX_FIELDS; i++) {
        free(v->owned[i]);
        v->owned[i] = NULL;
    }
}

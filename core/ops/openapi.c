/*
 * openapi.c — reads docs/openapi.yaml with libyaml's event parser and builds
 * the equivalent jansson tree, then dumps it as compact JSON for
 * GET /openapi.json. Events rather than libyaml's document API so that the
 * nesting limit is enforced before a deep tree is ever built.
 */
#include "ops/openapi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

_Static_assert(sizeof(json_int_t) == sizeof(long long), "json_int_t is expected to be long long");

#define TAG_PREFIX "tag:yaml.org,2002:"

/* The YAML 1.2 core-schema kinds a scalar can resolve to. */
typedef enum { K_ANY = 0, K_NULL, K_BOOL, K_INT, K_FLOAT, K_STR } kind_t;

typedef struct conv {
    yaml_parser_t parser;
    const char   *name;
    dm_err_t     *err;
    bool          needs_17_digits; /* some real does not survive %.15g */
} conv;

static int parse_node(conv *c, yaml_event_t *ev, int depth, json_t **out);

/* Fill err as "name:line:column: message" (1-based, as editors count). */
static int at(conv *c, yaml_mark_t m, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(conv *c, yaml_mark_t m, int code, const char *fmt, ...)
{
    char    msg[DM_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dm_err_set(c->err, code, "%s:%zu:%zu: %s", c->name, m.line + 1, m.column + 1, msg);
}

/* Turn libyaml's parser state into our error, keeping its position. */
static int parser_error(conv *c)
{
    const yaml_parser_t *p = &c->parser;
    const char *problem = p->problem != NULL ? p->problem : "invalid YAML";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return dm_err_set(c->err, DM_ENOMEM, "%s: out of memory while parsing YAML", c->name);
    case YAML_READER_ERROR:
        /* The reader has no line/column yet, only a byte offset. */
        return dm_err_set(c->err, DM_EINVAL, "%s: byte %zu: %s (value 0x%x)", c->name,
                          p->problem_offset, problem, (unsigned)p->problem_value);
    default:
        break;
    }
    if (p->context != NULL) {
        return at(c, p->problem_mark, DM_EINVAL, "%s (%s at %zu:%zu)", problem, p->context,
                  p->context_mark.line + 1, p->context_mark.column + 1);
    }
    return at(c, p->problem_mark, DM_EINVAL, "%s", problem);
}

static int next_event(conv *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->parser, ev) == 0) {
        return parser_error(c);
    }
    return 0;
}

/* --- scalar typing (YAML 1.2 core schema) -------------------------------- */

static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool is_null_text(const char *s, size_t n)
{
    return n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL");
}

static int bool_text(const char *s, size_t n)
{
    if (eq(s, n, "true") || eq(s, n, "True") || eq(s, n, "TRUE")) {
        return 1;
    }
    if (eq(s, n, "false") || eq(s, n, "False") || eq(s, n, "FALSE")) {
        return 0;
    }
    return -1;
}

static int digit_value(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return 99;
}

/* Digits in base: 1 and *out set, 0 when not all digits, -1 when the value
 * does not fit json_int_t (the text is still an integer, just too big). */
static int digits_value(const char *s, size_t n, unsigned base, bool neg, json_int_t *out)
{
    unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1u : (unsigned long long)LLONG_MAX;
    unsigned long long acc = 0;
    bool               overflow = false;

    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)digit_value(s[i]);
        if (d >= base) {
            return 0;
        }
        if (acc > (limit - d) / base) {
            overflow = true;
        } else {
            acc = acc * base + d;
        }
    }
    if (overflow) {
        return -1;
    }
    if (neg) {
        *out = acc > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(json_int_t)acc;
    } else {
        *out = (json_int_t)acc;
    }
    return 1;
}

/* Core-schema integer forms: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. */
static int int_text(const char *s, size_t n, json_int_t *out)
{
    if (n > 2 && s[0] == '0' && s[1] == 'o') {
        return digits_value(s + 2, n - 2, 8, false, out);
    }
    if (n > 2 && s[0] == '0' && s[1] == 'x') {
        return digits_value(s + 2, n - 2, 16, false, out);
    }
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        return digits_value(s + 1, n - 1, 10, s[0] == '-', out);
    }
    return digits_value(s, n, 10, false, out);
}

static size_t skip_digits(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    return i;
}

/* Core-schema float form: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_form(const char *s, size_t n)
{
    size_t i = 0, j;
    bool   int_digits, frac_digits = false;

    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    j = skip_digits(s, n, i);
    int_digits = j > i;
    i = j;
    if (i < n && s[i] == '.') {
        j = skip_digits(s, n, i + 1);
        frac_digits = j > i + 1;
        i = j;
    }
    if (!int_digits && !frac_digits) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) {
            i++;
        }
        j = skip_digits(s, n, i);
        if (j == i) {
            return false;
        }
        i = j;
    }
    return i == n;
}

static bool inf_or_nan_text(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    return eq(s, n, ".inf") || eq(s, n, ".Inf") || eq(s, n, ".INF") || eq(s, n, ".nan") ||
           eq(s, n, ".NaN") || eq(s, n, ".NAN");
}

static const char *kind_name(kind_t k)
{
    switch (k) {
    case K_NULL: return "!!null";
    case K_BOOL: return "!!bool";
    case K_INT: return "!!int";
    case K_FLOAT: return "!!float";
    default: return "!!str";
    }
}

static int make_real(conv *c, const yaml_event_t *ev, const char *s, json_t **out)
{
    /* float_form/int_text already vetted all n bytes (a NUL among them would
     * have failed that), so strtod reads exactly the scalar. */
    double v = strtod(s, NULL);

    if (!isfinite(v)) {
        return at(c, ev->start_mark, DM_EINVAL, "float %.64s is out of range", s);
    }
    /* jansson prints reals with one precision for the whole document; 17
     * digits always round-trip but turn 0.1 into 0.10000000000000001, so use
     * 15 unless some value needs more. */
    if (!c->needs_17_digits) {
        char short_form[32];
        snprintf(short_form, sizeof short_form, "%.15g", v);
        c->needs_17_digits = strtod(short_form, NULL) != v;
    }
    *out = json_real(v);
    return *out != NULL ? 0 : dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
}

/* Resolve a scalar's text as `want` (K_ANY: as the core schema would for a
 * plain scalar; other kinds: an explicit tag that the text must satisfy). */
static int resolve(conv *c, const yaml_event_t *ev, kind_t want, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t      n = ev->data.scalar.length;
    json_int_t  iv = 0;
    int         b, r;

    if ((want == K_ANY || want == K_NULL) && is_null_text(s, n)) {
        *out = json_null();
        return 0;
    }
    if ((want == K_ANY || want == K_BOOL) && (b = bool_text(s, n)) >= 0) {
        *out = json_boolean(b);
        return 0;
    }
    if (want == K_ANY || want == K_INT || want == K_FLOAT) {
        if (inf_or_nan_text(s, n)) {
            return at(c, ev->start_mark, DM_EINVAL,
                      "%.*s has no JSON representation; quote it to make it a string",
                      (int)(n > 64 ? 64 : n), s);
        }
        r = want == K_FLOAT ? 0 : int_text(s, n, &iv);
        if (r < 0) {
            return at(c, ev->start_mark, DM_EINVAL, "integer %.64s does not fit in 64 bits", s);
        }
        if (r > 0) {
            *out = json_integer(iv);
            return *out != NULL ? 0 : dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
        }
        if (want != K_INT && float_form(s, n)) {
            return make_real(c, ev, s, out);
        }
    }
    if (want != K_ANY) {
        return at(c, ev->start_mark, DM_EINVAL, "\"%.64s\" is not a valid %s", s, kind_name(want));
    }
    *out = json_stringn(s, n);
    return *out != NULL ? 0 : dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
}

static kind_t tag_kind(const char *tag)
{
    static const struct { const char *name; kind_t kind; } tags[] = {
        {"!", K_STR},
        {TAG_PREFIX "str", K_STR},
        {TAG_PREFIX "null", K_NULL},
        {TAG_PREFIX "bool", K_BOOL},
        {TAG_PREFIX "int", K_INT},
        {TAG_PREFIX "float", K_FLOAT},
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        if (strcmp(tag, tags[i].name) == 0) {
            return tags[i].kind;
        }
    }
    return K_ANY; /* unknown */
}

static int convert_scalar(conv *c, const yaml_event_t *ev, json_t **out)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    kind_t      k;

    if (tag == NULL) {
        /* Only plain scalars are typed; any quoting or block style means
         * the author wrote a string. */
        k = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? K_ANY : K_STR;
    } else {
        k = tag_kind(tag);
        if (k == K_ANY) {
            return at(c, ev->start_mark, DM_EUNSUPPORTED, "unsupported tag %.64s", tag);
        }
    }
    if (k == K_STR) {
        *out = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (*out == NULL) {
            return at(c, ev->start_mark, DM_EINVAL, "string is not valid UTF-8 or out of memory");
        }
        return 0;
    }
    return resolve(c, ev, k, out);
}

/* --- collections ------------------------------------------------------------ */

/* Refuse an anchor: expanding aliases would let a small file produce an
 * exponentially large JSON document ("billion laughs"), and OpenAPI has $ref
 * for reuse, so we do not support them at all. */
static int refuse_anchor(conv *c, yaml_mark_t m, const yaml_char_t *anchor)
{
    if (anchor == NULL) {
        return 0;
    }
    return at(c, m, DM_EUNSUPPORTED,
              "anchor &%.64s: YAML anchors and aliases are not supported (use $ref)",
              (const char *)anchor);
}

static int parse_mapping(conv *c, int depth, json_t **out)
{
    json_t *obj = json_object();
    int     rc = 0;

    if (obj == NULL) {
        return dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
    }
    for (;;) {
        yaml_event_t key, vev;
        json_t      *val = NULL;

        if ((rc = next_event(c, &key)) != 0) {
            break;
        }
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            break;
        }
        if (key.type == YAML_ALIAS_EVENT) {
            rc = at(c, key.start_mark, DM_EUNSUPPORTED,
                    "alias *%.64s: YAML anchors and aliases are not supported (use $ref)",
                    (const char *)key.data.alias.anchor);
        } else if (key.type != YAML_SCALAR_EVENT) {
            rc = at(c, key.start_mark, DM_EUNSUPPORTED, "mapping keys must be scalars");
        } else {
            rc = refuse_anchor(c, key.start_mark, key.data.scalar.anchor);
        }
        if (rc == 0) {
            const char *k = (const char *)key.data.scalar.value;
            size_t      kn = key.data.scalar.length;

            if (json_object_getn(obj, k, kn) != NULL) {
                rc = at(c, key.start_mark, DM_EINVAL, "duplicate key \"%.*s\"",
                        (int)(kn > 64 ? 64 : kn), k);
            } else if ((rc = next_event(c, &vev)) == 0 &&
                       (rc = parse_node(c, &vev, depth, &val)) == 0 &&
                       json_object_setn_new(obj, k, kn, val) != 0) {
                rc = at(c, key.start_mark, DM_EINVAL, "key is not valid UTF-8 or out of memory");
            }
        }
        yaml_event_delete(&key);
        if (rc != 0) {
            break;
        }
    }
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static int parse_sequence(conv *c, int depth, json_t **out)
{
    json_t *arr = json_array();
    int     rc = 0;

    if (arr == NULL) {
        return dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
    }
    for (;;) {
        yaml_event_t ev;
        json_t      *val = NULL;

        if ((rc = next_event(c, &ev)) != 0) {
            break;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if ((rc = parse_node(c, &ev, depth, &val)) != 0) {
            break;
        }
        if (json_array_append_new(arr, val) != 0) {
            rc = dm_err_set(c->err, DM_ENOMEM, "%s: out of memory", c->name);
            break;
        }
    }
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* Checks shared by both collection kinds before descending into one. */
static int open_collection(conv *c, const yaml_event_t *ev, int depth)
{
    bool               map = ev->type == YAML_MAPPING_START_EVENT;
    const yaml_char_t *anchor = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const char        *tag = (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    int                rc = refuse_anchor(c, ev->start_mark, anchor);

    if (rc != 0) {
        return rc;
    }
    if (tag != NULL && strcmp(tag, "!") != 0 &&
        strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq") != 0) {
        return at(c, ev->start_mark, DM_EUNSUPPORTED, "unsupported tag %.64s", tag);
    }
    if (depth + 1 > DM_OPENAPI_MAX_DEPTH) {
        return at(c, ev->start_mark, DM_EINVAL, "nesting deeper than %d levels",
                  DM_OPENAPI_MAX_DEPTH);
    }
    return 0;
}

/* Build the value that starts with *ev (consumed: deleted before return).
 * depth: number of collections enclosing this node. */
static int parse_node(conv *c, yaml_event_t *ev, int depth, json_t **out)
{
    int rc;

    *out = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        rc = refuse_anchor(c, ev->start_mark, ev->data.scalar.anchor);
        if (rc == 0) {
            rc = convert_scalar(c, ev, out);
        }
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        rc = open_collection(c, ev, depth);
        if (rc == 0) {
            rc = ev->type == YAML_MAPPING_START_EVENT ? parse_mapping(c, depth + 1, out)
                                                      : parse_sequence(c, depth + 1, out);
        }
        break;
    case YAML_ALIAS_EVENT:
        rc = at(c, ev->start_mark, DM_EUNSUPPORTED,
                "alias *%.64s: YAML anchors and aliases are not supported (use $ref)",
                (const char *)ev->data.alias.anchor);
        break;
    default:
        rc = at(c, ev->start_mark, DM_EINVAL, "unexpected YAML event %d", (int)ev->type);
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

/* Read the next event and require its type; the event is deleted. */
static int expect(conv *c, yaml_event_type_t type, const char *what)
{
    yaml_event_t ev;
    int          rc = next_event(c, &ev);

    if (rc != 0) {
        return rc;
    }
    if (ev.type != type) {
        rc = at(c, ev.start_mark, DM_EINVAL, "%s", what);
    }
    yaml_event_delete(&ev);
    return rc;
}

/* Parse exactly one document from the stream into *out (new). */
static int parse_stream(conv *c, json_t **out)
{
    yaml_event_t ev;
    json_t      *root = NULL;
    int          rc;

    if ((rc = expect(c, YAML_STREAM_START_EVENT, "expected the start of a YAML stream")) != 0 ||
        (rc = expect(c, YAML_DOCUMENT_START_EVENT, "empty YAML input: expected a document")) != 0 ||
        (rc = next_event(c, &ev)) != 0 || (rc = parse_node(c, &ev, 0, &root)) != 0 ||
        (rc = expect(c, YAML_DOCUMENT_END_EVENT, "expected the end of the document")) != 0 ||
        (rc = expect(c, YAML_STREAM_END_EVENT, "more than one YAML document")) != 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* Convert one document; *precision: the real precision dump_compact must use. */
static int yaml_to_value(const char *name, const char *yaml, size_t len, json_t **out,
                         int *precision, dm_err_t *err)
{
    conv c = {.name = name != NULL ? name : "<yaml>", .err = err};
    int  rc;

    if (len > DM_OPENAPI_MAX_BYTES) {
        return dm_err_set(err, DM_EINVAL, "%s: %zu bytes is over the %u-byte limit", c.name, len,
                          DM_OPENAPI_MAX_BYTES);
    }
    if (yaml_parser_initialize(&c.parser) == 0) {
        return dm_err_set(err, DM_ENOMEM, "%s: out of memory", c.name);
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)yaml, len);
    rc = parse_stream(&c, out);
    yaml_parser_delete(&c.parser);
    *precision = c.needs_17_digits ? 17 : 15;
    return rc;
}

static int dump_compact(json_t *v, int precision, char **out_json, size_t *out_len,
                        dm_err_t *err)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));

    if (s == NULL) {
        return dm_err_set(err, DM_ENOMEM, "out of memory while writing JSON");
    }
    *out_json = s;
    if (out_len != NULL) {
        *out_len = strlen(s);
    }
    return 0;
}

int dm__openapi_yaml_to_json(const char *name, const char *yaml, size_t len, char **out_json,
                             size_t *out_len, dm_err_t *err)
{
    json_t *root = NULL;
    int     precision = 17;
    int     rc;

    if (out_json == NULL || (yaml == NULL && len > 0)) {
        return dm_err_set(err, DM_EINVAL, "dm__openapi_yaml_to_json: NULL argument");
    }
    *out_json = NULL;
    if (out_len != NULL) {
        *out_len = 0;
    }
    rc = yaml_to_value(name, yaml != NULL ? yaml : "", len, &root, &precision, err);
    if (rc == 0) {
        rc = dump_compact(root, precision, out_json, out_len, err);
    }
    json_decref(root);
    return rc;
}

/* --- the file ---------------------------------------------------------------- */

/* Read a whole regular file of at most DM_OPENAPI_MAX_BYTES into *out (new). */
static int read_file(const char *path, char **out, size_t *out_len, dm_err_t *err)
{
    struct stat st;
    char       *buf = NULL;
    size_t      cap, len = 0;
    int         rc = 0;
    int         fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return dm_err_set(err, errno == ENOENT ? DM_ENOTFOUND : DM_EIO, "%s: %s", path,
                          strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = dm_err_set(err, DM_EIO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = dm_err_set(err, DM_EINVAL, "%s: not a regular file", path);
    } else if ((unsigned long long)st.st_size > DM_OPENAPI_MAX_BYTES) {
        rc = dm_err_set(err, DM_EINVAL, "%s: %lld bytes is over the %u-byte limit", path,
                        (long long)st.st_size, DM_OPENAPI_MAX_BYTES);
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = dm_err_set(err, DM_ENOMEM, "%s: out of memory", path);
    }
    cap = rc == 0 ? (size_t)st.st_size + 1 : 0;
    /* Read one byte past the stated size to notice a file that grew. */
    while (rc == 0) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = dm_err_set(err, DM_EIO, "%s: %s", path, strerror(errno));
        } else if (n == 0) {
            break;
        } else if ((len += (size_t)n) == cap) {
            rc = dm_err_set(err, DM_EIO, "%s: file changed while being read", path);
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* The minimum that makes the document usable by OpenAPI 3 tooling. */
static int check_openapi(const char *path, const json_t *root, dm_err_t *err)
{
    const json_t *ver = json_object_get(root, "openapi");

    if (!json_is_object(root)) {
        return dm_err_set(err, DM_EINVAL, "%s: not an OpenAPI document: the root is not a mapping",
                          path);
    }
    if (!json_is_string(ver) || strncmp(json_string_value(ver), "3.", 2) != 0) {
        return dm_err_set(err, DM_EINVAL, "%s: not an OpenAPI 3 document: \"openapi\" must be a "
                          "string starting with \"3.\"", path);
    }
    if (!json_is_object(json_object_get(root, "info")) ||
        !json_is_object(json_object_get(root, "paths"))) {
        return dm_err_set(err, DM_EINVAL, "%s: not an OpenAPI document: \"info\" and \"paths\" "
                          "must be mappings", path);
    }
    return 0;
}

int dm__openapi_load(const char *yaml_path, char **out_json, size_t *out_len, dm_err_t *err)
{
    char   *text = NULL;
    size_t  len = 0;
    json_t *root = NULL;
    int     precision = 17;
    int     rc;

    if (yaml_path == NULL || out_json == NULL) {
        return dm_err_set(err, DM_EINVAL, "dm__openapi_load: NULL argument");
    }
    *out_json = NULL;
    if (out_len != NULL) {
        *out_len = 0;
    }
    rc = read_file(yaml_path, &text, &len, err);
    if (rc == 0) {
        rc = yaml_to_value(yaml_path, text, len, &root, &precision, err);
    }
    if (rc == 0) {
        rc = check_openapi(yaml_path, root, err);
    }
    if (rc == 0) {
        rc = dump_compact(root, precision, out_json, out_len, err);
    }
    json_decref(root);
    free(text);
    return rc;
}

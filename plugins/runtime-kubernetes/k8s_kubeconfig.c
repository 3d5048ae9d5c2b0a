/*
 * k8s_kubeconfig.c — reading a kubeconfig: the YAML turned into JSON with
 * libyaml's document loader (a kubeconfig is small, and a JSON tree lets
 * the lookup below use jansson like the rest of the plugin), then the
 * chosen context's cluster (server, certificate-authority[-data],
 * insecure-skip-tls-verify) and user (token, tokenFile,
 * client-certificate[-data], client-key[-data]). File forms are read here,
 * once, so every request uses the same bytes as the -data forms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "k8s.h"

#define MAX_DEPTH 32
#define MAX_PEM_BYTES (1024u * 1024u)

void k8s_conn_free(k8s_conn *c)
{
    free(c->ca.data);
    free(c->client_cert.data);
    if (c->client_key.data != NULL)
        memset(c->client_key.data, 0, c->client_key.len); /* a private key */
    free(c->client_key.data);
    if (c->token != NULL)
        memset(c->token, 0, strlen(c->token));
    free(c->token);
    memset(c, 0, sizeof *c);
}

int k8s_read_file(const char *path, size_t max, k8s_blob *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dm_err_set(err, DM_EIO, "cannot open %.200s: %s", path, strerror(errno));
    unsigned char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (bad || n > max) {
        free(buf);
        return dm_err_set(err, DM_EIO, "cannot read %.200s (%s)", path,
                          bad ? "read error" : "too large");
    }
    buf[n] = '\0';
    out->data = buf;
    out->len = n;
    return 0;
}

/* ---- base64 ------------------------------------------------------------ */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(B64, c) : NULL;
    return p != NULL ? (int)(p - B64) : -1;
}

int k8s_base64_decode(const char *in, k8s_blob *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(in);
    unsigned char *buf = malloc(n / 4 * 3 + 4);
    if (buf == NULL)
        return DM_ENOMEM;
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;
    bool pad = false;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(buf);
            return DM_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[len++] = (unsigned char)(acc >> bits);
        }
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return 0;
}

char *k8s_base64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* ---- YAML to JSON ------------------------------------------------------ */

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    if (node == NULL || depth > MAX_DEPTH)
        return NULL;
    if (node->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        /* Only the booleans a kubeconfig uses; everything else stays a
         * string (ports and versions are read as text anyway). */
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (n == 4 && strncmp(v, "true", 4) == 0)
                return json_true();
            if (n == 5 && strncmp(v, "false", 5) == 0)
                return json_false();
            if (n == 0 || (n == 4 && strncmp(v, "null", 4) == 0) || (n == 1 && v[0] == '~'))
                return json_null();
        }
        return json_stringn(v, n);
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             a != NULL && it < node->data.sequence.items.top; it++) {
            json_t *v = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (v == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (node->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             o != NULL && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                json_decref(o);
                return NULL;
            }
            json_t *v = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            char *key = strndup((const char *)k->data.scalar.value, k->data.scalar.length);
            if (v == NULL || key == NULL || json_object_set_new(o, key, v) != 0) {
                free(key);
                json_decref(v);
                json_decref(o);
                return NULL;
            }
            free(key);
        }
        return o;
    }
    return NULL;
}

int k8s_yaml_to_json(const char *text, size_t len, json_t **out, dm_err_t *err)
{
    *out = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (yaml_parser_initialize(&parser) == 0)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (yaml_parser_load(&parser, &doc) == 0) {
        int rc = dm_err_set(err, DM_EINVAL, "YAML error at line %zu: %.100s",
                            parser.problem_mark.line + 1,
                            parser.problem != NULL ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    json_t *j = root != NULL ? node_to_json(&doc, root, 0) : NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (j == NULL)
        return dm_err_set(err, DM_EINVAL, "YAML is empty, too deep or has a non-scalar key");
    *out = j;
    return 0;
}

/* ---- the kubeconfig ---------------------------------------------------- */

/* The `inner` object of the entry named name in the list "<inner>s" (e.g.
 * the "cluster" of clusters[?name==name]), with where = `inner "name"`
 * for messages; NULL and err when there is none. */
static const json_t *entry(const json_t *kc, const char *inner, const char *name, char *where,
                           size_t cap, dm_err_t *err)
{
    char list[32];
    snprintf(list, sizeof list, "%ss", inner);
    snprintf(where, cap, "%s \"%.100s\"", inner, name);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(kc, list), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0 && json_is_object(json_object_get(e, inner)))
            return json_object_get(e, inner);
    }
    dm_err_set(err, DM_EINVAL, "kubeconfig: %s not found in %s", where, list);
    return NULL;
}

/* base_dir/rel unless rel is absolute. */
static int resolve(const char *base_dir, const char *rel, char *out, size_t cap)
{
    int n = rel[0] == '/' || base_dir == NULL || base_dir[0] == '\0'
                ? snprintf(out, cap, "%s", rel)
                : snprintf(out, cap, "%s/%s", base_dir, rel);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Load entry.<field>-data (base64) or entry.<field> (a file) into b. */
static int load_pem(const json_t *entry, const char *field, const char *where,
                    const char *base_dir, k8s_blob *b, dm_err_t *err)
{
    char key[64];
    snprintf(key, sizeof key, "%s-data", field);
    const char *data = json_string_value(json_object_get(entry, key));
    const char *file = json_string_value(json_object_get(entry, field));
    if (data != NULL) {
        int rc = k8s_base64_decode(data, b);
        if (rc == DM_ENOMEM)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        if (rc != 0 || b->len == 0)
            return dm_err_set(err, DM_EINVAL, "kubeconfig: %s %s is not base64", where, key);
        return 0;
    }
    if (file == NULL)
        return 0;
    char path[K8S_URL_MAX];
    if (resolve(base_dir, file, path, sizeof path) != 0)
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s %s: path too long", where, field);
    dm_err_t e;
    if (k8s_read_file(path, MAX_PEM_BYTES, b, &e) != 0)
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s %s: %s", where, field, e.msg);
    return 0;
}

static int load_cluster(const json_t *kc, const char *name, const char *base_dir, k8s_conn *c,
                        dm_err_t *err)
{
    char where[160];
    const json_t *cl = entry(kc, "cluster", name, where, sizeof where, err);
    if (cl == NULL)
        return DM_EINVAL;
    const char *server = json_string_value(json_object_get(cl, "server"));
    size_t n = server != NULL ? strlen(server) : 0;
    while (n > 0 && server[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof c->server ||
        (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0))
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s server must be an http(s):// URL", where);
    memcpy(c->server, server, n);
    c->server[n] = '\0';
    c->insecure = json_is_true(json_object_get(cl, "insecure-skip-tls-verify"));
    return load_pem(cl, "certificate-authority", where, base_dir, &c->ca, err);
}

static int load_user(const json_t *kc, const char *name, const char *base_dir, k8s_conn *c,
                     dm_err_t *err)
{
    char where[160];
    const json_t *u = entry(kc, "user", name, where, sizeof where, err);
    if (u == NULL)
        return DM_EINVAL;
    if (json_object_get(u, "exec") != NULL || json_object_get(u, "auth-provider") != NULL)
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s uses exec/auth-provider, which is not "
                                          "supported (use a token or a client certificate)", where);
    const char *token = json_string_value(json_object_get(u, "token"));
    const char *token_file = json_string_value(json_object_get(u, "tokenFile"));
    /* The token goes into a header line: a control byte in it could
     * smuggle another header. */
    for (const char *p = token; p != NULL && *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return dm_err_set(err, DM_EINVAL, "kubeconfig: %s token has a control character",
                              where);
    }
    if (token != NULL && (c->token = strdup(token)) == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (token == NULL && token_file != NULL &&
        resolve(base_dir, token_file, c->token_path, sizeof c->token_path) != 0)
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s tokenFile: path too long", where);
    int rc = load_pem(u, "client-certificate", where, base_dir, &c->client_cert, err);
    if (rc == 0)
        rc = load_pem(u, "client-key", where, base_dir, &c->client_key, err);
    if (rc == 0 && (c->client_cert.data == NULL) != (c->client_key.data == NULL))
        rc = dm_err_set(err, DM_EINVAL, "kubeconfig: %s needs both client-certificate and "
                                        "client-key (or neither)", where);
    if (rc == 0 && c->token == NULL && c->token_path[0] == '\0' && c->client_cert.data == NULL)
        rc = dm_err_set(err, DM_EINVAL, "kubeconfig: %s has no token, tokenFile or client "
                                        "certificate", where);
    return rc;
}

int k8s_kubeconfig_load(const json_t *kc, const char *context, const char *base_dir,
                        k8s_conn *c, dm_err_t *err)
{
    memset(c, 0, sizeof *c);
    if (!json_is_object(kc))
        return dm_err_set(err, DM_EINVAL, "kubeconfig: not a YAML mapping");
    const char *ctx_name = context != NULL && context[0] != '\0'
                               ? context
                               : json_string_value(json_object_get(kc, "current-context"));
    if (ctx_name == NULL || ctx_name[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "kubeconfig: no current-context; set config key "
                                          "context");
    char where[160];
    const json_t *ctx = entry(kc, "context", ctx_name, where, sizeof where, err);
    if (ctx == NULL)
        return DM_EINVAL;
    const char *cluster = json_string_value(json_object_get(ctx, "cluster"));
    const char *user = json_string_value(json_object_get(ctx, "user"));
    const char *ns = json_string_value(json_object_get(ctx, "namespace"));
    if (cluster == NULL || user == NULL)
        return dm_err_set(err, DM_EINVAL, "kubeconfig: %s needs cluster and user", where);
    if (ns != NULL && strlen(ns) < sizeof c->ns)
        memcpy(c->ns, ns, strlen(ns) + 1);
    int rc = load_cluster(kc, cluster, base_dir, c, err);
    if (rc == 0)
        rc = load_user(kc, user, base_dir, c, err);
    if (rc != 0)
        k8s_conn_free(c);
    return rc;
}

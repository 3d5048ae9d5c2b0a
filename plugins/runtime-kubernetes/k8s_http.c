/*
 * k8s_http.c — runtime-kubernetes's only transport: the host's HTTP client
 * (dm_host_t.http_request, libcurl underneath), with what a cluster needs
 * from it since ABI 1.5: the cluster's CA, a client certificate, the
 * operator's explicit "do not verify", and streaming for followed logs.
 * Every call has a connect timeout, an overall timeout (except a followed
 * log, which has TCP keepalive instead) and a cap on the answer size. The
 * bearer token goes only into the Authorization header, never into a
 * message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

#define MAX_ANSWER_BYTES (32u * 1024u * 1024u) /* pod lists of big clusters */
#define MAX_ERROR_BYTES (64u * 1024u)
#define CONNECT_TIMEOUT_MS 5000u
#define MAX_HEADERS 4

void k8s_resp_free(k8s_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request being put together: its URL, headers and the token line. */
typedef struct call {
    char             url[K8S_URL_MAX + 2048];
    char             auth[K8S_TOKEN_MAX + 16];
    dm_http_header_t hdrs[MAX_HEADERS];
    size_t           n_hdrs;
    dm_http_request_t req;
} call;

/* "Bearer …" into k->auth when the connection has a token; 0 or an error
 * (the token file unreadable). */
static int add_auth(k8s_state *st, call *k, dm_err_t *err)
{
    const char *token = st->conn.token;
    char buf[K8S_TOKEN_MAX];
    if (st->has_token_file) {
        uint64_t now_ms = st->host->clock_mono_ns() / 1000000u;
        int rc = k8s_token_file_get(&st->token_file, (int64_t)now_ms, buf, sizeof buf, err);
        if (rc != 0)
            return rc;
        token = buf;
    }
    if (token != NULL) {
        snprintf(k->auth, sizeof k->auth, "Bearer %s", token);
        k->hdrs[k->n_hdrs++] = (dm_http_header_t){ "Authorization", k->auth };
    }
    memset(buf, 0, sizeof buf);
    return 0;
}

/* Fill k for method path with the connection's TLS settings and auth. */
static int prepare(k8s_state *st, const char *method, const char *path, const char *content_type,
                   call *k, dm_err_t *err)
{
    memset(k, 0, sizeof *k);
    int n = snprintf(k->url, sizeof k->url, "%s%s", st->conn.server, path);
    if (n < 0 || (size_t)n >= sizeof k->url)
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: request path too long");
    int rc = add_auth(st, k, err);
    if (rc != 0)
        return rc;
    /* JSON for objects and Status answers; the log subresource answers
     * text/plain, which a bare application/json would not admit. */
    k->hdrs[k->n_hdrs++] = (dm_http_header_t){ "Accept", "application/json, */*" };
    if (content_type != NULL)
        k->hdrs[k->n_hdrs++] = (dm_http_header_t){ "Content-Type", content_type };
    dm_http_request_t *r = &k->req;
    r->size = sizeof *r;
    r->method = method;
    r->url = k->url;
    r->headers = k->hdrs;
    r->n_headers = k->n_hdrs;
    r->timeout_ms = (uint32_t)st->timeout_ms;
    r->connect_timeout_ms = CONNECT_TIMEOUT_MS;
    r->max_response_bytes = MAX_ANSWER_BYTES;
    r->ca_pem = st->conn.ca.data;
    r->ca_pem_len = st->conn.ca.len;
    r->client_cert_pem = st->conn.client_cert.data;
    r->client_cert_pem_len = st->conn.client_cert.len;
    r->client_key_pem = st->conn.client_key.data;
    r->client_key_pem_len = st->conn.client_key.len;
    r->flags = st->insecure ? DM_HTTP_INSECURE : 0u;
    return 0;
}

/* The error for a call that brought no answer, from the host's. */
static int transport_error(const k8s_state *st, int rc, const dm_err_t *host_err, dm_err_t *err)
{
    if (rc == DM_ETIMEDOUT)
        return dm_err_set(err, DM_ETIMEDOUT, "runtime-kubernetes: API server %.120s did not "
                                             "answer in time: %.100s", st->conn.server,
                          host_err->msg);
    if (rc == DM_EBUSY)
        return dm_err_set(err, DM_EIO, "runtime-kubernetes: API answer over %u bytes",
                          MAX_ANSWER_BYTES);
    if (rc == DM_ENOMEM || rc == DM_EINVAL)
        return dm_err_set(err, rc, "runtime-kubernetes: %.200s", host_err->msg);
    return dm_err_set(err, DM_EUNAVAIL, "runtime-kubernetes: API server %.120s unreachable: "
                                        "%.150s", st->conn.server, host_err->msg);
}

/* Run k; on an answer move its status and body into out. */
static int run(k8s_state *st, call *k, k8s_resp *out, dm_err_t *err)
{
    dm_http_response_t *resp = NULL;
    dm_err_t he = { 0, "" };
    int rc = st->host->http_request(st->ctx, &k->req, &resp, &he);
    memset(k->auth, 0, sizeof k->auth); /* the token copy is wiped once used */
    if (rc != 0)
        return transport_error(st, rc, &he, err);
    out->status = resp->status;
    out->len = resp->body_len;
    out->body = resp->body;
    resp->body = NULL;
    st->host->http_response_free(resp);
    if (out->body == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (out->len > 0)
        out->json = json_loadb(out->body, out->len, 0, NULL);
    return 0;
}

int k8s_call(k8s_state *st, const char *method, const char *path, const char *content_type,
             const char *body, k8s_resp *out, dm_err_t *err)
{
    k8s_resp_free(out);
    call *k = malloc(sizeof *k);
    if (k == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    int rc = prepare(st, method, path,
                     body != NULL ? (content_type != NULL ? content_type : "application/json")
                                  : NULL, k, err);
    if (rc == 0 && body != NULL) {
        k->req.body = body;
        k->req.body_len = strlen(body);
    }
    if (rc == 0)
        rc = run(st, k, out, err);
    memset(k->auth, 0, sizeof k->auth);
    free(k);
    return rc;
}

int k8s_stream(k8s_state *st, const char *path, bool follow,
               int (*on_data)(void *opaque, const char *data, size_t len),
               bool (*cancelled)(void *opaque), void *opaque, long *status, k8s_resp *errbody,
               dm_err_t *err)
{
    *status = 0;
    call *k = malloc(sizeof *k);
    if (k == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    int rc = prepare(st, "GET", path, NULL, k, err);
    k->req.on_data = on_data;
    k->req.cancelled = cancelled;
    k->req.stream_opaque = opaque;
    k->req.max_response_bytes = MAX_ERROR_BYTES; /* the body of an error answer */
    if (follow)
        k->req.flags |= DM_HTTP_NO_TIMEOUT;
    k8s_resp r = { 0 };
    if (rc == 0)
        rc = run(st, k, &r, err);
    memset(k->auth, 0, sizeof k->auth);
    free(k);
    if (rc != 0)
        return rc;
    *status = r.status;
    /* A 2xx body went to on_data; any other is the Status to report. */
    if (errbody != NULL && (r.status < 200 || r.status >= 300)) {
        k8s_resp_free(errbody);
        *errbody = r;
    } else {
        k8s_resp_free(&r);
    }
    return 0;
}

bool k8s_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (o + need >= cap)
            return false;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (cap == 0)
        return false;
    out[o] = '\0';
    return true;
}

/*
 * k8s_http.c — runtime-kubernetes's only transport: HTTPS to the API server
 * with libcurl. The host's client (dm_host_t.http_request) has no custom
 * CA, client certificate, TLS-verify switch or streaming, which a cluster
 * needs (its own CA, mTLS users, followed logs), so the plugin links
 * libcurl itself, as runtime-docker does; should the host gain those, this
 * file is the one to replace. Every call has a connect timeout, an overall
 * timeout (except a followed log) and a cap on the answer size. The bearer
 * token goes only into the Authorization header, never into a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "k8s.h"

#define MAX_ANSWER_BYTES (32u * 1024u * 1024u) /* pod lists of big clusters */
#define MAX_ERROR_BYTES (64u * 1024u)
#define CONNECT_TIMEOUT_MS 5000L

void k8s_resp_free(k8s_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

typedef struct sink {
    char  *buf;
    size_t len, cap, max;
    bool   too_big;
} sink;

static size_t collect(sink *s, const char *data, size_t add)
{
    if (s->len + add > s->max) {
        s->too_big = true;
        return 0;
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap == 0 ? 4096 : s->cap;
        while (cap < s->len + add + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (nb == NULL)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
    return collect(opaque, data, size * n);
}

/* "Authorization: Bearer …" appended to *hdrs when the connection has a
 * token; 0 or an error (the token file unreadable). */
static int auth_header(k8s_state *st, struct curl_slist **hdrs, dm_err_t *err)
{
    char line[K8S_TOKEN_MAX + 32];
    const char *token = st->conn.token;
    char buf[K8S_TOKEN_MAX];
    if (st->has_token_file) {
        uint64_t now_ms = st->host->clock_mono_ns() / 1000000u;
        int rc = k8s_token_file_get(&st->token_file, (int64_t)now_ms, buf, sizeof buf, err);
        if (rc != 0)
            return rc;
        token = buf;
    }
    if (token == NULL)
        return 0;
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    struct curl_slist *n = curl_slist_append(*hdrs, line);
    /* Both copies of the token on the stack are wiped once used. */
    memset(line, 0, sizeof line);
    memset(buf, 0, sizeof buf);
    if (n == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    *hdrs = n;
    return 0;
}

static void set_blob(CURL *c, CURLoption opt, const k8s_blob *b)
{
    struct curl_blob blob = { .data = b->data, .len = b->len, .flags = CURL_BLOB_COPY };
    curl_easy_setopt(c, opt, &blob);
}

/* A handle for path with TLS, auth and the common options; NULL + err. */
static CURL *handle(k8s_state *st, const char *method, const char *path,
                    struct curl_slist **hdrs, dm_err_t *err)
{
    char url[K8S_URL_MAX + 2048];
    int n = snprintf(url, sizeof url, "%s%s", st->conn.server, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        dm_err_set(err, DM_EINVAL, "runtime-kubernetes: request path too long");
        return NULL;
    }
    if (auth_header(st, hdrs, err) != 0)
        return NULL;
    /* JSON for objects and Status answers; the log subresource answers
     * text/plain, which a bare application/json would not admit. */
    struct curl_slist *a = curl_slist_append(*hdrs, "Accept: application/json, */*");
    CURL *c = a != NULL ? curl_easy_init() : NULL;
    if (a != NULL)
        *hdrs = a;
    if (c == NULL) {
        dm_err_set(err, DM_ENOMEM, "out of memory");
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    /* A followed log has no overall timeout: keepalive notices a peer that
     * vanished without closing (a node gone), which would otherwise hold
     * the stream open forever. */
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    if (st->conn.ca.data != NULL)
        set_blob(c, CURLOPT_CAINFO_BLOB, &st->conn.ca);
    else if (st->conn.ca_path[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, st->conn.ca_path);
    if (st->conn.client_cert.data != NULL) {
        set_blob(c, CURLOPT_SSLCERT_BLOB, &st->conn.client_cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(c, CURLOPT_SSLKEY_BLOB, &st->conn.client_key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (st->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c;
}

/* The error for a transfer that brought no answer. */
static int transport_error(const k8s_state *st, CURLcode cc, const char *errbuf, dm_err_t *err)
{
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return dm_err_set(err, DM_ETIMEDOUT, "runtime-kubernetes: API server %.120s did not "
                                             "answer in time: %.100s", st->conn.server, why);
    if (cc == CURLE_OUT_OF_MEMORY)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    return dm_err_set(err, DM_EUNAVAIL, "runtime-kubernetes: API server %.120s unreachable: "
                                        "%.100s", st->conn.server, why);
}

int k8s_call(k8s_state *st, const char *method, const char *path, const char *content_type,
             const char *body, k8s_resp *out, dm_err_t *err)
{
    k8s_resp_free(out);
    struct curl_slist *hdrs = NULL;
    if (body != NULL) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 content_type != NULL ? content_type : "application/json");
        if ((hdrs = curl_slist_append(NULL, ct)) == NULL)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    CURL *c = handle(st, method, path, &hdrs, err);
    if (c == NULL) {
        curl_slist_free_all(hdrs);
        return err != NULL && err->code != 0 ? err->code : DM_ENOMEM;
    }
    sink s = { .max = MAX_ANSWER_BYTES };
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, st->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    if (s.too_big)
        rc = dm_err_set(err, DM_EIO, "runtime-kubernetes: API answer over %u bytes",
                        MAX_ANSWER_BYTES);
    else if (cc != CURLE_OK)
        rc = transport_error(st, cc, errbuf, err);
    else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = s.buf != NULL ? s.buf : strdup("");
        s.buf = NULL;
        out->len = s.len;
        if (out->body == NULL)
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
        else if (out->len > 0)
            out->json = json_loadb(out->body, out->len, 0, NULL);
    }
    free(s.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

typedef struct stream_ctx {
    int (*on_data)(void *opaque, const char *data, size_t len);
    bool (*cancelled)(void *opaque);
    void *opaque;
    int   stop;
    bool  was_cancelled;
    long  status;
    CURL *c;
    sink  errbody;
} stream_ctx;

static size_t stream_write(char *data, size_t size, size_t n, void *opaque)
{
    stream_ctx *sc = opaque;
    size_t len = size * n;
    if (sc->status == 0)
        curl_easy_getinfo(sc->c, CURLINFO_RESPONSE_CODE, &sc->status);
    if (sc->status != 200) {
        /* An error answer: keep its Status object for the message. */
        collect(&sc->errbody, data, len);
        return len;
    }
    int rc = sc->on_data(sc->opaque, data, len);
    if (rc != 0) {
        sc->stop = rc;
        return 0;
    }
    return len;
}

/* libcurl calls this about once a second even while no byte arrives, so a
 * followed log notices a cancelled sink. */
static int stream_progress(void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                           curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    stream_ctx *sc = opaque;
    if (sc->cancelled != NULL && sc->cancelled(sc->opaque)) {
        sc->was_cancelled = true;
        return 1;
    }
    return 0;
}

int k8s_stream(k8s_state *st, const char *path, bool follow,
               int (*on_data)(void *opaque, const char *data, size_t len),
               bool (*cancelled)(void *opaque), void *opaque, long *status, k8s_resp *errbody,
               dm_err_t *err)
{
    *status = 0;
    struct curl_slist *hdrs = NULL;
    CURL *c = handle(st, "GET", path, &hdrs, err);
    if (c == NULL) {
        curl_slist_free_all(hdrs);
        return err != NULL && err->code != 0 ? err->code : DM_ENOMEM;
    }
    stream_ctx sc = { .on_data = on_data, .cancelled = cancelled, .opaque = opaque, .c = c,
                      .errbody = { .max = MAX_ERROR_BYTES } };
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, follow ? 0L : st->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sc);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sc);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sc.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    *status = sc.status;
    if (errbody != NULL && sc.errbody.buf != NULL) {
        k8s_resp_free(errbody);
        errbody->status = sc.status;
        errbody->json = json_loadb(sc.errbody.buf, sc.errbody.len, 0, NULL);
        errbody->body = sc.errbody.buf;
        errbody->len = sc.errbody.len;
    } else {
        free(sc.errbody.buf);
    }
    if (sc.was_cancelled || (cc == CURLE_WRITE_ERROR && sc.stop > 0))
        return 0;
    if (cc == CURLE_WRITE_ERROR && sc.stop == DM_ENOMEM)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (cc != CURLE_OK)
        return transport_error(st, cc, errbuf, err);
    return 0;
}

bool k8s_escape(const char *s, char *out, size_t cap)
{
    char *e = curl_easy_escape(NULL, s, 0);
    bool ok = e != NULL && strlen(e) < cap;
    if (ok)
        memcpy(out, e, strlen(e) + 1);
    curl_free(e);
    return ok;
}

/*
 * docker_http.c — runtime-docker's only transport: HTTP/1.1 to the engine
 * with libcurl, over its unix socket (CURLOPT_UNIX_SOCKET_PATH) or TCP.
 * The plugin links libcurl itself because the host's HTTP client
 * (dm_host_t.http_request) cannot reach a unix socket; should the host gain
 * that, this file is the one to replace. Every call has a connect timeout,
 * an overall timeout (except a followed log) and a cap on the answer size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "docker.h"

#define MAX_ANSWER_BYTES (16u * 1024u * 1024u) /* inventories of big hosts */
#define CONNECT_TIMEOUT_MS 3000L

void dk_resp_free(dk_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

typedef struct sink {
    char  *buf;
    size_t len, cap;
    bool   too_big;
} sink;

static size_t collect(char *data, size_t size, size_t n, void *opaque)
{
    sink *s = opaque;
    size_t add = size * n;
    if (s->len + add > MAX_ANSWER_BYTES) {
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

/* A handle for DK_API path with the common options; NULL when out of
 * memory or the URL is too long. */
static CURL *handle(const dk_state *st, const char *method, const char *path)
{
    char url[2048];
    int n = snprintf(url, sizeof url, "%s%s%s", st->base_url, DK_API, path);
    if (n < 0 || (size_t)n >= sizeof url)
        return NULL;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    if (st->socket_path[0] != '\0')
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, st->socket_path);
    return c;
}

/* The error for a transfer that brought no answer. */
static int transport_error(const dk_state *st, CURLcode cc, const char *errbuf, dm_err_t *err)
{
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return dm_err_set(err, DM_ETIMEDOUT, "runtime-docker: engine at %.120s did not answer "
                                             "in time: %.100s", st->host_url, why);
    if (cc == CURLE_OUT_OF_MEMORY)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    return dm_err_set(err, DM_EUNAVAIL, "runtime-docker: engine at %.120s unreachable: %.100s",
                      st->host_url, why);
}

int dk_call(const dk_state *st, const char *method, const char *path, const json_t *body,
            long timeout_ms, dk_resp *out, dm_err_t *err)
{
    dk_resp_free(out);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    CURL *c = (body == NULL || text != NULL) ? handle(st, method, path) : NULL;
    struct curl_slist *hdrs = NULL;
    if (c != NULL && text != NULL) {
        hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        if (hdrs == NULL) {
            curl_easy_cleanup(c);
            c = NULL;
        }
    }
    if (c == NULL) {
        free(text);
        return dm_err_set(err, DM_ENOMEM, "runtime-docker: cannot build the request");
    }
    sink s = { 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : st->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (text != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    if (s.too_big)
        rc = dm_err_set(err, DM_EIO, "runtime-docker: engine answer over %u bytes",
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
    free(text);
    return rc;
}

typedef struct stream_ctx {
    int (*on_data)(void *opaque, const char *data, size_t len);
    bool (*cancelled)(void *opaque);
    void *opaque;
    int   stop;      /* what on_data returned when it stopped us */
    bool  was_cancelled;
    long  status;
    CURL *c;
} stream_ctx;

static size_t stream_write(char *data, size_t size, size_t n, void *opaque)
{
    stream_ctx *sc = opaque;
    size_t len = size * n;
    if (sc->status == 0)
        curl_easy_getinfo(sc->c, CURLINFO_RESPONSE_CODE, &sc->status);
    if (sc->status != 200)
        return len; /* an error body: ignored, the status says it */
    int rc = sc->on_data(sc->opaque, data, len);
    if (rc != 0) {
        sc->stop = rc;
        return 0;
    }
    return len;
}

/* libcurl calls this about once a second even while no byte arrives, which
 * is what lets a followed log notice a cancelled sink. */
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

int dk_stream(const dk_state *st, const char *path, bool follow,
              int (*on_data)(void *opaque, const char *data, size_t len),
              bool (*cancelled)(void *opaque), void *opaque, long *status, dm_err_t *err)
{
    CURL *c = handle(st, "GET", path);
    if (c == NULL)
        return dm_err_set(err, DM_ENOMEM, "runtime-docker: cannot build the request");
    stream_ctx sc = { .on_data = on_data, .cancelled = cancelled, .opaque = opaque, .c = c };
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
    *status = sc.status;
    if (sc.was_cancelled || (cc == CURLE_WRITE_ERROR && sc.stop > 0))
        return 0;
    if (cc == CURLE_WRITE_ERROR && sc.stop == DM_ENOMEM)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (cc == CURLE_WRITE_ERROR && sc.stop < 0)
        return dm_err_set(err, DM_EIO, "runtime-docker: malformed stream from the engine");
    if (cc != CURLE_OK)
        return transport_error(st, cc, errbuf, err);
    return 0;
}

void dk_engine_message(const dk_resp *r, char *buf, size_t len)
{
    const char *m = json_string_value(json_object_get(r->json, "message"));
    if (m == NULL)
        m = r->body != NULL && r->body[0] != '\0' ? r->body : "(no message)";
    snprintf(buf, len, "%.160s", m);
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
}

char *dk_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e != NULL ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}

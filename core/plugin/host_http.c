/*
 * host_http.c — dm_host.http_request: a blocking HTTP(S) client on libcurl
 * for plugins. One easy handle per call (no shared state between threads,
 * so any worker may call it), http and https only, no redirects followed,
 * bodies capped. From ABI 1.5 also a CA bundle of the plugin's own, a TLS
 * client certificate, an explicit "do not verify", and streaming (a 2xx
 * body handed over chunk by chunk, cancellable, optionally without an
 * overall timeout). Also the process-wide libcurl init.
 */
#include "host_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "plugin/registry.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT_MS         30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_MAX_BODY           (8u * 1024u * 1024u)
#define MAX_RESPONSE_HEADERS       256

/* A mutex rather than pthread_once so that init works again after cleanup
 * (tests do both many times); the atomic keeps the per-request check cheap. */
static pthread_mutex_t curl_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool curl_inited;

/*
 * Initialise libcurl for the process. Call it from main before any thread
 * starts (curl_global_init is not thread-safe on every build); later calls,
 * from the loader and each HTTP request, return at once. 0 or DM_EIO.
 */
int dm__plugins_global_init(void)
{
    if (atomic_load(&curl_inited))
        return 0;
    pthread_mutex_lock(&curl_mu);
    if (!atomic_load(&curl_inited) && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        atomic_store(&curl_inited, true);
    pthread_mutex_unlock(&curl_mu);
    return atomic_load(&curl_inited) ? 0 : DM_EIO;
}

/* Undo dm__plugins_global_init at exit, after every plugin is freed and
 * every thread that could call http_request has stopped. */
void dm__plugins_global_cleanup(void)
{
    pthread_mutex_lock(&curl_mu);
    if (atomic_load(&curl_inited)) {
        curl_global_cleanup();
        atomic_store(&curl_inited, false);
    }
    pthread_mutex_unlock(&curl_mu);
}

typedef struct transfer {
    dm_buf            body;
    dm_http_header_t *headers; /* strings malloc'd, freed with the response */
    size_t            n_headers;
    int               fail;    /* why a callback stopped libcurl: DM_EBUSY, DM_ENOMEM, DM_EIO */
    /* streaming (req->on_data set) */
    const dm_http_request_t *req;
    CURL             *c;
    long              status;  /* known from the first body byte on */
    bool              stopped; /* on_data or cancelled ended it: a success */
} transfer;

static void free_headers(dm_http_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)h[i].name);
        free((char *)h[i].value);
    }
    free(h);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (t->req->on_data != NULL) {
        if (t->status == 0)
            curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &t->status);
        if (t->status >= 200 && t->status < 300) {
            if (t->req->on_data(t->req->stream_opaque, data, n) == 0)
                return n;
            t->stopped = true;
            return 0;
        }
    }
    /* A short count makes libcurl stop with CURLE_WRITE_ERROR; body.len
     * past the cap is how the caller tells "too big" from other errors. */
    int rc = dm__buf_append(&t->body, data, n);
    if (rc != 0) {
        t->fail = rc;
        return 0;
    }
    return n;
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return strndup(s, n);
}

/* libcurl hands every header line of every response (100 Continue, the
 * final one) here; a status line starts a new set. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        free_headers(t->headers, t->n_headers);
        t->headers = NULL;
        t->n_headers = 0;
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (colon == NULL)
        return n; /* the blank line ending the block */
    if (t->n_headers >= MAX_RESPONSE_HEADERS) {
        t->fail = DM_EIO;
        return 0;
    }
    dm_http_header_t *grown = realloc(t->headers, (t->n_headers + 1) * sizeof *grown);
    if (grown == NULL) {
        t->fail = DM_ENOMEM;
        return 0;
    }
    t->headers = grown;
    char *name = trimmed_dup(line, (size_t)(colon - line));
    char *value = trimmed_dup(colon + 1, n - (size_t)(colon - line) - 1);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        t->fail = DM_ENOMEM;
        return 0;
    }
    t->headers[t->n_headers].name = name;
    t->headers[t->n_headers].value = value;
    t->n_headers++;
    return n;
}

/* Called by libcurl about once a second during a streamed transfer, even
 * while no byte arrives, so a cancelled stream ends promptly. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    transfer *t = ud;
    if (t->req->cancelled != NULL && t->req->cancelled(t->req->stream_opaque)) {
        t->stopped = true;
        return 1;
    }
    return 0;
}

static bool is_token(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return false;
    }
    return true;
}

/* Validate what the plugin handed us; header text goes on the wire as is,
 * so CR and LF would let a plugin (or its input) inject headers. */
static int check_request(const dm_http_request_t *r, dm_err_t *err)
{
    if (!is_token(r->method))
        return dm_err_set(err, DM_EINVAL, "http_request: invalid method");
    if (r->url == NULL || r->url[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "http_request: url is required");
    if (r->body == NULL && r->body_len > 0)
        return dm_err_set(err, DM_EINVAL, "http_request: body_len without body");
    if (r->headers == NULL && r->n_headers > 0)
        return dm_err_set(err, DM_EINVAL, "http_request: n_headers without headers");
    if ((r->ca_pem == NULL) != (r->ca_pem_len == 0))
        return dm_err_set(err, DM_EINVAL, "http_request: ca_pem and ca_pem_len go together");
    if ((r->client_cert_pem == NULL) != (r->client_cert_pem_len == 0) ||
        (r->client_key_pem == NULL) != (r->client_key_pem_len == 0) ||
        (r->client_cert_pem == NULL) != (r->client_key_pem == NULL))
        return dm_err_set(err, DM_EINVAL, "http_request: a client certificate needs its key "
                                          "(both PEM, with their lengths)");
    if ((r->flags & ~(uint32_t)(DM_HTTP_INSECURE | DM_HTTP_NO_TIMEOUT)) != 0)
        return dm_err_set(err, DM_EINVAL, "http_request: unknown flags 0x%x", r->flags);
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *v = r->headers[i].value;
        if (!is_token(r->headers[i].name))
            return dm_err_set(err, DM_EINVAL, "http_request: header %zu has an invalid name", i);
        if (v == NULL || strpbrk(v, "\r\n") != NULL)
            return dm_err_set(err, DM_EINVAL, "http_request: header '%s' has an invalid value",
                              r->headers[i].name);
    }
    return 0;
}

/* The request's headers as a curl list; NULL with *ok false on failure. */
static struct curl_slist *build_headers(const dm_http_request_t *r, bool *ok)
{
    /* Never wait for "100 Continue": gateways seldom send it. */
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    *ok = list != NULL;
    for (size_t i = 0; *ok && i < r->n_headers; i++) {
        const dm_http_header_t *h = &r->headers[i];
        size_t n = strlen(h->name) + strlen(h->value) + 3;
        char *line = malloc(n);
        struct curl_slist *next = NULL;
        if (line != NULL) {
            snprintf(line, n, "%s: %s", h->name, h->value);
            next = curl_slist_append(list, line);
            free(line);
        }
        if (next == NULL)
            *ok = false;
        else
            list = next;
    }
    if (!*ok) {
        curl_slist_free_all(list);
        list = NULL;
    }
    return list;
}

static void set_method(CURL *c, const dm_http_request_t *r)
{
    bool has_body = r->body != NULL || strcmp(r->method, "POST") == 0 ||
                    strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0;
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body != NULL ? (const char *)r->body : "");
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

static void set_blob(CURL *c, CURLoption opt, const void *data, size_t len)
{
    struct curl_blob blob = { .data = (void *)data, .len = len, .flags = CURL_BLOB_COPY };
    curl_easy_setopt(c, opt, &blob);
}

/* ABI 1.5: the plugin's CA, client certificate and verification choice. */
static void set_tls(CURL *c, const dm_http_request_t *r)
{
    if (r->ca_pem != NULL)
        set_blob(c, CURLOPT_CAINFO_BLOB, r->ca_pem, r->ca_pem_len);
    if (r->client_cert_pem != NULL) {
        set_blob(c, CURLOPT_SSLCERT_BLOB, r->client_cert_pem, r->client_cert_pem_len);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(c, CURLOPT_SSLKEY_BLOB, r->client_key_pem, r->client_key_pem_len);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (r->flags & DM_HTTP_INSECURE) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static void set_options(CURL *c, const dm_http_request_t *r, transfer *t,
                        struct curl_slist *hdrs, char *errbuf, const char *ua)
{
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* Worker threads: no SIGALRM-based DNS timeouts. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (r->flags & DM_HTTP_NO_TIMEOUT) {
        /* No overall timeout: keepalive notices a peer that vanished
         * without closing, which would otherwise hold the stream forever. */
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                         (long)(r->timeout_ms != 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS));
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->connect_timeout_ms != 0 ? r->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (r->on_data != NULL && r->cancelled != NULL) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    set_tls(c, r);
    set_method(c, r);
}

static int map_curl_error(CURLcode cc, const transfer *t, size_t max, const char *errbuf,
                          dm_err_t *err)
{
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return dm_err_set(err, DM_ETIMEDOUT, "http_request: timed out (%s)", errbuf);
    if (t->fail == DM_EBUSY)
        return dm_err_set(err, DM_EBUSY, "http_request: response body larger than %zu bytes", max);
    if (t->fail == DM_EIO)
        return dm_err_set(err, DM_EIO, "http_request: more than %d response headers",
                          MAX_RESPONSE_HEADERS);
    if (t->fail == DM_ENOMEM || cc == CURLE_OUT_OF_MEMORY)
        return dm_err_set(err, DM_ENOMEM, "http_request: out of memory");
    if (cc == CURLE_UNSUPPORTED_PROTOCOL)
        return dm_err_set(err, DM_EINVAL, "http_request: only http and https URLs are allowed");
    return dm_err_set(err, DM_EIO, "http_request: %s%s%s", curl_easy_strerror(cc),
                      errbuf[0] != '\0' ? ": " : "", errbuf);
}

/* Move the transfer's results into a new response. */
static dm_http_response_t *make_response(CURL *c, transfer *t)
{
    dm_http_response_t *resp = calloc(1, sizeof *resp);
    if (resp == NULL)
        return NULL;
    if (t->body.data == NULL && dm__buf_append(&t->body, "", 0) != 0) {
        free(resp);
        return NULL;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = dm__buf_steal(&t->body, &resp->body_len);
    resp->headers = t->headers;
    resp->n_headers = t->n_headers;
    t->headers = NULL;
    t->n_headers = 0;
    return resp;
}

/* Copy at most sizeof(dm_http_request_t) of what the plugin declared into a
 * zeroed struct, so an older (shorter) request reads as defaults. */
static int copy_request(const dm_http_request_t *in, dm_http_request_t *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (in == NULL || in->size < DM_HTTP_REQUEST_SIZE_1_0)
        return dm_err_set(err, DM_EINVAL, "http_request: request NULL or its size field not set");
    memcpy(out, in, in->size < sizeof *out ? in->size : sizeof *out);
    return 0;
}

/* Run one transfer on handle c; on success *resp is new. */
static int perform(CURL *c, const dm_http_request_t *r, struct curl_slist *hdrs,
                   const char *name, dm_http_response_t **resp, dm_err_t *err)
{
    size_t max = r->max_response_bytes != 0 ? r->max_response_bytes : DEFAULT_MAX_BODY;
    transfer t = { .req = r, .c = c };
    dm__buf_init(&t.body, max);
    char errbuf[CURL_ERROR_SIZE] = "";
    char ua[128];
    snprintf(ua, sizeof ua, "dermaga/%s (plugin %s)", DM_VERSION, name);
    set_options(c, r, &t, hdrs, errbuf, ua);

    int rc = 0;
    uint64_t t0 = dm__clock_mono_ns();
    CURLcode cc = curl_easy_perform(c);
    /* A stream its plugin stopped (on_data or cancelled) ended as asked. */
    if (t.stopped && (cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK))
        cc = CURLE_OK;
    if (cc != CURLE_OK)
        rc = map_curl_error(cc, &t, max, errbuf, err);
    else if ((*resp = make_response(c, &t)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "http_request: out of memory");
    else
        dm__log(DM_LOG_DEBUG, "plugin", "%s: http %s -> %ld in %llu ms", name, r->method,
                (*resp)->status, (unsigned long long)((dm__clock_mono_ns() - t0) / 1000000u));
    free_headers(t.headers, t.n_headers);
    dm__buf_free(&t.body);
    return rc;
}

int dm__host_http_request(dm_plugin_ctx_t *ctx, const dm_http_request_t *req,
                          dm_http_response_t **resp, dm_err_t *err)
{
    if (resp == NULL)
        return dm_err_set(err, DM_EINVAL, "http_request: resp is NULL");
    *resp = NULL;
    const char *name = dm__plugin_ctx_name(ctx);
    if (name == NULL)
        return dm_err_set(err, DM_EINVAL, "http_request: invalid plugin ctx");
    dm_http_request_t r;
    int rc = copy_request(req, &r, err);
    if (rc == 0)
        rc = check_request(&r, err);
    if (rc != 0)
        return rc;
    if (dm__plugins_global_init() != 0)
        return dm_err_set(err, DM_EIO, "http_request: libcurl failed to initialise");

    bool hdrs_ok;
    struct curl_slist *hdrs = build_headers(&r, &hdrs_ok);
    if (!hdrs_ok)
        return dm_err_set(err, DM_ENOMEM, "http_request: out of memory");
    CURL *c = curl_easy_init();
    if (c == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "http_request: curl_easy_init failed");
    else
        rc = perform(c, &r, hdrs, name, resp, err);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return rc;
}

void dm__host_http_response_free(dm_http_response_t *resp)
{
    if (resp == NULL)
        return;
    free_headers(resp->headers, resp->n_headers);
    free(resp->body);
    free(resp);
}

/*
 * docker_api.c — the test client of docker_api.h: one libcurl easy handle
 * per request (tests make few), the unix socket through
 * CURLOPT_UNIX_SOCKET_PATH, proxies always off (the engine and the
 * containers' ports are on this machine), bodies collected into memory.
 */
#include "docker_api.h"

#include "dm_test.h"

#include <dermaga/error.h>

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_MAX_LEN 1024

/* ---- host ------------------------------------------------------------- */

static int copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n == 0 || n >= cap)
        return DM_EINVAL;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int dm_docker_host_parse(const char *host, dm_docker_host *h)
{
    memset(h, 0, sizeof *h);
    if (host == NULL)
        return DM_EINVAL;
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    if (strncmp(host, "unix://", 7) == 0) {
        const char *p = host + 7;
        if (*p != '/')
            return DM_EINVAL; /* only absolute socket paths */
        static const char base[] = "http://docker";
        memcpy(h->base_url, base, sizeof base);
        return copy_str(h->socket_path, sizeof h->socket_path, p, (size_t)(host + n - p));
    }
    const char *rest = NULL;
    if (strncmp(host, "tcp://", 6) == 0)
        rest = host + 6;
    else if (strncmp(host, "http://", 7) == 0)
        rest = host + 7;
    if (rest == NULL || rest >= host + n)
        return DM_EINVAL;
    int len = snprintf(h->base_url, sizeof h->base_url, "http://%.*s", (int)(host + n - rest), rest);
    if (len < 0 || (size_t)len >= sizeof h->base_url) {
        h->base_url[0] = '\0';
        return DM_EINVAL;
    }
    return 0;
}

const char *dm_docker_test_host(void)
{
    const char *v = getenv(DM_DOCKER_TEST_HOST_ENV);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* ---- responses -------------------------------------------------------- */

/* Say in out->error why no response arrived; a long message is cut. */
static void set_error(dm_docker_resp *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(dm_docker_resp *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
}

void dm_docker_resp_free(dm_docker_resp *r)
{
    if (r == NULL)
        return;
    free(r->body);
    if (r->json != NULL)
        json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Reset out to an empty response with a valid empty body. */
static int resp_reset(dm_docker_resp *out)
{
    dm_docker_resp_free(out);
    out->body = calloc(1, 1);
    return out->body != NULL ? 0 : DM_ENOMEM;
}

typedef struct sink {
    dm_docker_resp *r;
    bool            oom;
} sink;

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    sink *s = userp;
    size_t n = size * nmemb;
    char *grown = realloc(s->r->body, s->r->len + n + 1);
    if (grown == NULL) {
        s->oom = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    memcpy(grown + s->r->len, data, n);
    s->r->len += n;
    grown[s->r->len] = '\0';
    s->r->body = grown;
    return n;
}

/* ---- requests --------------------------------------------------------- */

/* Apply method and body: POST gets an explicit (maybe empty) body so that
 * Content-Length is sent, as the engine expects. */
static int set_method(CURL *c, const char *method, const char *payload)
{
    if (strcmp(method, "GET") == 0 && payload == NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        return 0;
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (payload != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        const char *p = payload != NULL ? payload : "";
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(p));
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, p);
    }
    return 0;
}

/* One exchange: url over socket_path (NULL: TCP). Fills out; see header. */
static int perform(const char *socket_path, const char *url, const char *method,
                   const char *payload, long timeout_ms, dm_docker_resp *out)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        set_error(out, "curl_easy_init failed");
        return DM_ENOMEM;
    }
    struct curl_slist *hdrs = NULL;
    struct curl_slist *tmp = curl_slist_append(NULL, "Content-Type: application/json");
    if (tmp == NULL) {
        curl_easy_cleanup(c);
        return DM_ENOMEM;
    }
    hdrs = tmp;
    char errbuf[CURL_ERROR_SIZE] = "";
    sink s = { .r = out, .oom = false };
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (socket_path != NULL)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* ignore http_proxy and friends */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    set_method(c, method, payload);

    CURLcode cr = curl_easy_perform(c);
    int rc = 0;
    if (s.oom) {
        rc = DM_ENOMEM;
        set_error(out, "out of memory reading the response");
    } else if (cr != CURLE_OK) {
        rc = cr == CURLE_OPERATION_TIMEDOUT ? DM_ETIMEDOUT : DM_EIO;
        set_error(out, "%s %s: %s", method, url,
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        if (out->len > 0)
            out->json = json_loadb(out->body, out->len, JSON_DECODE_ANY, NULL);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

int dm_docker_request(const dm_docker_host *h, const char *method, const char *path,
                      const json_t *body, long timeout_ms, dm_docker_resp *out)
{
    int rc = resp_reset(out);
    if (rc != 0)
        return rc;
    if (path == NULL || path[0] != '/' || strlen(path) >= PATH_MAX_LEN) {
        set_error(out, "bad request path");
        return DM_EINVAL;
    }
    char url[PATH_MAX_LEN + sizeof h->base_url];
    snprintf(url, sizeof url, "%s%s", h->base_url, path);
    char *payload = NULL;
    if (body != NULL && (payload = json_dumps(body, JSON_COMPACT)) == NULL) {
        set_error(out, "cannot encode the request body");
        return DM_ENOMEM;
    }
    rc = perform(h->socket_path[0] != '\0' ? h->socket_path : NULL, url, method, payload,
                 timeout_ms, out);
    free(payload);
    return rc;
}

int dm_docker_requestf(const dm_docker_host *h, const char *method, const json_t *body,
                       long timeout_ms, dm_docker_resp *out, const char *fmt, ...)
{
    char path[PATH_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof path) {
        int rc = resp_reset(out);
        set_error(out, "request path too long");
        return rc != 0 ? rc : DM_EINVAL;
    }
    return dm_docker_request(h, method, path, body, timeout_ms, out);
}

int dm_docker_http_get(const char *url, long timeout_ms, dm_docker_resp *out)
{
    int rc = resp_reset(out);
    if (rc != 0)
        return rc;
    return perform(NULL, url, "GET", NULL, timeout_ms, out);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool dm_docker_wait_http(const char *url, const char *needle, int timeout_ms,
                         dm_docker_resp *last)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        long per_try = left < 2000 ? (long)(left > 0 ? left : 1) : 2000L;
        if (dm_docker_http_get(url, per_try, last) == 0 && last->status == 200
            && (needle == NULL || strstr(last->body, needle) != NULL))
            return true;
        if (now_ms() + 50 >= deadline)
            return false;
        struct timespec pause = { .tv_sec = 0, .tv_nsec = 50 * 1000000L };
        nanosleep(&pause, NULL);
    }
}

/* ---- clean-up ---------------------------------------------------------- */

int dm_docker_list_labelled(const dm_docker_host *h, const char *label, dm_docker_resp *out)
{
    json_t *filters = json_pack("{s:[s]}", "label", label);
    char *enc_src = filters != NULL ? json_dumps(filters, JSON_COMPACT) : NULL;
    json_decref(filters);
    char *enc = enc_src != NULL ? curl_easy_escape(NULL, enc_src, 0) : NULL;
    free(enc_src);
    if (enc == NULL)
        return DM_ENOMEM;
    int rc = dm_docker_requestf(h, "GET", NULL, 10000, out, "/" DM_DOCKER_API "/containers/json?all=1&filters=%s",
                                enc);
    curl_free(enc);
    if (rc == 0 && (out->status != 200 || !json_is_array(out->json)))
        rc = DM_EIO;
    return rc;
}

int dm_docker_remove_labelled(const dm_docker_host *h, const char *label)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_list_labelled(h, label, &r);
    int removed = 0;
    size_t i;
    json_t *item;
    if (rc == 0) {
        json_array_foreach(r.json, i, item) {
            const char *id = json_string_value(json_object_get(item, "Id"));
            if (id == NULL)
                continue;
            dm_docker_resp d = { 0 };
            if (dm_docker_requestf(h, "DELETE", NULL, 30000, &d,
                                   "/" DM_DOCKER_API "/containers/%s?force=1&v=1", id) == 0
                && d.status == 204)
                removed++;
            dm_docker_resp_free(&d);
        }
    }
    dm_docker_resp_free(&r);
    return rc != 0 ? rc : removed;
}

void dm_docker_test_engine_off(const char *suite)
{
    const char *off = getenv("DERMAGA_TEST_PODMAN");
    ck_assert_msg(off != NULL && strcmp(off, "0") == 0,
                  "%s is not set; scripts/test.sh starts a private Podman and sets it, or set "
                  "DERMAGA_TEST_PODMAN=0 to skip the engine tests",
                  DM_DOCKER_TEST_HOST_ENV);
    fprintf(stderr, "%s: SKIPPED engine tests: DERMAGA_TEST_PODMAN=0\n", suite);
}

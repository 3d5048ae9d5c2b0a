/*
 * docker_api.h — a small Docker Engine API client for tests: HTTP/1.1 over
 * the engine's unix socket (or TCP) with libcurl, JSON bodies in and out, a
 * plain HTTP GET with a bounded poll for what a container serves, and a
 * clean-up of labelled containers. The engine in tests is the private Podman
 * that scripts/test.sh starts (scripts/podman.sh, docs/containers.md).
 */
#ifndef DM_DOCKER_API_H
#define DM_DOCKER_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The API version every path is written against: "/" DM_DOCKER_API "/…". */
#define DM_DOCKER_API "v1.41"

/* The engine's address (unix:///…/podman.sock), set by scripts/test.sh. */
#define DM_DOCKER_TEST_HOST_ENV "DERMAGA_TEST_DOCKER_HOST"

/* The image scripts/podman.sh builds from scripts/images/static-site:
 * BusyBox httpd serving a page that contains the marker, on this port. */
#define DM_DOCKER_TEST_STATIC_SITE_IMAGE  "localhost/dermaga/static-site:test"
#define DM_DOCKER_TEST_STATIC_SITE_MARKER "dermaga-static-site-ok"
#define DM_DOCKER_TEST_STATIC_SITE_PORT   8080

/* Where an engine is: a unix socket, or a TCP base URL. */
typedef struct dm_docker_host {
    char socket_path[108]; /* the unix socket; "" for TCP */
    char base_url[160];    /* "http://docker" for a socket, else http://HOST:PORT */
} dm_docker_host;

/* One response: start it zeroed ({ 0 }) and reuse it freely; each call frees
 * what it held. After any dm_docker_* call that takes it, body is a
 * NUL-terminated string (empty when nothing arrived) until
 * dm_docker_resp_free; json is the body parsed when it is JSON, else NULL. */
typedef struct dm_docker_resp {
    long    status;      /* HTTP status; 0 when no response arrived */
    char   *body;
    size_t  len;
    json_t *json;
    char    error[256];  /* why no response arrived (libcurl's message) */
} dm_docker_resp;

/*
 * Parse a Docker host URL into h: "unix:///abs/path.sock", "tcp://HOST:PORT"
 * or "http://HOST:PORT" (a trailing slash is dropped). Borrows host.
 * Returns 0, or DM_EINVAL for anything else (a relative socket path, a path
 * longer than a unix socket allows, an empty string).
 */
int dm_docker_host_parse(const char *host, dm_docker_host *h);

/* $DERMAGA_TEST_DOCKER_HOST, or NULL when unset or empty (borrowed). */
const char *dm_docker_test_host(void);

/* The body of a suite's stand-in test when there is no engine: passes
 * only when the engine was turned off on purpose (DERMAGA_TEST_PODMAN=0),
 * saying so on stderr for suite; fails the test otherwise. */
void dm_docker_test_engine_off(const char *suite);

/*
 * Send `method path` to the engine (path starts with "/", e.g.
 * "/" DM_DOCKER_API "/containers/json?all=1"), with body (borrowed, may be
 * NULL) as application/json, and wait at most timeout_ms for the whole
 * exchange. out is reset first and always filled (see dm_docker_resp).
 * Returns 0 when a response arrived, whatever its status; DM_EIO (or
 * DM_ETIMEDOUT) when none did, with out->error saying why; DM_ENOMEM.
 */
int dm_docker_request(const dm_docker_host *h, const char *method, const char *path,
                      const json_t *body, long timeout_ms, dm_docker_resp *out);

/* dm_docker_request with the path made by printf from fmt (which must
 * produce a path under 1 KiB; DM_EINVAL otherwise). */
int dm_docker_requestf(const dm_docker_host *h, const char *method, const json_t *body,
                       long timeout_ms, dm_docker_resp *out, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Plain HTTP GET of url over TCP (no proxy), at most timeout_ms. Same
 * contract as dm_docker_request.
 */
int dm_docker_http_get(const char *url, long timeout_ms, dm_docker_resp *out);

/*
 * GET url again and again (every 50 ms) until it answers 200 with a body
 * containing needle (NULL: any body), for at most timeout_ms. Returns true
 * when it did; last holds the final attempt's response either way.
 */
bool dm_docker_wait_http(const char *url, const char *needle, int timeout_ms,
                         dm_docker_resp *last);

/* Free what out holds and reset it to empty; idempotent. */
void dm_docker_resp_free(dm_docker_resp *r);

/*
 * Every container, running or not, carrying the label filter `label` ("key"
 * or "key=value"): out->json is the engine's array. 0; DM_EIO when the
 * engine did not answer 200 with an array; DM_ENOMEM.
 */
int dm_docker_list_labelled(const dm_docker_host *h, const char *label, dm_docker_resp *out);

/*
 * Force-remove (with volumes) every container, running or not, that carries
 * the label filter `label` ("key" or "key=value"). Borrows both. Returns how
 * many were removed, or a negative DM_E* code when listing failed.
 */
int dm_docker_remove_labelled(const dm_docker_host *h, const char *label);

#endif

/*
 * dermaga/host.h — the dm_host table: everything the core offers a plugin
 * (logging, its own configuration, an HTTP client, clocks, randomness).
 * Plugins never call core symbols; they call through this table, which
 * only ever grows at the end. See the ABI changelog in dermaga/plugin.h.
 */
#ifndef DERMAGA_HOST_H
#define DERMAGA_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <jansson.h>

#include <dermaga/error.h>

#if defined(__GNUC__)
#define DM_SDK_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define DM_SDK_PRINTF(fmt_idx, arg_idx)
#endif

/*
 * The host's handle for one loaded plugin. Opaque; owned by the host; valid
 * from the call to init until fini returns. A plugin keeps it (usually in
 * its state) and passes it back to the host functions that need to know
 * which plugin is calling (logging, config, HTTP).
 */
typedef struct dm_plugin_ctx dm_plugin_ctx_t;

/* Log levels for dm_host.log (the core maps them onto its own). */
typedef enum dm_host_log_level {
    DM_HOST_LOG_DEBUG = 0,
    DM_HOST_LOG_INFO  = 1,
    DM_HOST_LOG_WARN  = 2,
    DM_HOST_LOG_ERROR = 3
} dm_host_log_level_t;

/* One HTTP header. In a request both strings are the plugin's (borrowed by
 * the host during the call); in a response both belong to the response. */
typedef struct dm_http_header {
    const char *name;
    const char *value;
} dm_http_header_t;

/*
 * An outgoing HTTP request. The plugin allocates it (usually on its stack)
 * and must set `size = sizeof(dm_http_request_t)`: the host reads only the
 * fields that size covers, so the struct can grow at the end. Every pointer
 * is borrowed by the host for the duration of the call.
 */
typedef struct dm_http_request {
    size_t                  size;         /* sizeof(dm_http_request_t) */
    const char             *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char             *url;          /* http:// or https:// only */
    const dm_http_header_t *headers;      /* may be NULL; no CR or LF in names or values */
    size_t                  n_headers;
    const void             *body;         /* may be NULL */
    size_t                  body_len;
    uint32_t                timeout_ms;   /* whole transfer; 0 = 30000 */
    uint32_t                connect_timeout_ms; /* 0 = 10000 */
    size_t                  max_response_bytes; /* body cap; 0 = 8 MiB */

    /* --- ABI 1.5: what an API server with its own CA needs --- */
    /* TLS: trust only this PEM bundle instead of the system's store (a
     * cluster's CA); NULL = the system's. */
    const void *ca_pem;
    size_t      ca_pem_len;
    /* TLS client certificate and its key, both PEM (mTLS users); both or
     * neither. */
    const void *client_cert_pem;
    size_t      client_cert_pem_len;
    const void *client_key_pem;
    size_t      client_key_pem_len;
    uint32_t    flags; /* DM_HTTP_* below */
    /* Streaming: when on_data is set, the body of a 2xx answer goes to it in
     * chunks as they arrive (a followed log) and resp->body stays empty; any
     * other answer's body is collected into resp->body as usual (its error
     * message). on_data returns non-zero to stop: the call then returns 0.
     * cancelled (may be NULL) is polled about once a second, even while no
     * byte arrives; true stops the transfer and the call returns 0. Both get
     * stream_opaque and run on the calling thread. */
    int  (*on_data)(void *opaque, const char *data, size_t len);
    bool (*cancelled)(void *opaque);
    void *stream_opaque;
} dm_http_request_t;

#define DM_HTTP_REQUEST_SIZE_1_0 (offsetof(dm_http_request_t, max_response_bytes) + sizeof(size_t))

/* dm_http_request_t.flags (ABI 1.5) */
#define DM_HTTP_INSECURE   0x1u /* do not verify the server's certificate (an
                                   operator's explicit choice; log it) */
#define DM_HTTP_NO_TIMEOUT 0x2u /* no overall timeout (a stream that may run for
                                   days); TCP keepalive notices a vanished peer */

/*
 * A response, allocated by the host and owned by the plugin until it hands
 * it back to dm_host.http_response_free. Redirects are not followed: a 3xx
 * arrives here as it is. Header names keep the case the server sent.
 */
typedef struct dm_http_response {
    long              status;     /* e.g. 200 */
    dm_http_header_t *headers;    /* n_headers entries, in arrival order */
    size_t            n_headers;
    char             *body;       /* body_len bytes plus a NUL (never NULL) */
    size_t            body_len;
} dm_http_response_t;

/* The first header named `name` (case-insensitive), or NULL. Borrowed from
 * resp. A static inline, so it is not part of the ABI. */
static inline const char *dm_http_response_header(const dm_http_response_t *resp, const char *name)
{
    for (size_t i = 0; resp != NULL && i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

/* ---- encoding and crypto (ABI 1.5) ----------------------------------------
 * One buffer contract for base64_encode, base64_decode, digest and hmac:
 * the caller gives an out buffer of out_len bytes (out may be NULL when
 * out_len is 0, to ask for the size). The return value is the size the
 * result needs, or a negative DM_E* code. The result is written only when
 * it fits whole: nothing is ever written past out_len, and a result that
 * does not fit leaves out untouched (base64_encode then writes "" when
 * out_len > 0). So `n < 0` is an error, `n > room` means "too small, ask
 * again with n", anything else is the length of what was written. */

/* dm_host.base64_encode / base64_decode flags (RFC 4648) */
#define DM_BASE64_URL   0x1u /* the URL and filename alphabet ('-', '_'), section 5 */
#define DM_BASE64_NOPAD 0x2u /* encode without '=' padding (decode takes either) */

/* Bytes of base64 text (without a NUL) for n bytes of data. */
#define DM_BASE64_ENCODED_LEN(n, flags) \
    (((flags) & DM_BASE64_NOPAD) ? ((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1) : (((n) + 2) / 3) * 4)
/* At most this many bytes come from n bytes of base64 text. */
#define DM_BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* dm_host.digest / hmac algorithms, and their output sizes */
#define DM_HOST_SHA256 1u
#define DM_HOST_SHA512 2u
#define DM_HOST_SHA256_LEN 32
#define DM_HOST_SHA512_LEN 64

/* A piece of the input of digest and hmac: they hash the concatenation of
 * the pieces, so a secret never has to be copied next to the message. */
typedef struct dm_host_bytes {
    const void *data; /* may be NULL when len is 0 */
    size_t      len;
} dm_host_bytes_t;

/*
 * The host table. The pointer a plugin receives in init stays valid until
 * its fini returns, and every function in it may be called from any thread
 * (plugin ops run on worker threads). `size` comes first and is frozen;
 * fields are only ever appended (check DM_HOST_HAS before using a field added
 * after the ABI minor you require).
 */
typedef struct dm_host {
    size_t   size;       /* sizeof(dm_host_t) as the host was built */
    uint16_t abi_major;  /* the host's DM_PLUGIN_ABI_MAJOR */
    uint16_t abi_minor;  /* the host's DM_PLUGIN_ABI_MINOR */

    /* Write one log line attributed to this plugin ("src":"plugin",
     * "plugin":<name>). Never put secrets in it. Thread-safe. */
    void (*log)(dm_plugin_ctx_t *ctx, int level, const char *fmt, ...) DM_SDK_PRINTF(3, 4);

    /* This plugin's configuration: a JSON object already validated against
     * the plugin's config_keys table, with defaults filled in. Borrowed:
     * valid until fini returns; do not modify it. */
    json_t *(*config)(dm_plugin_ctx_t *ctx);

    /* Blocking HTTP(S) request on libcurl; safe from any worker thread.
     * On success returns 0 and *resp is new (free it with
     * http_response_free), whatever the HTTP status. Errors: DM_EINVAL (bad
     * request fields), DM_ETIMEDOUT, DM_EBUSY (body over the cap), DM_EIO
     * (DNS, connect, TLS, protocol), DM_ENOMEM; *resp is then NULL. */
    int (*http_request)(dm_plugin_ctx_t *ctx, const dm_http_request_t *req,
                        dm_http_response_t **resp, dm_err_t *err);
    /* Free a response from http_request; NULL is fine. */
    void (*http_response_free)(dm_http_response_t *resp);

    /* Wall clock in milliseconds since the Unix epoch (for timestamps). */
    int64_t (*clock_wall_ms)(void);
    /* Monotonic clock in nanoseconds (for durations and timeouts). */
    uint64_t (*clock_mono_ns)(void);
    /* Fill buf with n bytes from the kernel CSPRNG: 0 or DM_EIO. */
    int (*random_bytes)(void *buf, size_t n);

    /* --- ABI 1.5: encoding and crypto (OpenSSL underneath; see the buffer
     * contract above). All are pure functions, safe from any thread. --- */

    /* Base64 of in_len bytes (flags: DM_BASE64_URL, DM_BASE64_NOPAD) as
     * text plus a NUL: needs the returned length + 1 bytes. DM_EINVAL:
     * unknown flags, in NULL with in_len > 0, input too large. */
    int64_t (*base64_encode)(uint32_t flags, const void *in, size_t in_len, char *out, size_t out_len);
    /* Decode in_len bytes of base64 text (flags: DM_BASE64_URL picks the
     * alphabet; padding may be present, then it must be exact). Strict:
     * DM_EINVAL for any byte outside the alphabet (whitespace included),
     * a misplaced or wrong '=', an impossible length, or unused low bits
     * that are not zero (one spelling per byte string). */
    int64_t (*base64_decode)(uint32_t flags, const char *in, size_t in_len, void *out, size_t out_len);
    /* SHA-256 or SHA-512 (alg DM_HOST_SHA256 / DM_HOST_SHA512) of the
     * concatenation of n_parts parts: needs DM_HOST_SHA<n>_LEN bytes.
     * DM_EINVAL: unknown alg, a NULL part with len > 0; DM_EIO: OpenSSL
     * failed. */
    int64_t (*digest)(uint32_t alg, const dm_host_bytes_t *parts, size_t n_parts, void *out, size_t out_len);
    /* HMAC (RFC 2104) with that hash and key_len bytes of key (empty is
     * allowed) over the concatenation of the parts: as digest. */
    int64_t (*hmac)(uint32_t alg, const void *key, size_t key_len, const dm_host_bytes_t *parts, size_t n_parts,
                    void *out, size_t out_len);
    /* 1 when the len bytes at a and b are equal, else 0, in a time that
     * does not depend on where they differ (for MACs and signatures). */
    int (*equal_ct)(const void *a, const void *b, size_t len);
} dm_host_t;

/* True when the host table has the field `member` (it was appended in an
 * ABI minor the host knows). */
#define DM_HOST_HAS(host, member) \
    ((host)->size >= offsetof(dm_host_t, member) + sizeof((host)->member))

#endif /* DERMAGA_HOST_H */

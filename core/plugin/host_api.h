/*
 * host_api.h — the core side of dm_host (dermaga/host.h): the one host
 * table every plugin receives, and the per-plugin context (name, validated
 * config) that tells the host functions which plugin is calling.
 */
#ifndef DM_PLUGIN_HOST_API_H
#define DM_PLUGIN_HOST_API_H

#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>
#include <dermaga/host.h>

/* "DMPC": a ctx crossing back from a plugin is checked against this, so a
 * plugin passing garbage is caught rather than followed. */
#define DM_PLUGIN_CTX_MAGIC 0x43504d44u

struct dm_plugin_ctx {
    uint32_t magic;  /* DM_PLUGIN_CTX_MAGIC while alive, 0 after free */
    char    *name;   /* owned */
    json_t  *config; /* validated, defaults filled; owned */
};

/* The host table (static, shared by every plugin, valid for the process's
 * life). Borrowed. */
const dm_host_t *dm__plugin_host(void);

/* A context for plugin `name` (borrowed, copied) holding `config` (stolen,
 * even on failure). New, free with dm__plugin_ctx_free; NULL when out of
 * memory. */
dm_plugin_ctx_t *dm__plugin_ctx_new(const char *name, json_t *config);

/* Free a context; NULL is fine. */
void dm__plugin_ctx_free(dm_plugin_ctx_t *ctx);

/* The plugin name of a live ctx, or NULL when ctx is NULL or its magic is
 * wrong. Borrowed. */
const char *dm__plugin_ctx_name(const dm_plugin_ctx_t *ctx);

/* host.http_request and host.http_response_free (host_http.c). */
int dm__host_http_request(dm_plugin_ctx_t *ctx, const dm_http_request_t *req,
                          dm_http_response_t **resp, dm_err_t *err);
void dm__host_http_response_free(dm_http_response_t *resp);

/* host.base64_encode, base64_decode, digest, hmac, equal_ct (host_crypto.c;
 * contracts in dermaga/host.h). */
int64_t dm__host_base64_encode(uint32_t flags, const void *in, size_t in_len, char *out, size_t out_len);
int64_t dm__host_base64_decode(uint32_t flags, const char *in, size_t in_len, void *out, size_t out_len);
int64_t dm__host_digest(uint32_t alg, const dm_host_bytes_t *parts, size_t n_parts, void *out, size_t out_len);
int64_t dm__host_hmac(uint32_t alg, const void *key, size_t key_len, const dm_host_bytes_t *parts, size_t n_parts,
                      void *out, size_t out_len);
int dm__host_equal_ct(const void *a, const void *b, size_t len);

#endif

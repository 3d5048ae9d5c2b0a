/*
 * docker.h — what the files of the runtime-docker plugin share: the plugin
 * state (read-only after init except the port mutex), the engine transport
 * of docker_http.c, the spec mapping of docker_spec.c, the log-frame parser
 * of docker_frames.c, and the inventory of docker_inventory.c. Internal.
 */
#ifndef DM_RUNTIME_DOCKER_H
#define DM_RUNTIME_DOCKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/runtime.h>

#include "docker_frames.h"

#define DK_API "/v1.41"
#define DK_NAME_MAX 160    /* container / volume names we make */
#define DK_MAX_PORTS 16
#define DK_MAX_VOLUMES 16

/* Read-only after init, except port_lock (held while a host port is picked
 * and the container that uses it is created). */
typedef struct dk_state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    char             host_url[256];    /* as configured, for messages */
    char             socket_path[108]; /* "" for TCP */
    char             base_url[160];    /* "http://docker" or http://HOST:PORT */
    char             publish_address[64];
    int              port_min, port_max; /* 0,0: the engine picks */
    int              stop_timeout_s;
    long             timeout_ms;
    pthread_mutex_t  port_lock;
} dk_state;

/* ---- docker_config.c -------------------------------------------------- */

extern const dm_plugin_conf_key_t dk_conf_keys[];
int  dk_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err);
void dk_fini(void *state);

/* ---- docker_http.c ---------------------------------------------------- */

/* One engine answer. Start zeroed; dk_resp_free resets it. body is
 * NUL-terminated; json is the body parsed when it is JSON, else NULL. */
typedef struct dk_resp {
    long    status;
    char   *body;
    size_t  len;
    json_t *json;
} dk_resp;

void dk_resp_free(dk_resp *r);

/* `method DK_API path` with body (borrowed, may be NULL) as JSON, at most
 * timeout_ms (0: st->timeout_ms). 0 when any answer arrived (check
 * out->status); DM_EUNAVAIL engine unreachable, DM_ETIMEDOUT, DM_EIO answer
 * too large, DM_ENOMEM. err names the engine. */
int dk_call(const dk_state *st, const char *method, const char *path, const json_t *body,
            long timeout_ms, dk_resp *out, dm_err_t *err);

/* Streaming GET of DK_API path: each chunk goes to on_data (non-zero return
 * stops the transfer, then 0 is returned unless on_data said < 0); every
 * second or sooner `cancelled` is polled (true stops, returns 0). With
 * follow, no overall timeout. *status gets the HTTP status. Errors as
 * dk_call. */
int dk_stream(const dk_state *st, const char *path, bool follow,
              int (*on_data)(void *opaque, const char *data, size_t len),
              bool (*cancelled)(void *opaque), void *opaque, long *status, dm_err_t *err);

/* A short excerpt of the engine's explanation in r ("message" of a JSON
 * error, else the first bytes of the body) into buf. */
void dk_engine_message(const dk_resp *r, char *buf, size_t len);

/* URL-escape s: new string (free with free()), NULL when out of memory. */
char *dk_escape(const char *s);

/* ---- docker_spec.c ---------------------------------------------------- */

typedef struct dk_port {
    char name[64];
    int  port;
    char proto[8]; /* tcp | udp */
    bool is_public;
    int  host_port; /* chosen, 0 = engine picks */
} dk_port;

typedef struct dk_volume {
    char name[64];
    char mount[256];
} dk_volume;

/* The validated parts of a workload spec (dermaga/service.h). */
typedef struct dk_spec {
    const char *image;          /* borrowed from the spec json */
    int64_t     memory_bytes;   /* 0: no limit */
    int64_t     nano_cpus;      /* 0: no limit */
    const json_t *command;      /* array or NULL */
    const json_t *entrypoint;   /* array or NULL: replaces the image's ENTRYPOINT */
    const json_t *env;          /* object or NULL */
    dk_port     ports[DK_MAX_PORTS];
    size_t      n_ports;
    dk_volume   volumes[DK_MAX_VOLUMES];
    size_t      n_volumes;
    char        hash[17];       /* hex FNV-1a of what shapes the container */
    char        owner[64];      /* the installation's label value, or "" */
} dk_spec;

/* True when id is 1..64 of [A-Za-z0-9_.-] starting alnum: safe in names
 * and URL paths. */
bool dk_id_ok(const char *id);

/* Parse spec (borrowed; out borrows strings from it). DM_EINVAL naming the
 * field. */
int dk_spec_parse(const json_t *spec, dk_spec *out, dm_err_t *err);

/* The POST /containers/create body for instance id: new object, NULL when
 * out of memory. Host ports come from spec->ports[].host_port. */
json_t *dk_create_body(const dk_state *st, const char *id, const dk_spec *spec);

/* True when the inspected container (borrowed) still matches spec: same
 * spec-hash label, image, memory and NanoCpus. */
bool dk_container_matches(const json_t *inspect, const dk_spec *spec);

/* Fill out from an inspect answer (borrowed). */
void dk_status_from_inspect(const dk_state *st, const json_t *inspect, dm_runtime_status_t *out);

/* ---- docker_inventory.c ----------------------------------------------- */

int dk_inventory(void *state, const char *what, const char *ns, json_t **out, dm_err_t *err);

/* The runtime op workloads (dermaga/runtime.h): the dermaga.instance
 * labels of the containers and volumes labelled dermaga.owner=<owner>. */
int dk_workloads(void *state, const char *owner, json_t **out, dm_err_t *err);

/* ---- docker_logs.c ---------------------------------------------------- */

int dk_logs(void *state, const char *instance_id, const dm_runtime_log_opts_t *opts,
            const dm_runtime_log_sink_t *sink, dm_err_t *err);
int dk_usage(void *state, const char *instance_id, dm_runtime_usage_t *out, dm_err_t *err);

/* ---- docker_stats.c --------------------------------------------------- */

/* CPU millicores used between two cpu_stats objects (borrowed; pre the
 * earlier); 0 when pre is empty or no time passed. Formula in the file. */
int64_t dk_cpu_between(const json_t *pre, const json_t *cpu);
/* The same over one stats answer's precpu_stats and cpu_stats. */
int64_t dk_cpu_millicores(const json_t *stats);
/* Memory in use from one stats answer: usage minus page cache. */
int64_t dk_memory_bytes(const json_t *stats);

#endif /* DM_RUNTIME_DOCKER_H */

/*
 * dermaga/runtime.h — the ops table of a runtime plugin (kind
 * DM_PLUGIN_RUNTIME): run a workload on a container backend (Docker, Podman,
 * Kubernetes) and report on it. Ownership rules as in dermaga/payment.h:
 * requests borrowed, result structs host-allocated and zeroed, json_t out
 * values are new references, ops may block and run concurrently.
 */
#ifndef DERMAGA_RUNTIME_H
#define DERMAGA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/plugin.h>

#define DM_RUNTIME_UNIT_MAX    128
#define DM_RUNTIME_MESSAGE_MAX 512

typedef enum dm_runtime_phase {
    DM_RUNTIME_UNKNOWN = 0,
    DM_RUNTIME_PENDING = 1, /* accepted, not running yet (pulling, scheduling) */
    DM_RUNTIME_RUNNING = 2,
    DM_RUNTIME_STOPPED = 3,
    DM_RUNTIME_FAILED  = 4,
    DM_RUNTIME_ABSENT  = 5  /* the backend has nothing for this instance */
} dm_runtime_phase_t;

/* Host-allocated and zeroed; the plugin fills it. */
typedef struct dm_runtime_status {
    uint32_t phase;                           /* dm_runtime_phase_t */
    uint32_t restarts;
    bool     ready;                           /* passing its health probe */
    char     unit_name[DM_RUNTIME_UNIT_MAX];  /* current container or pod name */
    char     message[DM_RUNTIME_MESSAGE_MAX]; /* why it is not ready, for people */
    /* --- ABI 1.3 --- */
    json_t  *endpoints; /* new reference or NULL (the host decrefs it): where
                           the workload's public ports can be reached, as
                           {"<port name>": {"host": "127.0.0.1", "port": 20001}};
                           from ABI 1.5 an entry may add "scheme" ("http",
                           "https") when it is reached through a proxy that
                           decides it (an Ingress with TLS) */
} dm_runtime_status_t;

/* Host-allocated and zeroed; the plugin fills it. */
typedef struct dm_runtime_usage {
    int64_t cpu_millicores;
    int64_t memory_bytes;
} dm_runtime_usage_t;

/* How much of a log to read. Host-owned. */
typedef struct dm_runtime_log_opts {
    uint32_t tail_lines; /* 0 = the backend's default */
    bool     follow;     /* keep streaming until the sink says stop */
} dm_runtime_log_opts_t;

#define DM_RUNTIME_STDOUT 1
#define DM_RUNTIME_STDERR 2

/* Where log lines go. Host-owned; valid during the logs() call. */
typedef struct dm_runtime_log_sink {
    void *opaque;
    /* One line without its newline (line is borrowed, not NUL-terminated).
     * Returns non-zero when the host wants no more: stop and return 0. */
    int  (*line)(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms);
    /* Poll at least once a second while following; true = stop and return 0. */
    bool (*cancelled)(void *opaque);
} dm_runtime_log_sink_t;

typedef struct dm_runtime_ops {
    /* --- required (ABI 1.0) --- */

    /* Create (or converge to) the workload for instance_id from spec, the
     * JSON object a service plugin produced (schema in dermaga/service.h);
     * both borrowed. Idempotent: provisioning an existing instance updates
     * it. Fills *out with the state right after. */
    int (*provision)(void *state, const char *instance_id, const json_t *spec,
                     dm_runtime_status_t *out, dm_err_t *err);

    /* Current state. An instance the backend does not know is phase
     * DM_RUNTIME_ABSENT with return 0, not an error. */
    int (*status)(void *state, const char *instance_id, dm_runtime_status_t *out,
                  dm_err_t *err);

    /* Lifecycle; each returns once the backend accepted the request (the
     * reconciler watches status for the result). terminate removes
     * everything including volumes and is idempotent. */
    int (*stop)(void *state, const char *instance_id, dm_err_t *err);
    int (*start)(void *state, const char *instance_id, dm_err_t *err);
    int (*restart)(void *state, const char *instance_id, dm_err_t *err);
    int (*terminate)(void *state, const char *instance_id, dm_err_t *err);

    /* --- optional --- */

    /* Read the workload's log into sink; with opts->follow, keep going
     * until the sink stops it (the host runs this on a thread of its own). */
    int (*logs)(void *state, const char *instance_id, const dm_runtime_log_opts_t *opts,
                const dm_runtime_log_sink_t *sink, dm_err_t *err);

    /* Current resource use. */
    int (*usage)(void *state, const char *instance_id, dm_runtime_usage_t *out,
                 dm_err_t *err);

    /* Backend objects for admins: what is "nodes", "namespaces", "pods",
     * "deployments", "services" or "ingresses"; ns may be NULL (all).
     * *out = new array. DM_EUNSUPPORTED for a `what` the backend lacks. */
    int (*inventory)(void *state, const char *what, const char *ns, json_t **out,
                     dm_err_t *err);

    /* --- ABI 1.4 --- */

    /* The instance ids that have workloads on the backend labelled with
     * owner (borrowed; the "owner" of the spec they were provisioned from):
     * *out = new array of strings, each once, whatever the workloads' state.
     * The reconciler removes those with no live instance, so a workload
     * without the owner label must never be listed. */
    int (*workloads)(void *state, const char *owner, json_t **out, dm_err_t *err);
} dm_runtime_ops_t;

#define DM_RUNTIME_OPS_MIN_SIZE offsetof(dm_runtime_ops_t, logs)

#endif /* DERMAGA_RUNTIME_H */

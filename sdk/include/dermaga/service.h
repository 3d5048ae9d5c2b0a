/*
 * dermaga/service.h — the ops table of a service plugin (kind
 * DM_PLUGIN_SERVICE): the catalog entries it offers and, for one
 * subscription, the workload to run and what to show the user. Ownership
 * rules as in dermaga/payment.h.
 *
 * Workload spec (the object workload() returns; runtime plugins read it):
 *   {"image":"redis:7", "command":["redis-server","--requirepass","…"],
 *    "env":{"NAME":"value"},
 *    "ports":[{"name":"http","port":80,"protocol":"tcp","public":true}],
 *    "volumes":[{"name":"data","mountPath":"/data","sizeGb":1}],
 *    "health":{"type":"http"|"tcp"|"exec","port":80,"path":"/",
 *              "command":[…],"initialDelayS":5,"periodS":10},
 *    "resources":{"cpuMillicores":500,"memoryMb":512,"storageGb":1},
 *    "restart":"on-failure"|"never",   (ABI 1.4; absent = "never": whether
 *               the reconciler redeploys a workload that died or vanished)
 *    "stored":{…}}
 * The host removes "stored" and adds "owner" (a string naming the
 * installation; ABI 1.4) and "user" (the subscriber's user id; ABI 1.5)
 * before the spec reaches the runtime plugin.
 * "stored" holds what the plugin generated (passwords, keys): the host
 * persists it and passes it back as dm_service_request_t.stored next time,
 * so re-provisioning keeps the same secrets.
 */
#ifndef DERMAGA_SERVICE_H
#define DERMAGA_SERVICE_H

#include <stddef.h>

#include <jansson.h>

#include <dermaga/plugin.h>

/* One subscription's context. Host-owned; everything borrowed for the call. */
typedef struct dm_service_request {
    const char   *service_slug;    /* catalog slug, e.g. "redis" */
    const char   *subscription_id; /* uuid */
    const char   *instance_id;     /* uuid */
    const json_t *plan;   /* {"name","cpuMillicores","memoryMb","storageGb","features"} */
    const json_t *stored; /* "stored" from an earlier workload(), or NULL the first time */
    const char   *public_host;     /* host name assigned to the instance; may be NULL */
} dm_service_request_t;

typedef struct dm_service_ops {
    /* --- required (ABI 1.0) --- */

    /* The services offered: *out = new array of {"slug","name","category",
     * "description"} objects. */
    int (*catalog)(void *state, json_t **out, dm_err_t *err);

    /* The workload for one subscription: *out = new object (schema above).
     * DM_ENOTFOUND for a slug this plugin does not offer. */
    int (*workload)(void *state, const dm_service_request_t *req, json_t **out,
                    dm_err_t *err);

    /* --- optional --- */

    /* What the user sees: *out = new {"urls":{"public","admin"},
     * "credentials":{…}}. */
    int (*presentation)(void *state, const dm_service_request_t *req, json_t **out,
                        dm_err_t *err);
} dm_service_ops_t;

#define DM_SERVICE_OPS_MIN_SIZE offsetof(dm_service_ops_t, presentation)

#endif /* DERMAGA_SERVICE_H */

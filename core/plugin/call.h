/*
 * call.h — the one layer through which the core calls plugin ops. Feature
 * code never touches an ops table: it calls dm__<kind>_<op>() here, named
 * after the SDK op, and this layer
 *   - refuses a plugin of another kind, or one without the op (an older
 *     or smaller table), with DM_EUNSUPPORTED;
 *   - copies the plugin's error into the caller's dm_err_t, NUL-terminated
 *     (a plugin's buffer is never trusted), with a message when the plugin
 *     gave none, and NUL-terminates the fixed-size text it filled;
 *   - times every call into /metrics as dermaga_plugin_call_seconds{plugin,op};
 *   - holds the ABI shims (what an older minor needs), so that no feature
 *     code tests abi_minor;
 *   - bounds the network-bound ops (payment create, query_status, cancel,
 *     refund; every runtime op but a followed log) with the kind's timeout
 *     (plugins.paymentTimeoutMs, plugins.runtimeTimeoutMs).
 *
 * Bounded ops run on the layer's call threads (a small pool that grows on
 * demand up to plugins.callThreadsMax and shrinks when idle); the caller
 * waits at most the timeout and then gets DM_ETIMEDOUT while the call goes
 * on without it. Such a call owns copies of its inputs and outputs, so
 * whenever the plugin returns, its thread frees them (and decrefs any JSON
 * the plugin handed back): nothing of the caller's is touched after the
 * caller gave up. The other ops (payment methods and verify_notification,
 * service and auth ops, and a followed log, which has a thread of its own)
 * run on the caller's thread.
 *
 * The layer is process-wide (like the plugin set it serves, it must be
 * reachable from routes, jobs and stream threads alike); main starts it
 * after loading plugins and stops it, waiting for calls still inside
 * plugins, before unloading them. Until started, bounded ops run on the
 * caller's thread without a bound (tools and tests that need no threads).
 *
 * Every wrapper: p is borrowed (NULL is DM_EUNSUPPORTED); inputs are
 * borrowed for the call; result structs are the caller's, zeroed by the
 * wrapper first; JSON handed back through an out-pointer is a new
 * reference the caller decrefs. On failure every JSON the plugin returned
 * is released (NULL), while fixed-size fields keep what the plugin wrote
 * (NUL-terminated). Returns 0, DM_EUNSUPPORTED, DM_ETIMEDOUT (bounded ops
 * only), DM_ENOMEM, or the plugin's code (a positive one becomes DM_EIO).
 */
#ifndef DM_PLUGIN_CALL_H
#define DM_PLUGIN_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/auth.h>
#include <dermaga/error.h>
#include <dermaga/payment.h>
#include <dermaga/runtime.h>
#include <dermaga/service.h>

#include "plugin/registry.h"
#include "util/buf.h"

/* ---- the layer ----------------------------------------------------------- */

typedef struct dm_plugin_calls_cfg {
    int payment_timeout_ms; /* plugins.paymentTimeoutMs: payment create, query_status, cancel, refund */
    int runtime_timeout_ms; /* plugins.runtimeTimeoutMs: every runtime op but a followed log */
    int max_threads;        /* plugins.callThreadsMax: call threads at most */
} dm_plugin_calls_cfg;

/* Start bounding calls with cfg (borrowed, copied). Main thread, after the
 * plugins loaded. 0, or DM_EINVAL for a value below 1, DM_ECONFLICT when
 * already started. */
int dm__plugin_calls_start(const dm_plugin_calls_cfg *cfg, dm_err_t *err);

/* Stop: idle call threads leave at once, busy ones when their plugin
 * returns (abandoned calls included). Waits at most timeout_ms (< 0:
 * forever). 0 when no call thread is left (plugins may be unloaded; the
 * layer may be started again); DM_ETIMEDOUT when some call is still inside
 * a plugin: the caller must not unload plugins (main leaves with _exit).
 * Main thread, after every caller (pools, jobs, streams) has stopped. */
int dm__plugin_calls_stop(int timeout_ms);

typedef struct dm_plugin_calls_stats {
    int threads;   /* call threads alive */
    int idle;      /* of which waiting for work */
    int queued;    /* calls waiting for a thread */
    int running;   /* calls inside a plugin on a call thread */
    int abandoned; /* calls whose caller timed out, still queued or inside a plugin */
} dm_plugin_calls_stats;

/* A snapshot (any thread). */
void dm__plugin_calls_stats(dm_plugin_calls_stats *out);

/* The layer's /metrics text: dermaga_plugin_call_seconds{plugin,op}
 * (histogram of the time spent inside the op), dermaga_plugin_call_timeouts_total
 * {plugin,op} and the call threads' gauges. Any thread. 0, DM_ENOMEM or
 * DM_EBUSY (out's cap). */
int dm__plugin_calls_render(dm_buf *out);

/* True when p has the op named `op` (its SDK field name, e.g. "cancel").
 * For the rare caller that must know before calling (a sign-in provider
 * must offer every op sign-in needs); everyone else just calls and gets
 * DM_EUNSUPPORTED. */
bool dm__plugin_has_op(const dm_plugin *p, const char *op);

/* ---- payment (dermaga/payment.h) --------------------------------------------
 * create, query_status, cancel and refund are bounded by
 * plugins.paymentTimeoutMs. */

int dm__payment_methods(const dm_plugin *p, json_t **out, dm_err_t *err);
int dm__payment_create(const dm_plugin *p, const dm_payment_request_t *req, dm_payment_created_t *out,
                       dm_err_t *err);
int dm__payment_verify_notification(const dm_plugin *p, const dm_http_header_t *headers, size_t n_headers,
                                    const char *body, size_t body_len, dm_payment_event_t *out,
                                    dm_err_t *err);
/* query_status, cancel and refund are about order_id, which the gateway
 * knows as gateway_ref (what create returned, as stored; NULL or "" when
 * none). A plugin of ABI 1.5 or later that sets query_order, cancel_order
 * or refund_order receives both in a dm_payment_order_t; any other plugin receives
 * the order id through query_status, cancel or refund. */
int dm__payment_query_status(const dm_plugin *p, const char *order_id, const char *gateway_ref,
                             dm_payment_event_t *out, dm_err_t *err);
int dm__payment_cancel(const dm_plugin *p, const char *order_id, const char *gateway_ref, dm_err_t *err);
int dm__payment_refund(const dm_plugin *p, const char *order_id, const char *gateway_ref, int64_t amount,
                       const char *reason, dm_err_t *err);

/* ---- runtime (dermaga/runtime.h) --------------------------------------------
 * Every op is bounded by plugins.runtimeTimeoutMs except logs with
 * opts->follow, which runs on the caller's thread (a stream's own). */

/* spec is the service plugin's workload (borrowed; "stored" already
 * removed); owner names this installation and user the subscriber
 * (borrowed; either may be NULL). The plugin gets a copy shaped for its
 * ABI: with "owner" from 1.4 on and "user" from 1.5 on, and without the
 * 1.4 key "restart" before (an older runtime may refuse keys it does not
 * know). */
int dm__runtime_provision(const dm_plugin *p, const char *instance_id, const json_t *spec, const char *owner,
                          const char *user, dm_runtime_status_t *out, dm_err_t *err);
int dm__runtime_status(const dm_plugin *p, const char *instance_id, dm_runtime_status_t *out, dm_err_t *err);
int dm__runtime_stop(const dm_plugin *p, const char *instance_id, dm_err_t *err);
int dm__runtime_start(const dm_plugin *p, const char *instance_id, dm_err_t *err);
int dm__runtime_restart(const dm_plugin *p, const char *instance_id, dm_err_t *err);
int dm__runtime_terminate(const dm_plugin *p, const char *instance_id, dm_err_t *err);
/* Lines reach sink on the call thread, and only while the caller still
 * waits: once it timed out, the plugin is told to stop (cancelled() is
 * true, line() returns non-zero) and sink is never touched again. */
int dm__runtime_logs(const dm_plugin *p, const char *instance_id, const dm_runtime_log_opts_t *opts,
                     const dm_runtime_log_sink_t *sink, dm_err_t *err);
int dm__runtime_usage(const dm_plugin *p, const char *instance_id, dm_runtime_usage_t *out, dm_err_t *err);
int dm__runtime_inventory(const dm_plugin *p, const char *what, const char *ns, json_t **out, dm_err_t *err);
/* DM_EUNSUPPORTED from a runtime older than ABI 1.4. */
int dm__runtime_workloads(const dm_plugin *p, const char *owner, json_t **out, dm_err_t *err);

/* ---- service (dermaga/service.h) ------------------------------------------ */

int dm__service_catalog(const dm_plugin *p, json_t **out, dm_err_t *err);
int dm__service_workload(const dm_plugin *p, const dm_service_request_t *req, json_t **out, dm_err_t *err);
int dm__service_presentation(const dm_plugin *p, const dm_service_request_t *req, json_t **out, dm_err_t *err);

/* ---- auth (dermaga/auth.h) -------------------------------------------------
 * out buffers of hash_secret and normalize_identifier are the caller's,
 * out_len bytes, and always NUL-terminated on return. */

int dm__auth_authenticate(const dm_plugin *p, const dm_auth_credentials_t *creds, dm_auth_identity_t *out,
                          dm_err_t *err);
int dm__auth_hash_secret(const dm_plugin *p, const char *secret, char *out, size_t out_len, dm_err_t *err);
int dm__auth_describe(const dm_plugin *p, json_t **out, dm_err_t *err);
int dm__auth_normalize_identifier(const dm_plugin *p, const char *in, char *out, size_t out_len, dm_err_t *err);
int dm__auth_validate_registration(const dm_plugin *p, const dm_auth_credentials_t *creds, dm_err_t *err);

#endif

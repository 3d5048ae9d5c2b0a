/*
 * call_internal.h — what the call layer's files share (call.h is the
 * outside view): the table of every op, the checks and error copy every
 * wrapper does, the call record that crosses to a call thread
 * (call_pool.c) and the per-op figures (call_metrics.c).
 */
#ifndef DM_PLUGIN_CALL_INTERNAL_H
#define DM_PLUGIN_CALL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "plugin/call.h"

/* Every op of the four kinds, in SDK order. */
typedef enum dm_call_op {
    DM_OP_PAYMENT_METHODS,
    DM_OP_PAYMENT_CREATE,
    DM_OP_PAYMENT_VERIFY,
    DM_OP_PAYMENT_QUERY,
    DM_OP_PAYMENT_CANCEL,
    DM_OP_PAYMENT_REFUND,
    DM_OP_RUNTIME_PROVISION,
    DM_OP_RUNTIME_STATUS,
    DM_OP_RUNTIME_STOP,
    DM_OP_RUNTIME_START,
    DM_OP_RUNTIME_RESTART,
    DM_OP_RUNTIME_TERMINATE,
    DM_OP_RUNTIME_LOGS,
    DM_OP_RUNTIME_USAGE,
    DM_OP_RUNTIME_INVENTORY,
    DM_OP_RUNTIME_WORKLOADS,
    DM_OP_SERVICE_CATALOG,
    DM_OP_SERVICE_WORKLOAD,
    DM_OP_SERVICE_PRESENTATION,
    DM_OP_AUTH_AUTHENTICATE,
    DM_OP_AUTH_HASH_SECRET,
    DM_OP_AUTH_DESCRIBE,
    DM_OP_AUTH_NORMALIZE,
    DM_OP_AUTH_VALIDATE,
    DM_OP_COUNT
} dm_call_op;

/* The SDK field name of op ("create"): a static string. */
const char *dm__call_op_name(dm_call_op op);

/* True when op (a payment query_status, cancel or refund) goes to p's
 * ABI 1.5 slot taking a dm_payment_order_t (query_order, cancel_order,
 * refund_order): p was built against 1.5 or later and set that slot.
 * Otherwise the op's old slot is called. */
bool dm__call_by_order(const dm_plugin *p, dm_call_op op);

/* 0 when p is a plugin of op's kind whose table has op (either slot); else
 * DM_EUNSUPPORTED with the reason in err. */
int dm__call_check(const dm_plugin *p, dm_call_op op, dm_err_t *err);

/* Turn what the plugin returned (rc, and what it wrote into its own
 * error slot perr) into the layer's answer: a positive rc becomes DM_EIO,
 * perr's text is NUL-terminated and copied into err (may be NULL) with
 * "<plugin>: <op> failed" when the plugin gave none. Returns the code. */
int dm__call_settle(const dm_plugin *p, dm_call_op op, int rc, dm_err_t *perr, dm_err_t *err);

/* An op run on the caller's thread has returned rc after starting at
 * start_ns: record its time and settle its error (dm__call_settle). */
int dm__call_inline_done(const dm_plugin *p, dm_call_op op, uint64_t start_ns, int rc, dm_err_t *perr,
                         dm_err_t *err);

/* The same for an op that hands back one JSON value in *out: on failure
 * whatever the plugin put there is released (NULL). */
int dm__call_inline_json(const dm_plugin *p, dm_call_op op, uint64_t start_ns, int rc, dm_err_t *perr,
                         json_t **out, dm_err_t *err);

/* The bound of op's kind, in milliseconds (from dm__plugin_calls_start). */
int dm__call_timeout_ms(dm_call_op op);

/* Force the last byte of a fixed-size text field to NUL. */
#define DM_CALL_TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

/* ---- the call record (call_pool.c) ----------------------------------------
 * A bounded call: the kind's file makes a record embedding dm_call first
 * (dm__call_new), adds copies of every other input, and sets run and
 * release. Exactly one side frees it, decided under mu: the caller when
 * the call is done, the call thread when the caller gave up (abandoned). */
typedef struct dm_call dm_call;
struct dm_call {
    const dm_plugin *p;                /* borrowed: plugins outlive the layer's threads */
    dm_call_op       op;
    char            *key;              /* what the op is about (an order or instance id,
                                          inventory's kind, an owner): the record's copy */
    int            (*run)(dm_call *c); /* calls the op on the record's copies; returns its code */
    void           (*release)(dm_call *c); /* frees the record, its copies and the outputs it still holds */
    int              rc;               /* what run returned */
    dm_err_t         err;              /* the plugin's own error slot */
    /* call_pool.c's */
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    bool             done;      /* run has returned: the caller's again */
    bool             abandoned; /* the caller gave up: the thread's */
    dm_call         *next;
};

/*
 * Run c on a call thread and wait at most timeout_ms. 0: the call ended
 * (c->rc and c->err hold its outcome, recorded in the metrics) and c is
 * the caller's again: release it. DM_ETIMEDOUT (err says so): c now
 * belongs to the call thread, which releases it whenever the plugin
 * returns; the caller must not touch c again. DM_ENOMEM when no call
 * thread could be started (c is the caller's). When the layer is not
 * started, c runs on the caller's thread (0).
 */
int dm__call_bounded(dm_call *c, int timeout_ms, dm_err_t *err);

/* Bound calls from now on, with at most max_threads call threads (called
 * by dm__plugin_calls_start). 0 or DM_ECONFLICT when already started. */
int dm__call_pool_start(int max_threads, dm_err_t *err);

/* dm__call_bounded with the bound of c's kind, then dm__call_settle.
 * True when c is the caller's again: *rc is the op's settled code; take
 * the outputs, then release c. False when it is not: *rc is DM_ETIMEDOUT
 * (c is the call thread's now) or DM_ENOMEM (c was released here). */
bool dm__call_run(dm_call *c, int *rc, dm_err_t *err);

/* A zeroed record of size bytes (a struct that starts with dm_call) for
 * op on p about key (copied; NULL is ""), with run and release set, into
 * *out (new: its release frees it, ending with dm__call_free). 0, or
 * DM_EUNSUPPORTED (p cannot do op) / DM_ENOMEM with nothing made. */
int dm__call_new(const dm_plugin *p, dm_call_op op, const char *key, size_t size, int (*run)(dm_call *c),
                 void (*release)(dm_call *c), void **out, dm_err_t *err);
/* Free what dm__call_new made: the key and the record itself. */
void dm__call_free(dm_call *c);

/* A copy of s for a call record: *ok turns false when s is not NULL and
 * the copy failed. New string or NULL. */
char *dm__call_dup(const char *s, bool *ok);

/* For callbacks a plugin makes during a bounded call (a log sink): lock c
 * and say whether its caller still waits. Always pair with
 * dm__call_unlock; while locked the caller cannot give up, so the caller's
 * memory may be used. */
bool dm__call_lock_live(dm_call *c);
void dm__call_unlock(dm_call *c);

/* ---- the figures (call_metrics.c) ----------------------------------------- */

/* One call of op by plugin (its name, copied) took ns inside the plugin. */
void dm__call_metrics_observe(const char *plugin, dm_call_op op, uint64_t ns);
/* One caller stopped waiting for op of plugin at the bound. */
void dm__call_metrics_timeout(const char *plugin, dm_call_op op);
/* The histogram and the timeouts in Prometheus text. */
int dm__call_metrics_render(dm_buf *out);

#endif

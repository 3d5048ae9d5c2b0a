/*
 * kinds.c — the static table of plugin kinds: sizes of the four ops tables
 * as this host was built, the least size each accepts, and required ops.
 * Adding an op to a kind means appending it in its SDK header; only a new
 * *required* op (which needs a new ABI major) changes this file.
 */
#include "kinds.h"

#include <string.h>

#include <dermaga/auth.h>
#include <dermaga/error.h>
#include <dermaga/payment.h>
#include <dermaga/runtime.h>
#include <dermaga/service.h>

#define OP(type, field) { #field, offsetof(type, field) }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const dm_plugin_op_ref payment_required[] = {
    OP(dm_payment_ops_t, methods),
    OP(dm_payment_ops_t, create),
    OP(dm_payment_ops_t, verify_notification),
    OP(dm_payment_ops_t, query_status),
};

static const dm_plugin_op_ref runtime_required[] = {
    OP(dm_runtime_ops_t, provision),
    OP(dm_runtime_ops_t, status),
    OP(dm_runtime_ops_t, stop),
    OP(dm_runtime_ops_t, start),
    OP(dm_runtime_ops_t, restart),
    OP(dm_runtime_ops_t, terminate),
};

static const dm_plugin_op_ref service_required[] = {
    OP(dm_service_ops_t, catalog),
    OP(dm_service_ops_t, workload),
};

static const dm_plugin_op_ref auth_required[] = {
    OP(dm_auth_ops_t, authenticate),
};

static const dm_plugin_kind_desc kinds[] = {
    { DM_PLUGIN_PAYMENT, "payment", sizeof(dm_payment_ops_t), DM_PAYMENT_OPS_MIN_SIZE,
      payment_required, COUNT(payment_required) },
    { DM_PLUGIN_RUNTIME, "runtime", sizeof(dm_runtime_ops_t), DM_RUNTIME_OPS_MIN_SIZE,
      runtime_required, COUNT(runtime_required) },
    { DM_PLUGIN_SERVICE, "service", sizeof(dm_service_ops_t), DM_SERVICE_OPS_MIN_SIZE,
      service_required, COUNT(service_required) },
    { DM_PLUGIN_AUTH, "auth", sizeof(dm_auth_ops_t), DM_AUTH_OPS_MIN_SIZE,
      auth_required, COUNT(auth_required) },
};

/* Every required op must lie inside the accepted prefix, or a minimal
 * table could omit it; fail the build rather than the loader. */
_Static_assert(offsetof(dm_payment_ops_t, query_status) < DM_PAYMENT_OPS_MIN_SIZE,
               "payment: required ops must precede the optional ones");
_Static_assert(offsetof(dm_runtime_ops_t, terminate) < DM_RUNTIME_OPS_MIN_SIZE,
               "runtime: required ops must precede the optional ones");
_Static_assert(offsetof(dm_service_ops_t, workload) < DM_SERVICE_OPS_MIN_SIZE,
               "service: required ops must precede the optional ones");
_Static_assert(offsetof(dm_auth_ops_t, authenticate) < DM_AUTH_OPS_MIN_SIZE,
               "auth: required ops must precede the optional ones");

const dm_plugin_kind_desc *dm__plugin_kind_find(uint32_t kind)
{
    for (size_t i = 0; i < COUNT(kinds); i++) {
        if ((uint32_t)kinds[i].kind == kind)
            return &kinds[i];
    }
    return NULL;
}

const char *dm__plugin_kind_name(uint32_t kind)
{
    const dm_plugin_kind_desc *d = dm__plugin_kind_find(kind);
    return d != NULL ? d->name : "unknown";
}

int dm__plugin_kind_parse(const char *name, dm_plugin_kind_t *out)
{
    for (size_t i = 0; name != NULL && i < COUNT(kinds); i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    return DM_EINVAL;
}

/*
 * kinds.c — the static table of plugin kinds: sizes of the four ops tables
 * as this host was built, the least size each accepts, and required ops
 * (with the op a newer minor may set instead: payment query_order for
 * query_status from 1.5); and the ABI 1.5 kind tag check of a descriptor.
 * Adding an op to a kind means appending it in its SDK header; only a new
 * *required* op (which needs a new ABI major) or a new form of a required
 * op changes this file.
 */
#include "kinds.h"

#include <stdbool.h>
#include <string.h>

#include <dermaga/auth.h>
#include <dermaga/error.h>
#include <dermaga/payment.h>
#include <dermaga/runtime.h>
#include <dermaga/service.h>

#define OP(type, field) { #field, offsetof(type, field), NULL, 0, 0 }
/* Required, but from ABI minor `minor` on the op `alt` may stand in for it. */
#define OP_OR(type, field, alt, minor) { #field, offsetof(type, field), #alt, offsetof(type, alt), minor }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const dm_plugin_op_ref payment_required[] = {
    OP(dm_payment_ops_t, methods),
    OP(dm_payment_ops_t, create),
    OP(dm_payment_ops_t, verify_notification),
    OP_OR(dm_payment_ops_t, query_status, query_order, 5),
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

bool dm__plugin_table_has(const void *table, size_t offset)
{
    void (*fn)(void);
    memcpy(&fn, (const char *)table + offset, sizeof fn);
    return fn != NULL;
}

int dm__plugin_kind_check_required(const dm_plugin_kind_desc *k, const void *table, uint16_t abi_minor,
                                   dm_err_t *err)
{
    for (size_t i = 0; i < k->n_required; i++) {
        const dm_plugin_op_ref *r = &k->required[i];
        if (dm__plugin_table_has(table, r->offset))
            continue;
        if (r->alt_name == NULL || abi_minor < r->alt_minor)
            return dm_err_set(err, DM_EABI, "required %s op '%s' is NULL", k->name, r->name);
        if (!dm__plugin_table_has(table, r->alt_offset))
            return dm_err_set(err, DM_EABI, "required %s op '%s' (or '%s') is NULL", k->name, r->alt_name,
                              r->name);
    }
    return 0;
}

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

int dm__plugin_kind_check_tag(const dm_plugin_info_t *in, dm_err_t *err)
{
    if (in->abi_minor < 5)
        return 0; /* no ops_kind before 1.5, and maybe no room for it */
    if (in->info_size < DM_PLUGIN_INFO_SIZE_1_5)
        return dm_err_set(err, DM_EABI, "descriptor is %u bytes, ABI %u.%u needs at least %zu (with ops_kind)",
                          in->info_size, in->abi_major, in->abi_minor, (size_t)DM_PLUGIN_INFO_SIZE_1_5);
    if (in->ops_kind == in->kind)
        return 0;
    const char *said = dm__plugin_kind_name(in->kind);
    if (in->ops_kind == 0)
        return dm_err_set(err, DM_EABI, "descriptor says %s but has no ops_kind (fill .ops with DM_PLUGIN_OPS)",
                          said);
    const dm_plugin_kind_desc *k = dm__plugin_kind_find(in->ops_kind);
    if (k == NULL)
        return dm_err_set(err, DM_EABI, "ops table is of unknown kind %u, descriptor says %s", in->ops_kind, said);
    return dm_err_set(err, DM_EABI, "ops table is %s %s table, descriptor says %s",
                      strchr("aeiou", k->name[0]) != NULL ? "an" : "a", k->name, said);
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

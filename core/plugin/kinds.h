/*
 * kinds.h — what the host knows about each plugin kind: its name, the size
 * of its ops table in this build, the least size it accepts (the ABI 1.0
 * required prefix) and which ops must not be NULL.
 */
#ifndef DM_PLUGIN_KINDS_H
#define DM_PLUGIN_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dermaga/plugin.h>

typedef struct dm_plugin_op_ref {
    const char *name;      /* the op's field name, for refusal messages */
    size_t      offset;    /* offsetof in the kind's ops table */
    const char *alt_name;  /* NULL, or an op that may stand in for it … */
    size_t      alt_offset;
    uint16_t    alt_minor; /* … in a plugin of this ABI minor or later */
} dm_plugin_op_ref;

typedef struct dm_plugin_kind_desc {
    dm_plugin_kind_t        kind;
    const char             *name;        /* "payment", … */
    size_t                  ops_size;    /* sizeof the table in this host */
    size_t                  min_size;    /* DM_<KIND>_OPS_MIN_SIZE */
    const dm_plugin_op_ref *required;    /* ops that must be non-NULL */
    size_t                  n_required;
} dm_plugin_kind_desc;

/* The descriptor for kind, or NULL for a value no kind has. Borrowed
 * (static). */
const dm_plugin_kind_desc *dm__plugin_kind_find(uint32_t kind);

/* "payment", "runtime", "service", "auth", or "unknown". Static string. */
const char *dm__plugin_kind_name(uint32_t kind);

/* Whether the ops table has a non-NULL op at offset (the table must be at
 * least offset + a pointer long: the host's zero-extended copy). */
bool dm__plugin_table_has(const void *table, size_t offset);

/* Check that every required op of kind k is set in table (a copy of the
 * plugin's ops, zero-extended to k->ops_size) of a plugin built for ABI
 * minor abi_minor. 0, or DM_EABI naming the op. */
int dm__plugin_kind_check_required(const dm_plugin_kind_desc *k, const void *table, uint16_t abi_minor,
                                   dm_err_t *err);

/* The ABI 1.5 kind tag: a descriptor of minor 5 or later must be long
 * enough to hold ops_kind, and ops_kind must equal kind (a known one,
 * checked before). 0, or DM_EABI with the reason ("ops table is a payment
 * table, descriptor says runtime"). Older descriptors pass unread. */
int dm__plugin_kind_check_tag(const dm_plugin_info_t *in, dm_err_t *err);

/* Parse a kind name; 0 or DM_EINVAL. */
int dm__plugin_kind_parse(const char *name, dm_plugin_kind_t *out);

#endif

/*
 * dermaga/plugin.h — the plugin descriptor: what a plugin's one exported
 * symbol, dermaga_plugin_entry, returns, and the declarative table of the
 * configuration keys it accepts. docs/plugins.md explains the rules;
 * sdk/templates/<kind>/ is a plugin to start from.
 *
 * ABI CHANGELOG — newest first. Every change to any SDK header that a
 * compiled plugin can observe gets a line here.
 *   Rules: the frozen fields of dm_plugin_info_t never change. Adding a
 *   field at the END of dm_plugin_info_t, dm_host_t, an ops table or a
 *   host-allocated struct bumps the minor. Anything else (removing,
 *   reordering, retyping, changing a meaning or an ownership rule) bumps
 *   the major. A host loads a plugin whose major equals its own and whose
 *   minor is not newer than its own.
 *
 *   1.5  The spec given to provision carries "user", the id of the
 *        subscriber the workload runs for (a runtime may place or label
 *        workloads by it; older runtimes never see it).
 *        dm_payment_ops_t: optional query_order, cancel_order and
 *        refund_order appended: query_status, cancel and refund given a
 *        dm_payment_order_t (new, size first, host-allocated: order_id and
 *        the gateway_ref create returned). The host calls them when set,
 *        else the old ops (always the old ops for a plugin older than 1.5);
 *        query_status may be NULL when query_order is set.
 *        dm_plugin_info_t: ops_kind appended (the kind of the table `ops`
 *        points to, set by DM_PLUGIN_OPS from the table's type); a
 *        descriptor of minor 5 or later must hold it and it must equal
 *        kind, or the plugin is refused.
 *        dm_host_t: base64_encode, base64_decode, digest (SHA-256/512),
 *        hmac (HMAC-SHA256/512) and equal_ct appended, with
 *        dm_host_bytes_t and one buffer contract (host.h).
 *        dm_runtime_status_t.endpoints entries may carry "scheme".
 *        dm_http_request_t: ca_pem, client_cert_pem, client_key_pem (and
 *        their lengths), flags (DM_HTTP_INSECURE, DM_HTTP_NO_TIMEOUT),
 *        on_data, cancelled and stream_opaque appended (a request whose
 *        size stops before them reads as the 1.0 defaults).
 *   1.4  dm_runtime_ops_t: optional workloads appended (list the instance
 *        ids an owner has on the backend, for the reconciler). The spec
 *        given to provision carries "owner", a label the runtime attaches
 *        to everything it creates (older runtimes ignore it).
 *   1.3  dm_runtime_status_t: endpoints appended (host-allocated, zeroed,
 *        so a 1.2 plugin leaves it NULL).
 *   1.2  dm_payment_created_t: instructions appended (host-allocated,
 *        zeroed, so a 1.1 plugin leaves it NULL).
 *   1.1  dm_auth_identity_t: needs_rehash appended (host-allocated, zeroed,
 *        so a 1.0 plugin leaves it false). dm_auth_ops_t: optional
 *        normalize_identifier and validate_registration appended.
 *   1.0  First ABI. dm_plugin_info_t (frozen prefix: magic, abi_major,
 *        abi_minor, info_size, build_signature; then name, version, kind,
 *        init, fini, ops, ops_size, config_keys, description).
 *        dm_host_t: size, abi_major, abi_minor, log, config, http_request,
 *        http_response_free, clock_wall_ms, clock_mono_ns, random_bytes.
 *        dm_http_request_t (size first). Ops tables: dm_payment_ops_t,
 *        dm_runtime_ops_t, dm_service_ops_t, dm_auth_ops_t.
 */
#ifndef DERMAGA_PLUGIN_H
#define DERMAGA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <dermaga/error.h>
#include <dermaga/host.h>

#define DM_PLUGIN_ABI_MAJOR 1
#define DM_PLUGIN_ABI_MINOR 5

/* "DMPL" read as a little-endian word: the first four bytes of every
 * descriptor, so the host can tell a descriptor from random memory. */
#define DM_PLUGIN_MAGIC 0x4c504d44u

/* The one symbol a plugin exports. */
#define DM_PLUGIN_ENTRY_SYMBOL "dermaga_plugin_entry"

/*
 * Build signature: the build choices that change the ABI without changing
 * a header (compiler family, target, pointer size, byte order). The build
 * system passes the first part as DM_BUILD_SIGNATURE_STR to the core and to
 * every plugin; the header appends what it can see for itself. A plugin
 * whose signature differs from the host's is refused.
 */
/* An installed SDK carries its host's signature (build_signature.h, written
 * by the build that installed it); inside the source tree the build passes
 * it with -D. */
#if !defined(DM_BUILD_SIGNATURE_STR) && defined(__has_include)
#if __has_include(<dermaga/build_signature.h>)
#include <dermaga/build_signature.h>
#endif
#endif
#ifndef DM_BUILD_SIGNATURE_STR
#error "DM_BUILD_SIGNATURE_STR is not defined: link against the dermaga_sdk CMake target, or define it to the host's value (see sdk/README.md)"
#endif
#define DM_PLUGIN_STR_(x) #x
#define DM_PLUGIN_STR(x) DM_PLUGIN_STR_(x)
#define DM_PLUGIN_BUILD_SIGNATURE                                        \
    DM_BUILD_SIGNATURE_STR "-p" DM_PLUGIN_STR(__SIZEOF_POINTER__)        \
    "-o" DM_PLUGIN_STR(__BYTE_ORDER__)

/* What a plugin is for; it decides which ops table `ops` points to. */
typedef enum dm_plugin_kind {
    DM_PLUGIN_PAYMENT = 1, /* dermaga/payment.h: dm_payment_ops_t */
    DM_PLUGIN_RUNTIME = 2, /* dermaga/runtime.h: dm_runtime_ops_t */
    DM_PLUGIN_SERVICE = 3, /* dermaga/service.h: dm_service_ops_t */
    DM_PLUGIN_AUTH    = 4  /* dermaga/auth.h:    dm_auth_ops_t */
} dm_plugin_kind_t;

/* ---- configuration keys ------------------------------------------------ */

/* The JSON type a key's value must have. */
typedef enum dm_conf_type {
    DM_CONF_STRING = 1,
    DM_CONF_INT    = 2, /* a JSON integer (1.5 and "5" are refused) */
    DM_CONF_BOOL   = 3,
    DM_CONF_OBJECT = 4,
    DM_CONF_ARRAY  = 5,
    DM_CONF_SECRET = 6  /* a string the core never logs or reports */
} dm_conf_type_t;

/* dm_plugin_conf_key_t.flags */
#define DM_CONF_REQUIRED 0x1u /* must be present; then `def` must be NULL */

/*
 * One accepted configuration key. A plugin points config_keys at an array of
 * these ended by an entry whose key is NULL (DM_CONF_END). Before init the
 * core checks the operator's config block against it: unknown keys, wrong
 * types and missing required keys refuse the plugin; absent optional keys
 * get their default. Everything is static data owned by the plugin.
 */
typedef struct dm_plugin_conf_key {
    const char *key;   /* [a-z0-9_]+ */
    uint32_t    type;  /* dm_conf_type_t */
    uint32_t    flags; /* DM_CONF_REQUIRED or 0 */
    const char *def;   /* default as JSON text ("30", "\"sandbox\"", "true"); NULL = absent */
    const char *doc;   /* one line for operators; shown by `dermaga plugins` */
} dm_plugin_conf_key_t;

#define DM_CONF_END { NULL, 0, 0, NULL, NULL }

/* At most this many keys (a table longer than this is taken as missing its
 * DM_CONF_END terminator). */
#define DM_PLUGIN_CONF_MAX_KEYS 256

/* ---- lifecycle ----------------------------------------------------------- */

/*
 * init: called once, on the main thread, after every check passed and the
 * config was validated. Keep `ctx` and `host` (both valid until fini
 * returns); put what the ops need in a state you allocate and store in
 * *state (it comes back as the first argument of every op and of fini).
 * Return 0, or a negative DM_E* code with a message in err: the plugin is
 * then refused, fini is NOT called, and init must have freed what it made.
 * May be NULL (then state is NULL).
 */
typedef int (*dm_plugin_init_fn)(dm_plugin_ctx_t *ctx, const dm_host_t *host,
                                 void **state, dm_err_t *err);

/* fini: called once, on the main thread, after the last op returned; frees
 * state. May be NULL. */
typedef void (*dm_plugin_fini_fn)(void *state);

/* ---- the descriptor ------------------------------------------------------ */

/*
 * A plugin's descriptor: static, constant data in the plugin, returned by
 * dermaga_plugin_entry. The first five fields are frozen for every ABI
 * major, so any host can read and judge them.
 */
typedef struct dm_plugin_info {
    /* frozen */
    uint32_t    magic;           /* DM_PLUGIN_MAGIC */
    uint16_t    abi_major;       /* DM_PLUGIN_ABI_MAJOR the plugin was built with */
    uint16_t    abi_minor;       /* DM_PLUGIN_ABI_MINOR the plugin was built with */
    uint32_t    info_size;       /* sizeof(dm_plugin_info_t) */
    uint32_t    frozen_pad;      /* 0 (keeps the layout explicit) */
    const char *build_signature; /* DM_PLUGIN_BUILD_SIGNATURE */
    /* 1.0 */
    const char *name;            /* [a-z0-9][a-z0-9_-]{0,62}, unique among loaded plugins */
    const char *version;         /* the plugin's own version, e.g. "1.2.0" */
    uint32_t    kind;            /* dm_plugin_kind_t */
    uint32_t    kind_pad;        /* 0 */
    dm_plugin_init_fn init;      /* may be NULL */
    dm_plugin_fini_fn fini;      /* may be NULL */
    const void *ops;             /* the kind's ops table, static in the plugin */
    size_t      ops_size;        /* sizeof that table as the plugin was built */
    const dm_plugin_conf_key_t *config_keys; /* NULL = accepts no keys */
    const char *description;     /* one line; may be NULL */
    /* 1.5 */
    uint32_t    ops_kind;        /* dm_plugin_kind_t of the table `ops` points to, which
                                    must equal `kind`; set by DM_PLUGIN_OPS from the
                                    table's type, never by hand */
    uint32_t    ops_kind_pad;    /* 0 */
} dm_plugin_info_t;

/* Bytes of the frozen prefix, and of the whole descriptor as ABI 1.0 defined
 * it (the least a 1.x host accepts). */
#define DM_PLUGIN_INFO_FROZEN_SIZE \
    (offsetof(dm_plugin_info_t, build_signature) + sizeof(const char *))
#define DM_PLUGIN_INFO_SIZE_1_0 \
    (offsetof(dm_plugin_info_t, description) + sizeof(const char *))
/* The whole descriptor as ABI 1.5 defines it (with ops_kind): the least a
 * host accepts from a plugin that claims minor 5 or later. */
#define DM_PLUGIN_INFO_SIZE_1_5 \
    (offsetof(dm_plugin_info_t, ops_kind_pad) + sizeof(uint32_t))

/* Designated initialisers for the frozen fields; start a descriptor with it:
 *   static const dm_plugin_info_t info = { DM_PLUGIN_HEADER, .name = "x", … }; */
#define DM_PLUGIN_HEADER                                   \
    .magic = DM_PLUGIN_MAGIC,                              \
    .abi_major = DM_PLUGIN_ABI_MAJOR,                      \
    .abi_minor = DM_PLUGIN_ABI_MINOR,                      \
    .info_size = (uint32_t)sizeof(dm_plugin_info_t),       \
    .frozen_pad = 0,                                       \
    .build_signature = DM_PLUGIN_BUILD_SIGNATURE

/* The kind an ops table's type belongs to (ABI 1.5), found at compile
 * time: a table of any other type does not compile. The ops structs are
 * declared by their kinds' headers; only their tags are needed here. */
struct dm_payment_ops;
struct dm_runtime_ops;
struct dm_service_ops;
struct dm_auth_ops;
#define DM_PLUGIN_OPS_KIND(table)                                       \
    _Generic(&(table),                                                  \
             const struct dm_payment_ops *: DM_PLUGIN_PAYMENT,          \
             struct dm_payment_ops *: DM_PLUGIN_PAYMENT,                \
             const struct dm_runtime_ops *: DM_PLUGIN_RUNTIME,          \
             struct dm_runtime_ops *: DM_PLUGIN_RUNTIME,                \
             const struct dm_service_ops *: DM_PLUGIN_SERVICE,          \
             struct dm_service_ops *: DM_PLUGIN_SERVICE,                \
             const struct dm_auth_ops *: DM_PLUGIN_AUTH,                \
             struct dm_auth_ops *: DM_PLUGIN_AUTH)

/* Fills .ops, .ops_size and (ABI 1.5) .ops_kind from one static ops table,
 * so the descriptor cannot point at one kind's table and declare another:
 * the host refuses a plugin whose ops_kind differs from its kind. */
#define DM_PLUGIN_OPS(table) \
    .ops = &(table), .ops_size = sizeof(table), .ops_kind = (uint32_t)DM_PLUGIN_OPS_KIND(table)

#if defined(__GNUC__)
#define DM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DM_PLUGIN_EXPORT
#endif

/* Defines the exported entry point returning &info. Use once per plugin. */
#define DM_PLUGIN_ENTRY(info)                                             \
    DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry(void);  \
    DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry(void)   \
    {                                                                     \
        return &(info);                                                   \
    }

typedef const dm_plugin_info_t *(*dm_plugin_entry_fn)(void);

#endif /* DERMAGA_PLUGIN_H */

/*
 * config.h — the server's configuration: one JSON file plus environment
 * overrides for what operators set per machine. Loaded once at start on the
 * main thread, read-only afterwards (safe to read from any thread).
 * Every key is described once, in the table in config_keys.c; the example is
 * config/dermaga.example.json and each key is documented in
 * docs/configuration.md.
 */
#ifndef DM_CONFIG_H
#define DM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "util/cidr.h"

#define DM_CONFIG_MAX_CORS 32
#define DM_CONFIG_MAX_TRUSTED_PROXIES 32
#define DM_CONFIG_MAX_PLUGIN_DIRS 16
#define DM_CONFIG_MAX_OPTIONAL_PLUGINS 64

typedef struct dm_config {
    /* server */
    char    *listen;              /* "127.0.0.1"; env DERMAGA_LISTEN */
    int      port;                /* 8080; env DERMAGA_PORT */
    int      max_connections;     /* 1024; beyond it: accept and close */
    size_t   max_body_bytes;      /* 1 MiB */
    size_t   max_header_bytes;    /* 16 KiB, request line + headers */
    int      max_headers;         /* 100 */
    int      header_timeout_ms;   /* 10000: headers not complete → 408 */
    int      request_timeout_ms;  /* 30000: whole request not complete → 408 */
    int      idle_timeout_ms;     /* 60000: idle keep-alive closed */
    int      shutdown_grace_ms;   /* 10000: bounded wait for in-flight work */
    int      max_pipeline;        /* 16 queued requests per connection */
    char    *cors_origins[DM_CONFIG_MAX_CORS]; /* exact origins, or "*" */
    size_t   n_cors_origins;
    char    *trusted_proxies[DM_CONFIG_MAX_TRUSTED_PROXIES]; /* as written: "10.0.0.0/8", "::1" */
    size_t   n_trusted_proxies;
    dm_cidr  trusted_cidrs[DM_CONFIG_MAX_TRUSTED_PROXIES]; /* the same, parsed once at load */
    size_t   ws_max_message;      /* 1 MiB: one reassembled WebSocket message */
    int      ws_idle_timeout_ms;  /* 60000: nothing received → close 1001; 0 none */
    int      ws_close_timeout_ms; /* 5000: wait for the peer's close, then its FIN */
    size_t   ws_max_buffered;     /* 4 MiB queued for a client that does not read */
    /* database and workers */
    char    *database_url;        /* env DERMAGA_DATABASE_URL */
    int      workers;             /* 8 threads, one libpq connection each */
    int      queue_depth;         /* 256 waiting requests before 503 */
    int      db_connect_timeout_s;/* 2 */
    int      db_statement_timeout_ms; /* 30000 */
    int      retry_after_s;       /* 5, sent with 503 */
    bool     migrate_on_start;    /* true */
    char    *migrations_dir;      /* "<source>/migrations" */
    /* jobs */
    int      max_log_streams;     /* 1024: live log streams open at once */
    int      job_workers;         /* 4 */
    int      job_poll_ms;         /* 500 */
    int      job_lease_s;         /* 20 */
    /* metrics */
    int      metrics_refresh_s;   /* 15: business gauges' database reads */
    /* files */
    char    *openapi_path;        /* "<source>/docs/openapi.yaml" */
    char    *web_dir;             /* "<source>/web": the log page and its files */
    /* secrets and bootstrap (used by later issues) */
    char    *jwt_secret;          /* env DERMAGA_JWT_SECRET or jwt_secret_file */
    char    *jwt_issuer;          /* "dermaga": the iss claim */
    int      access_token_ttl_s;  /* 900 */
    int      hash_workers;        /* 2: threads for password hashing routes */
    int      hash_queue_depth;    /* 32 waiting before 503 */
    int      refresh_token_ttl_s; /* 2592000 (30 days) */
    char    *admin_email;         /* env DERMAGA_ADMIN_EMAIL */
    char    *admin_password;      /* env DERMAGA_ADMIN_PASSWORD or _file */
    char    *log_level;           /* env DERMAGA_LOG_LEVEL: debug|info|warn|error */
    char    *log_file;            /* env DERMAGA_LOG_FILE; "": stderr (serve only) */
    char    *catalog_path;        /* "<source>/config/catalog.json": `dermaga seed` */
    /* wallet */
    int      topup_min;           /* 10000 Rupiah */
    int      topup_max;           /* 10000000 Rupiah */
    int      topup_expiry_min;    /* 1440: pending top-ups expire after this */
    int      expire_every_s;      /* 60: period of the expiry job */
    char    *default_gateway;     /* "manual" */
    char    *finish_url;          /* "" */
    /* subscriptions */
    char    *refund_policy;       /* "prorated" | "none": what a user's cancel refunds */
    int      grace_days;          /* 3: SUSPENDED this long before EXPIRED */
    int      period_check_every_s;/* 60: period-end job interval */
    /* instances */
    int      reconcile_every_s;   /* 15: the reconciler's interval */
    int      provision_timeout_s; /* 120: a provision not ready by then is ERROR */
    char    *default_runtime;     /* "": runtime plugin of new instances (else the first) */
    int      health_every_s;      /* 30: the health checks' interval */
    int      log_buffer_lines;    /* 1000: recent lines kept per followed instance */
    size_t   log_buffer_bytes;    /* 4 MiB: bytes of events kept per followed instance */
    size_t   log_line_max_bytes;  /* 16384: longest line text shown */
    size_t   log_subscriber_bytes;/* 256 KiB: events waiting for one subscriber */
    int      log_follow_linger_ms;/* 0: a follow outlives its last subscriber this long */
    int      log_ticket_ttl_s;    /* 30: a stream ticket's lifetime */
    /* live logs over Socket.IO */
    int      sio_ping_interval_ms; /* 25000 */
    int      sio_ping_timeout_ms;  /* 20000 */
    size_t   sio_max_payload;      /* 1000000 bytes */
    int      sio_max_sessions;     /* 10000 connections */
    /* plugins */
    char    *plugin_dir;          /* "<build>/plugins" */
    char    *plugin_dirs[DM_CONFIG_MAX_PLUGIN_DIRS]; /* plugins.dirs: several, in order */
    size_t   n_plugin_dirs;       /* 0: plugins.dir alone */
    int      payment_timeout_ms;  /* 30000: bound of a payment gateway call */
    int      runtime_timeout_ms;  /* 120000: bound of a container runtime call */
    int      call_threads_max;    /* 32: threads for those calls, at most */
    int      remote_workers;      /* 4: request threads for routes that wait on them */
    int      remote_queue_depth;  /* 64 waiting before 503 */
    char    *plugins_optional[DM_CONFIG_MAX_OPTIONAL_PLUGINS]; /* may be refused
                                     without stopping the start; each names an enabled entry */
    size_t   n_plugins_optional;
    json_t  *plugins;             /* array of {"name", "enabled", "config"}, every
                                     field present (defaults true / {}); owned */
    json_t  *root;                /* the effective configuration: every key after
                                     defaults, file and overrides, secrets
                                     (jwtSecret, adminPassword, database.url)
                                     left out; owned */
} dm_config;

/*
 * Fill cfg with defaults, read the file at `path` (NULL: $DERMAGA_CONFIG, or
 * no file at all), apply DERMAGA_* environment overrides, then validate.
 * Unknown keys, wrong types and out-of-range values fail with DM_EINVAL and
 * a message in err that names the key and what was wrong.
 * On failure cfg holds nothing that needs freeing beyond dm__config_free.
 */
int  dm__config_load(dm_config *cfg, const char *path, dm_err_t *err);

/* Same, but from an in-memory JSON text and an explicit environment lookup
 * (getenv-like; NULL = getenv). For tests. */
int  dm__config_load_text(dm_config *cfg, const char *json_text,
                          const char *(*env)(const char *name), dm_err_t *err);

void dm__config_free(dm_config *cfg);

/* True when origin is allowed by the CORS allow-list. */
bool dm__config_cors_allowed(const dm_config *cfg, const char *origin);

/* True when plugins.optional lists name (NULL: false). */
bool dm__config_plugin_optional(const dm_config *cfg, const char *name);

/* The plugin folders in order: plugins.dirs, else plugins.dir alone.
 * Borrowed from cfg; *n their count (at least 1). */
const char *const *dm__config_plugin_dirs(const dm_config *cfg, size_t *n);

/* The key reference (key, type, default, allowed, env variable, meaning) as a
 * Markdown table, generated from the key table; docs/configuration.md holds
 * the same text. New string (caller frees) or NULL when out of memory. */
char *dm__config_describe(void);

#endif

/*
 * config_keys.c — the table of every configuration key (path, type, default,
 * range, environment variable, doc) and what is derived from it alone: the
 * value checks, the effective tree for cfg->root and the docs listing.
 * Adding a key means one line here, one field in dm_config, one line in
 * config/dermaga.example.json and regenerating docs/configuration.md.
 */
#include "app/config_internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/install_paths.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- checks: NULL when fine, else what the value must be ---- */

static const char *check_listen(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1) {
        return NULL;
    }
    return "must be an IPv4 or IPv6 address literal (such as 127.0.0.1 or ::1)";
}

static const char *check_log_level(const char *s)
{
    dm_log_level_t lv;
    return dm__log_parse_level(s, &lv) == 0 ? NULL : "must be one of debug, info, warn, error";
}

static const char *check_refund_policy(const char *s)
{
    return strcmp(s, "none") == 0 || strcmp(s, "prorated") == 0 ? NULL : "must be none or prorated";
}

static const char *check_email(const char *s)
{
    static const char *const why = "must be empty or an email address such as admin@example.com";
    if (s[0] == '\0') {
        return NULL; /* no bootstrap admin */
    }
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
        return why;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return why;
        }
    }
    return NULL;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Browsers send Origin as scheme://host[:port], lowercase, no path; since the
 * allow-list is matched exactly, anything else would silently never match. */
static const char *check_cors_origin(const char *s)
{
    static const char *const why =
        "must be \"*\" or an origin such as https://app.example.com[:port] "
        "(lowercase, no path, no trailing slash)";
    if (strcmp(s, "*") == 0) {
        return NULL;
    }
    const char *p = s;
    if (!(*p >= 'a' && *p <= 'z')) {
        return why;
    }
    while (is_lower_alnum(*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (strncmp(p, "://", 3) != 0) {
        return why;
    }
    p += 3;
    const char *host = p;
    if (*p == '[') { /* IPv6 literal */
        const char *end = strchr(p, ']');
        if (end == NULL || end == p + 1) {
            return why;
        }
        p = end + 1;
    } else {
        while (is_lower_alnum(*p) || *p == '-' || *p == '.') {
            p++;
        }
        if (p == host) {
            return why;
        }
    }
    if (*p == ':') {
        char *end = NULL;
        if (!(p[1] >= '0' && p[1] <= '9')) {
            return why;
        }
        long port = strtol(p + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535) {
            return why;
        }
        return NULL;
    }
    return *p == '\0' ? NULL : why;
}

/* server.trustedProxies: util/cidr.h decides, the same parse the server
 * matches peers with, so what passes here is what is trusted. */
static const char *check_trusted_proxy(const char *s)
{
    dm_cidr c;
    return dm__cidr_parse(s, &c) == 0 ? NULL
                                      : "must be an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8, "
                                        "192.0.2.7 or fd00::/8 (no bits set below the prefix)";
}

/* Plugin names become file names (<dir>/<name>.so), so no path characters. */
const char *dm__config_check_plugin_name(const char *s)
{
    static const char *const why =
        "must be 1 to 64 characters of a-z, 0-9, '_' or '-', starting with a letter or digit";
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !is_lower_alnum(s[0])) {
        return why;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-') {
            return why;
        }
    }
    return NULL;
}

/* instances.defaultRuntime: empty (the first loaded runtime plugin) or a
 * plugin name; whether that plugin is enabled is checked at start, once the
 * plugins are loaded (core/main.c). */
static const char *check_runtime_name(const char *s)
{
    return s[0] == '\0' ? NULL : dm__config_check_plugin_name(s);
}

/* One folder of plugins.dirs. */
static const char *check_dir_path(const char *s)
{
    return s[0] == '\0' ? "must be a non-empty folder path" : NULL;
}

/* Defaults relative to the running binary (app/install_paths.h). */
static char *default_migrations_dir(void) { return dm__install_share_path("migrations"); }
static char *default_openapi_path(void) { return dm__install_share_path("openapi.yaml"); }
static char *default_web_dir(void) { return dm__install_share_path("web"); }
static char *default_catalog_path(void) { return dm__install_share_path("catalog.json"); }

/* ---- the table ---- */

#define F(field) offsetof(dm_config, field)
#define KINT(p, fld, d, lo, hi, ev, text) \
    { .path = p, .type = DM_CK_INT, .off = F(fld), .idef = d, .min = lo, .max = hi, .env = ev, .doc = text }
#define KSIZE(p, fld, d, lo, hi, text) \
    { .path = p, .type = DM_CK_SIZE, .off = F(fld), .idef = d, .min = lo, .max = hi, .doc = text }
#define KSTR(p, fld, d, fl, chk, ok, ev, text) \
    { .path = p, .type = DM_CK_STR, .off = F(fld), .def = d, .flags = fl, .check = chk, .allowed = ok, \
      .env = ev, .doc = text }
#define KPATH(p, fld, d, ddoc, fn, ev, text) \
    { .path = p, .type = DM_CK_STR, .off = F(fld), .def = d, .def_doc = ddoc, .def_fn = fn, \
      .flags = DM_CK_NONEMPTY, .env = ev, .doc = text }
#define KFILE(p, fld, pr, ev, text) \
    { .path = p, .type = DM_CK_SECRET_FILE, .off = F(fld), .def = "", .pair = pr, \
      .allowed = "empty, or a readable file that is not empty", .env = ev, .doc = text }

#define MiB (1024LL * 1024LL)

/* config_value.c reads a list into a buffer of DM_CONFIG_MAX_CORS items. */
_Static_assert(DM_CONFIG_MAX_TRUSTED_PROXIES <= DM_CONFIG_MAX_CORS && DM_CONFIG_MAX_PLUGIN_DIRS <= DM_CONFIG_MAX_CORS,
               "a string list is longer than config_value.c's item buffer");

const dm_config_key dm__config_keys[] = {
    KSTR("server.listen", listen, "127.0.0.1", 0, check_listen, "IPv4 or IPv6 literal", "DERMAGA_LISTEN",
         "Address to bind: an IPv4 or IPv6 literal (0.0.0.0 or :: for all interfaces)."),
    KINT("server.port", port, 8080, 1, 65535, "DERMAGA_PORT", "TCP port to listen on."),
    KINT("server.maxConnections", max_connections, 1024, 1, 1000000, NULL,
         "Open connections beyond this are accepted and closed at once."),
    KSIZE("server.maxBodyBytes", max_body_bytes, 1 * MiB, 1, 1024 * MiB,
          "Largest request body; larger gets 413."),
    KSIZE("server.maxHeaderBytes", max_header_bytes, 16 * 1024, 256, 1 * MiB,
          "Largest request line plus headers; larger gets 431."),
    KINT("server.maxHeaders", max_headers, 100, 1, 1000, NULL, "Most header fields in one request."),
    KINT("server.headerTimeoutMs", header_timeout_ms, 10000, 100, 3600000, NULL,
         "Headers not complete within this get 408 and the connection is closed."),
    KINT("server.requestTimeoutMs", request_timeout_ms, 30000, 100, 86400000, NULL,
         "A request (headers and body) not complete within this of its first byte gets 408 and the "
         "connection is closed."),
    KINT("server.idleTimeoutMs", idle_timeout_ms, 60000, 100, 86400000, NULL,
         "An idle keep-alive connection is closed after this."),
    KINT("server.shutdownGraceMs", shutdown_grace_ms, 10000, 0, 600000, NULL,
         "On SIGTERM, how long in-flight requests may finish."),
    KINT("server.maxLogStreams", max_log_streams, 1024, 1, 100000, NULL,
         "Live log streams (Server-Sent Events) open at once; the streams of one instance share one runtime "
         "follow."),
    KINT("server.maxPipeline", max_pipeline, 16, 1, 1024, NULL,
         "Requests queued on one connection before reading pauses."),
    { .path = "server.corsOrigins", .type = DM_CK_STRLIST, .off = F(cors_origins),
      .off_n = F(n_cors_origins), .def = "", .max = DM_CONFIG_MAX_CORS, .check = check_cors_origin,
      .allowed = "at most 32 of `*` or `scheme://host[:port]`",
      .env = "DERMAGA_CORS_ORIGINS",
      .doc = "Origins allowed by CORS: exact origins or \"*\"; empty allows none. "
             "The variable takes a comma-separated list." },
    { .path = "server.trustedProxies", .type = DM_CK_STRLIST, .off = F(trusted_proxies),
      .off_n = F(n_trusted_proxies), .def = "", .max = DM_CONFIG_MAX_TRUSTED_PROXIES,
      .check = check_trusted_proxy, .allowed = "at most 32 IPv4 or IPv6 addresses or CIDR ranges",
      .env = "DERMAGA_TRUSTED_PROXIES",
      .doc = "Reverse proxies whose Forwarded, X-Forwarded-For and X-Forwarded-Proto headers are believed "
             "(a single address is /32 or /128); empty trusts none, and the TCP peer is the client. "
             "The variable takes a comma-separated list." },
    KSIZE("server.wsMaxMessageBytes", ws_max_message, 1 * MiB, 125, 256 * MiB,
          "Largest WebSocket message (all its fragments); larger is closed with 1009."),
    KINT("server.wsIdleTimeoutMs", ws_idle_timeout_ms, 60000, 0, 86400000, NULL,
         "A WebSocket from which nothing arrives is pinged after half of this and closed (1001) after all "
         "of it; 0 means never."),
    KINT("server.wsCloseTimeoutMs", ws_close_timeout_ms, 5000, 100, 600000, NULL,
         "After its close frame, how long the server waits for the peer's close, and then for its FIN, "
         "before dropping the connection."),
    KSIZE("server.wsMaxBufferedBytes", ws_max_buffered, 4 * MiB, 64 * 1024, 1024 * MiB,
          "Bytes queued for a WebSocket client that does not read; one more message past this drops the "
          "connection (without a close frame, which could not reach it)."),

    KSTR("database.url", database_url, "", DM_CK_SECRET, NULL, NULL, "DERMAGA_DATABASE_URL",
         "libpq connection URL or conninfo; empty is refused by whatever needs the database."),
    KINT("database.workers", workers, 8, 1, 256, NULL, "Worker threads, one database connection each."),
    KINT("database.queueDepth", queue_depth, 256, 1, 100000, NULL,
         "Requests waiting for a worker before new ones get 503."),
    KINT("database.connectTimeoutS", db_connect_timeout_s, 2, 1, 300, NULL,
         "Seconds to wait for a database connection."),
    KINT("database.statementTimeoutMs", db_statement_timeout_ms, 30000, 0, 86400000, NULL,
         "PostgreSQL statement_timeout for every connection; 0 means none."),
    KINT("database.retryAfterS", retry_after_s, 5, 1, 3600, NULL, "Retry-After seconds sent with 503."),
    { .path = "database.migrateOnStart", .type = DM_CK_BOOL, .off = F(migrate_on_start), .idef = 1,
      .env = "DERMAGA_MIGRATE_ON_START",
      .doc = "Apply pending migrations at start. The variable takes true, false, 1 or 0." },
    KPATH("database.migrationsDir", migrations_dir, NULL, "<share>/migrations",
          default_migrations_dir, "DERMAGA_MIGRATIONS_DIR", "Folder of numbered SQL migration files."),

    KINT("jobs.workers", job_workers, 4, 1, 256, NULL,
         "Threads that run background jobs (instance jobs spend most of their time waiting on the runtime)."),
    KINT("jobs.pollMs", job_poll_ms, 500, 10, 60000, NULL, "How often idle job workers look for work."),
    KINT("jobs.leaseS", job_lease_s, 20, 3, 86400, NULL,
         "A running job's lease, renewed every few seconds while it runs; when its node dies, another node "
         "takes the job over once the lease lapses."),
    KINT("metrics.refreshS", metrics_refresh_s, 15, 1, 3600, NULL,
         "How often /metrics' business gauges (instances and subscriptions by status, pending top-ups) are "
         "read from the database; a scrape serves the last read and never waits on the database."),

    KPATH("openapiPath", openapi_path, NULL, "<share>/openapi.yaml",
          default_openapi_path, "DERMAGA_OPENAPI_PATH", "The OpenAPI document served to clients."),
    KPATH("web.dir", web_dir, NULL, "<share>/web", default_web_dir, "DERMAGA_WEB_DIR",
          "Folder of the files served to browsers: the log page /test-logs.html, its script and style, and "
          "node_modules/ with the socket.io-client build (installed by `npm ci`). Read once at start."),
    KPATH("catalogPath", catalog_path, NULL, "<share>/catalog.json",
          default_catalog_path, "DERMAGA_CATALOG_PATH", "The catalog `dermaga seed` loads when given no file."),
    KSTR("logLevel", log_level, "info", 0, check_log_level, "debug, info, warn, error", "DERMAGA_LOG_LEVEL",
         "Least severe level logged: debug, info, warn or error."),
    KSTR("logFile", log_file, "", 0, NULL, NULL, "DERMAGA_LOG_FILE",
         "File `serve` appends its log (and access log) lines to, reopened on SIGHUP (for logrotate); empty "
         "for stderr."),

    KSTR("auth.jwtSecret", jwt_secret, "", DM_CK_SECRET, NULL, NULL, "DERMAGA_JWT_SECRET",
         "Key that signs session tokens, at least 32 bytes of at least 16 distinct ones (serve refuses to start otherwise). Prefer jwtSecretFile."),
    KFILE("auth.jwtSecretFile", jwt_secret, "auth.jwtSecret", "DERMAGA_JWT_SECRET_FILE",
          "File holding jwtSecret (one trailing newline is dropped)."),
    KSTR("auth.jwtIssuer", jwt_issuer, "dermaga", 0, NULL, NULL, NULL,
         "The iss claim of session tokens; tokens with another issuer are refused."),
    KINT("auth.accessTokenTtlS", access_token_ttl_s, 900, 60, 86400, NULL,
         "Lifetime of an access token in seconds."),
    KINT("auth.refreshTokenTtlS", refresh_token_ttl_s, 2592000, 3600, 31536000, NULL,
         "Lifetime of a refresh token in seconds."),
    KINT("auth.hashWorkers", hash_workers, 2, 1, 64, NULL,
         "Threads (each with a database connection) for logins, registrations and password changes."),
    KINT("auth.hashQueueDepth", hash_queue_depth, 32, 1, 10000, NULL,
         "Password requests waiting for a hashing thread before new ones get 503."),
    KSTR("auth.adminEmail", admin_email, "", 0, check_email, "empty or an email address", "DERMAGA_ADMIN_EMAIL",
         "Email of the bootstrap admin account; empty for none."),
    KSTR("auth.adminPassword", admin_password, "", DM_CK_SECRET, NULL, NULL, "DERMAGA_ADMIN_PASSWORD",
         "Password of the bootstrap admin. Prefer adminPasswordFile."),
    KFILE("auth.adminPasswordFile", admin_password, "auth.adminPassword", "DERMAGA_ADMIN_PASSWORD_FILE",
          "File holding adminPassword (one trailing newline is dropped)."),

    KINT("wallet.topupMin", topup_min, 10000, 1, 2000000000, NULL,
         "Smallest top-up in Rupiah; less gets 400."),
    KINT("wallet.topupMax", topup_max, 10000000, 1, 2000000000, NULL,
         "Largest top-up in Rupiah; more gets 400. Must not be below wallet.topupMin."),
    KINT("wallet.topupExpiryMinutes", topup_expiry_min, 1440, 1, 43200, NULL,
         "A top-up not paid within this becomes EXPIRED (the gateway is asked for the same expiry)."),
    KINT("wallet.expireEveryS", expire_every_s, 60, 1, 86400, NULL,
         "How often unpaid top-ups past their expiry are re-checked at their gateway and expired."),
    KSTR("wallet.defaultGateway", default_gateway, "manual", 0, NULL, NULL, NULL,
         "Gateway used when a top-up names none: an enabled payment plugin without its \"payment-\" prefix."),
    KSTR("wallet.finishUrl", finish_url, "", 0, NULL, NULL, NULL,
         "Where a gateway sends the user back after paying; empty for the gateway's default."),

    KSTR("subscriptions.refundPolicy", refund_policy, "prorated", 0, check_refund_policy, "none, prorated", NULL,
         "What a user's cancel refunds: nothing, or the unused part of the period (rounded down)."),
    KINT("subscriptions.graceDays", grace_days, 3, 0, 365, NULL,
         "Days an unpaid subscription stays SUSPENDED (instance stopped) before it EXPIRES."),
    KINT("subscriptions.checkEveryS", period_check_every_s, 60, 1, 86400, NULL,
         "How often period ends are processed (renewals, suspensions, expiries)."),
    KINT("instances.reconcileEveryS", reconcile_every_s, 15, 1, 3600, NULL,
         "How often the reconciler compares instances with the runtime and repairs drift."),
    KINT("instances.provisionTimeoutS", provision_timeout_s, 120, 1, 540, NULL,
         "How long a provision (or an update) waits for the workload to be ready before the instance is ERROR."),
    KSTR("instances.defaultRuntime", default_runtime, "", 0, check_runtime_name, "empty or a plugin name", NULL,
         "Runtime plugin a new instance runs on when its service names none; empty for the first enabled "
         "runtime plugin. It must be enabled. An instance keeps the runtime it was created on."),
    KINT("socketio.pingIntervalMs", sio_ping_interval_ms, 25000, 100, 600000, NULL,
         "Live logs over Socket.IO: how often the server pings each connection."),
    KINT("socketio.pingTimeoutMs", sio_ping_timeout_ms, 20000, 100, 600000, NULL,
         "Live logs over Socket.IO: a connection whose pong does not come this long after a ping is closed."),
    KSIZE("socketio.maxPayloadBytes", sio_max_payload, 1000000, 1024, 100 * MiB,
          "Live logs over Socket.IO: the largest POST body or WebSocket message a client may send."),
    KINT("socketio.maxConnections", sio_max_sessions, 10000, 1, 1000000, NULL,
         "Live logs over Socket.IO: connections open at once; more are answered 503."),
    KINT("instances.healthEveryS", health_every_s, 30, 1, 3600, NULL,
         "How often running instances are health-checked (runtime status and the template's probe)."),
    KINT("instances.logBufferLines", log_buffer_lines, 1000, 10, 100000, NULL,
         "Recent lines the live log keeps per followed instance: what a stream joining a running follow "
         "gets its tail from, and a reconnect resumes from (docs/logs.md)."),
    KSIZE("instances.logBufferBytes", log_buffer_bytes, 4 * MiB, 64 * 1024, 1024 * MiB,
          "Bytes of encoded events the live log keeps per followed instance; the oldest lines go first."),
    KSIZE("instances.logLineMaxBytes", log_line_max_bytes, 16384, 64, 1 * MiB,
          "Longest log line shown, in bytes of UTF-8 text; a longer one is cut at a character boundary and "
          "ends with an ellipsis (docs/logs.md)."),
    KSIZE("instances.logSubscriberBytes", log_subscriber_bytes, 256 * 1024, 4096, 64 * MiB,
          "Bytes of events waiting to be written to one live log subscriber; past it the subscriber misses "
          "lines and is told how many (\"lines dropped: N\")."),
    KINT("instances.logFollowLingerMs", log_follow_linger_ms, 0, 0, 600000, NULL,
         "How long an instance's runtime follow and its buffer outlive its last subscriber, so that a "
         "client reconnecting within it resumes from Last-Event-ID; 0 stops the follow at once."),
    KINT("instances.logTicketTtlS", log_ticket_ttl_s, 30, 1, 300, NULL,
         "How long a live log stream ticket (POST /api/instances/:id/logs/ticket) stays valid."),

    KPATH("plugins.dir", plugin_dir, NULL, "<plugins>", dm__install_plugins_dir,
          "DERMAGA_PLUGINS_DIR",
          "Folder the plugin .so files are loaded from: the one-folder form of plugins.dirs (set one of "
          "the two, not both)."),
    { .path = "plugins.dirs", .type = DM_CK_STRLIST, .off = F(plugin_dirs), .off_n = F(n_plugin_dirs),
      .def = "", .max = DM_CONFIG_MAX_PLUGIN_DIRS, .check = check_dir_path,
      .allowed = "at most 16 non-empty folder paths", .env = "DERMAGA_PLUGINS_DIRS",
      .doc = "Folders the plugin .so files are loaded from, in order: a later folder adds plugins and "
             "overrides an earlier one's file of the same name (logged with both paths). Empty: plugins.dir "
             "alone. The variable takes a comma-separated list." },
    { .path = "plugins.enabled", .type = DM_CK_PLUGINS, .off = F(plugins), .max = 256,
      .allowed = "at most 256; names unique, of a-z 0-9 _ -",
      .doc = "Plugins to load, in order: {\"name\", \"enabled\", \"config\"} each." },
    { .path = "plugins.optional", .type = DM_CK_STRLIST, .off = F(plugins_optional),
      .off_n = F(n_plugins_optional), .def = "", .max = DM_CONFIG_MAX_OPTIONAL_PLUGINS,
      .check = dm__config_check_plugin_name, .allowed = "at most 64 names of enabled plugins",
      .env = "DERMAGA_PLUGINS_OPTIONAL",
      .doc = "Enabled plugins the server may start without: one that is refused is logged and /readyz says "
             "\"degraded\"; any other refused enabled plugin stops the start. The variable takes a "
             "comma-separated list." },
    KINT("plugins.paymentTimeoutMs", payment_timeout_ms, 30000, 100, 600000, NULL,
         "Longest wait for a payment gateway's create, status, cancel or refund; past it a top-up answers "
         "504 GATEWAY_TIMEOUT and stays PENDING."),
    KINT("plugins.runtimeTimeoutMs", runtime_timeout_ms, 120000, 100, 3600000, NULL,
         "Longest wait for one container runtime call (provision, status, stop, logs, usage, …); past it the "
         "call fails with a timeout."),
    KINT("plugins.callThreadsMax", call_threads_max, 32, 1, 1024, NULL,
         "Most threads running gateway and runtime calls; started on demand, they leave when idle. A call whose "
         "caller timed out holds its thread until the plugin returns."),
    KINT("plugins.remoteWorkers", remote_workers, 4, 1, 256, NULL,
         "Threads (each with a database connection) for the routes that wait on a payment gateway or the "
         "container runtime, so that these never hold the database workers."),
    KINT("plugins.remoteQueueDepth", remote_queue_depth, 64, 1, 100000, NULL,
         "Requests waiting for a remote-call thread before new ones get 503."),
};

const size_t dm__config_nkeys = sizeof dm__config_keys / sizeof dm__config_keys[0];

/* Looks up an entry by its dotted path; NULL when there is none. */
const dm_config_key *dm__config_key_find(const char *path)
{
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        if (strcmp(dm__config_keys[i].path, path) == 0) {
            return &dm__config_keys[i];
        }
    }
    return NULL;
}

/* ---- the effective tree ---- */

static json_t *emit_value(const dm_config *cfg, const dm_config_key *k)
{
    const char *base = (const char *)cfg;
    switch (k->type) {
    case DM_CK_STR: {
        const char *s = *(char *const *)(base + k->off);
        return json_string(s != NULL ? s : "");
    }
    case DM_CK_INT:
        return json_integer(*(const int *)(base + k->off));
    case DM_CK_SIZE:
        return json_integer((json_int_t) * (const size_t *)(base + k->off));
    case DM_CK_BOOL:
        return json_boolean(*(const bool *)(base + k->off));
    case DM_CK_STRLIST: {
        char *const *items = (char *const *)(base + k->off);
        size_t n = *(const size_t *)(base + k->off_n);
        json_t *arr = json_array();
        for (size_t i = 0; arr != NULL && i < n; i++) {
            if (json_array_append_new(arr, json_string(items[i])) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        return arr;
    }
    case DM_CK_PLUGINS: {
        json_t *p = *(json_t *const *)(base + k->off);
        return p != NULL ? json_incref(p) : json_array();
    }
    case DM_CK_SECRET_FILE:
        break;
    }
    return NULL;
}

/* Set root.<a>.<b>… = v, creating sections. Steals v. */
static int set_path(json_t *root, const char *path, json_t *v)
{
    json_t *obj = root;
    const char *p = path;
    const char *dot;
    char part[64];
    while ((dot = strchr(p, '.')) != NULL) {
        size_t n = (size_t)(dot - p);
        if (n >= sizeof part) {
            json_decref(v);
            return DM_EINVAL;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        json_t *next = json_object_get(obj, part);
        if (next == NULL) {
            next = json_object();
            if (json_object_set_new(obj, part, next) != 0) {
                json_decref(v);
                return DM_ENOMEM;
            }
        }
        obj = next;
        p = dot + 1;
    }
    return json_object_set_new(obj, p, v) == 0 ? 0 : DM_ENOMEM;
}

/* Builds every non-secret key's current value as one nested object, so the
 * tree shows what the server actually runs with. New reference or NULL. */
json_t *dm__config_emit(const dm_config *cfg)
{
    json_t *root = json_object();
    for (size_t i = 0; root != NULL && i < dm__config_nkeys; i++) {
        const dm_config_key *k = &dm__config_keys[i];
        if ((k->flags & DM_CK_SECRET) != 0 || k->type == DM_CK_SECRET_FILE) {
            continue;
        }
        json_t *v = emit_value(cfg, k);
        if (v == NULL || set_path(root, k->path, v) != 0) {
            json_decref(root);
            root = NULL;
        }
    }
    return root;
}

/* ---- the docs listing ---- */

static const char *type_doc(const dm_config_key *k)
{
    switch (k->type) {
    case DM_CK_STR: return (k->flags & DM_CK_SECRET) != 0 ? "string, secret" : "string";
    case DM_CK_INT: return "integer";
    case DM_CK_SIZE: return "integer (bytes)";
    case DM_CK_BOOL: return "boolean";
    case DM_CK_STRLIST: return "array of strings";
    case DM_CK_SECRET_FILE: return "file path";
    case DM_CK_PLUGINS: return "array of objects";
    }
    return "?";
}

static int describe_default(dm_buf *b, const dm_config_key *k)
{
    if (k->def_doc != NULL) {
        return dm__buf_printf(b, "`%s`", k->def_doc);
    }
    switch (k->type) {
    case DM_CK_STR:
    case DM_CK_SECRET_FILE:
        return dm__buf_printf(b, "`\"%s\"`", k->def);
    case DM_CK_INT:
    case DM_CK_SIZE:
        return dm__buf_printf(b, "`%lld`", k->idef);
    case DM_CK_BOOL:
        return dm__buf_puts(b, k->idef != 0 ? "`true`" : "`false`");
    case DM_CK_STRLIST:
        return dm__buf_puts(b, "`[]`");
    case DM_CK_PLUGINS:
        return dm__buf_puts(b, "`[{\"name\": \"auth-local\"}, {\"name\": \"payment-manual\"}]`");
    }
    return 0;
}

/* Renders the key table as Markdown (one row per key: key, type, default,
 * allowed values, environment variable, meaning). The same text sits in
 * docs/configuration.md between the GENERATED markers; a unit test keeps the
 * two equal. Returns a new string (caller frees) or NULL on ENOMEM. */
char *dm__config_describe(void)
{
    dm_buf b;
    int rc = 0;
    dm__buf_init(&b, 0);
    rc |= dm__buf_puts(&b, "| Key | Type | Default | Allowed | Environment | Meaning |\n"
                           "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; rc == 0 && i < dm__config_nkeys; i++) {
        const dm_config_key *k = &dm__config_keys[i];
        rc |= dm__buf_printf(&b, "| `%s` | %s | ", k->path, type_doc(k));
        rc |= describe_default(&b, k);
        if (k->allowed != NULL) {
            rc |= dm__buf_printf(&b, " | %s", k->allowed);
        } else if (k->type == DM_CK_INT || k->type == DM_CK_SIZE) {
            rc |= dm__buf_printf(&b, " | %lld..%lld", k->min, k->max);
        } else if ((k->flags & DM_CK_NONEMPTY) != 0) {
            rc |= dm__buf_puts(&b, " | not empty");
        } else if (k->type == DM_CK_BOOL) {
            rc |= dm__buf_puts(&b, " | true, false");
        } else {
            rc |= dm__buf_puts(&b, " | any");
        }
        rc |= dm__buf_printf(&b, " | %s%s%s | %s |\n", k->env != NULL ? "`" : "",
                             k->env != NULL ? k->env : "-", k->env != NULL ? "`" : "", k->doc);
    }
    if (rc != 0) {
        dm__buf_free(&b);
        return NULL;
    }
    return dm__buf_steal(&b, NULL);
}

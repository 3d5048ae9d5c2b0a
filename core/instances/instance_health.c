/*
 * instance_health.c — the "instances.health" periodic task: read a batch of
 * instances, judge each (the runtime's status, then the supervision probe:
 * an HTTP GET with libcurl or a TCP connect, both bounded) with no
 * transaction open, and record each verdict in a short transaction of its
 * own, adding an instance_health row when the verdict changed.
 */
#include "instances/instance_health.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include <dermaga/runtime.h>

#include "accounts/users.h"
#include "instances/instance_runtime.h"
#include "plugin/call.h"
#include "util/clock.h"
#include "util/log.h"

#define HEALTHY   "HEALTHY"
#define UNHEALTHY "UNHEALTHY"
#define UNKNOWN   "UNKNOWN"

/* One instance as read for a check. */
typedef struct target {
    char    id[37];
    char    status[16];
    char    runtime[65];   /* the plugin that runs it, or "" */
    json_t *supervision;   /* owned object */
    json_t *endpoints;     /* owned object */
} target;

/* What a check concluded: status is a static string, msg for people. */
typedef struct verdict {
    const char *status;
    char        msg[DM_INSTANCE_HEALTH_MSG_MAX];
} verdict;

static void say(verdict *v, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(verdict *v, const char *status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    v->status = status;
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

static void target_clear(target *t)
{
    json_decref(t->supervision);
    json_decref(t->endpoints);
    t->supervision = t->endpoints = NULL;
}

/* ---- reading ---- */

#define TARGET_COLS "id, status, coalesce(runtime, ''), supervision::text, endpoints::text"

/* A JSON object from text; an empty object when it does not parse (the
 * columns are CHECKed objects, so only memory can make that happen). */
static json_t *obj_of(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j != NULL ? j : json_object();
}

/* Rows of TARGET_COLS into a new array (caller frees each and it). */
static int targets_of(PGresult *r, target **out, int *n_out, dm_err_t *err)
{
    int n = PQntuples(r);
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    target *ts = calloc((size_t)n, sizeof *ts);
    if (ts == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        snprintf(ts[i].id, sizeof ts[i].id, "%s", PQgetvalue(r, i, 0));
        snprintf(ts[i].status, sizeof ts[i].status, "%s", PQgetvalue(r, i, 1));
        snprintf(ts[i].runtime, sizeof ts[i].runtime, "%s", PQgetvalue(r, i, 2));
        ts[i].supervision = obj_of(PQgetvalue(r, i, 3));
        ts[i].endpoints = obj_of(PQgetvalue(r, i, 4));
        if (ts[i].supervision == NULL || ts[i].endpoints == NULL) {
            for (int k = 0; k <= i; k++)
                target_clear(&ts[k]);
            free(ts);
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
    }
    *out = ts;
    *n_out = n;
    return 0;
}

/* The next batch, least recently checked first (autocommit: no lock is
 * held while the probes run). */
static int load_batch(dm_db *db, target **out, int *n, dm_err_t *err)
{
    /* Nothing to probe unless RUNNING: every other live instance turns
     * UNKNOWN in one statement, so the batch is all probes and a running
     * instance's turn does not wait behind stopped ones. */
    int rc = dm__db_run(db, "ih_unknown",
                        "WITH u AS (UPDATE instances SET health_status = 'UNKNOWN', last_health_check = now() "
                        "  WHERE status NOT IN ('RUNNING', 'TERMINATED') AND health_status <> 'UNKNOWN' "
                        "  RETURNING id, status) "
                        "INSERT INTO instance_health (instance_id, status, message) "
                        "SELECT id, 'UNKNOWN', 'instance is ' || lower(status) FROM u",
                        0, NULL, err);
    if (rc != 0)
        return rc;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", DM_INSTANCE_HEALTH_BATCH);
    const char *p[] = { lim };
    PGresult *r = dm__db_exec(db, "ih_batch",
                              "SELECT " TARGET_COLS " FROM instances WHERE status = 'RUNNING' "
                              "ORDER BY last_health_check ASC NULLS FIRST, id LIMIT $1::int",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    rc = targets_of(r, out, n, err);
    PQclear(r);
    return rc;
}

/* ---- judging: the runtime ---- */

/* True when the runtime reports the workload running and ready; else the
 * verdict is filled. The runtime's own message is meant for people. */
static bool runtime_ok(const dm_plugin *rt, const char *id, verdict *v)
{
    dm_runtime_status_t st;
    dm_err_t e = { 0, "" };
    int rc = dm__runtime_status(rt, id, &st, &e);
    json_decref(st.endpoints);
    const char *m = st.message;
    const char *sep = m[0] != '\0' ? ": " : "";
    if (rc == DM_EUNAVAIL || rc == DM_ETIMEDOUT) {
        say(v, UNKNOWN, "runtime unavailable");
        return false;
    }
    if (rc != 0) {
        DM_LOG_W("health of %s: runtime status failed: %s", id, e.msg);
        say(v, UNKNOWN, "the runtime could not report the workload's state");
        return false;
    }
    switch (st.phase) {
    case DM_RUNTIME_RUNNING:
        if (st.ready)
            return true;
        say(v, UNHEALTHY, "container running but not ready%s%.200s", sep, m);
        return false;
    case DM_RUNTIME_STOPPED:
        say(v, UNHEALTHY, "container stopped%s%.200s", sep, m);
        return false;
    case DM_RUNTIME_FAILED:
        say(v, UNHEALTHY, "container failed%s%.200s", sep, m);
        return false;
    case DM_RUNTIME_PENDING:
        say(v, UNHEALTHY, "container is not started yet%s%.200s", sep, m);
        return false;
    case DM_RUNTIME_ABSENT:
        say(v, UNHEALTHY, "container is missing");
        return false;
    default:
        say(v, UNKNOWN, "the runtime reports an unknown state");
        return false;
    }
}

/* ---- judging: the probe ---- */

/* A host as the runtime records it: a name or an IP address. */
static bool host_ok(const char *h)
{
    size_t n = h != NULL ? strlen(h) : 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == ':'))
            return false;
    }
    return true;
}

/* An absolute path of visible ASCII (no space, no fragment). */
static bool path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 512 || p[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '#')
            return false;
    return true;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* Why a connection failed, in words (strerror is not thread-safe). */
static const char *connect_words(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return "connection refused";
    case ETIMEDOUT:
        return "connection timed out";
    case EHOSTUNREACH:
        return "host unreachable";
    case ENETUNREACH:
        return "network unreachable";
    default:
        return "could not connect";
    }
}

/* GET http://host:port<path>: 2xx or 3xx (not followed) is healthy. */
static void probe_http(const char *host, int port, const char *path, verdict *v)
{
    if (dm__plugins_global_init() != 0) {
        DM_LOG_W("health: libcurl failed to initialise");
        say(v, UNKNOWN, "the health probe could not run");
        return;
    }
    char url[800];
    const bool v6 = strchr(host, ':') != NULL;
    snprintf(url, sizeof url, "http://%s%s%s:%d%s", v6 ? "[" : "", host, v6 ? "]" : "", port, path);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        say(v, UNKNOWN, "the health probe could not run");
        return;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the probe goes straight to the endpoint */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)DM_INSTANCE_HEALTH_PROBE_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DM_INSTANCE_HEALTH_PROBE_MS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dermaga-health/1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(c);
    long code = 0, os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_cleanup(c);
    if (cc == CURLE_OK && code >= 200 && code < 400)
        say(v, HEALTHY, "probe GET %.100s answered %ld", path, code);
    else if (cc == CURLE_OK)
        say(v, UNHEALTHY, "probe GET %.100s answered %ld", path, code);
    else if (cc == CURLE_COULDNT_CONNECT)
        say(v, UNHEALTHY, "%s on %s:%d", connect_words((int)os_errno), host, port);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        say(v, UNHEALTHY, "probe GET %.100s got no answer within %d s", path, DM_INSTANCE_HEALTH_PROBE_MS / 1000);
    else
        say(v, UNHEALTHY, "probe GET %.100s failed: %s", path, curl_easy_strerror(cc));
}

/* One non-blocking connect to ai, waiting at most until deadline; 0 or an
 * errno value. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return errno;
    int e = 0;
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        e = errno;
    else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        e = errno;
    while (e == EINPROGRESS || e == EINTR) {
        int64_t left = deadline - dm__clock_mono_ms();
        if (left <= 0) {
            e = ETIMEDOUT;
            break;
        }
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        socklen_t len = sizeof e;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
        else if (n == 0)
            e = ETIMEDOUT;
    }
    close(fd);
    return e;
}

/* A TCP connect to host:port within the probe time. */
static void probe_tcp(const char *host, int port, verdict *v)
{
    const int64_t deadline = dm__clock_mono_ms() + DM_INSTANCE_HEALTH_PROBE_MS;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, ps, &hints, &res) != 0 || res == NULL) {
        say(v, UNHEALTHY, "cannot resolve %s", host);
        return;
    }
    int e = ETIMEDOUT;
    for (const struct addrinfo *ai = res; ai != NULL && dm__clock_mono_ms() < deadline; ai = ai->ai_next) {
        e = connect_one(ai, deadline);
        if (e == 0)
            break;
    }
    freeaddrinfo(res);
    if (e == 0)
        say(v, HEALTHY, "accepts connections on %s:%d", host, port);
    else
        say(v, UNHEALTHY, "%s on %s:%d", connect_words(e), host, port);
}

/* The supervision probe, when there is one, against its recorded endpoint. */
static void probe(const target *t, verdict *v)
{
    const json_t *pr = json_object_get(t->supervision, "probe");
    const char *type = json_string_value(json_object_get(pr, "type"));
    if (type == NULL || (strcmp(type, "http") != 0 && strcmp(type, "tcp") != 0)) {
        /* No probe (or one the runtime runs itself): its status says it all. */
        say(v, HEALTHY, "running and ready");
        return;
    }
    const char *pname = json_string_value(json_object_get(pr, "port"));
    const json_t *ep = pname != NULL ? json_object_get(t->endpoints, pname) : NULL;
    const char *host = json_string_value(json_object_get(ep, "host"));
    json_int_t port = json_integer_value(json_object_get(ep, "port"));
    if (ep == NULL || !host_ok(host) || port < 1 || port > 65535) {
        say(v, UNKNOWN, "no address is known for the probe's port %.40s", pname != NULL ? pname : "(none)");
        return;
    }
    if (strcmp(type, "tcp") == 0) {
        probe_tcp(host, (int)port, v);
        return;
    }
    const json_t *jp = json_object_get(pr, "path");
    const char *path = jp != NULL ? json_string_value(jp) : "/";
    if (path == NULL || !path_ok(path)) {
        say(v, UNKNOWN, "the health probe's path is not valid");
        return;
    }
    probe_http(host, (int)port, path, v);
}

/* The whole check; nothing here touches the database. */
static void judge(const dm_plugin_set *set, const target *t, verdict *v)
{
    if (strcmp(t->status, "RUNNING") != 0) {
        char low[16];
        size_t i = 0;
        for (; t->status[i] != '\0' && i + 1 < sizeof low; i++)
            low[i] = (char)(t->status[i] >= 'A' && t->status[i] <= 'Z' ? t->status[i] + 32 : t->status[i]);
        low[i] = '\0';
        say(v, UNKNOWN, "instance is %s", low);
        return;
    }
    /* The runtime the instance records, never another in its place. */
    const dm_plugin *rt = NULL;
    dm_err_t e = { 0, "" };
    if (dm__instance_runtime(set, t->runtime, NULL, NULL, &rt, &e) != 0) {
        say(v, UNKNOWN, "%s", e.msg);
        return;
    }
    if (runtime_ok(rt, t->id, v))
        probe(t, v);
}

/* ---- recording ---- */

/*
 * Record v for instance id: lock the row first, so the second statement's
 * snapshot (taken after the lock) sees every committed status change and
 * history row. A verdict about a running workload is kept only if the row
 * is still RUNNING: after a concurrent stop it would be stale, so UNKNOWN is
 * recorded instead. DM_ENOTFOUND when the instance is gone or TERMINATED.
 */
static int record(dm_db *db, const char *id, const verdict *v, char out_status[16], dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    const char *p1[] = { id };
    PGresult *r = dm__db_exec(db, "ih_lock",
                              "SELECT 1 FROM instances WHERE id = $1::uuid AND status <> 'TERMINATED' FOR UPDATE",
                              1, p1, err);
    if (r == NULL)
        return dm__db_end(db, dm__db_failed(err), err);
    const bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found)
        return dm__db_end(db, dm_err_set(err, DM_ENOTFOUND, "no live instance %s", id), err);
    const char *p2[] = { id, v->status, v->msg };
    r = dm__db_exec(db, "ih_record",
                    "WITH cur AS (SELECT id, status, health_status AS old FROM instances WHERE id = $1::uuid), "
                    "v AS (SELECT id, old, "
                    "  CASE WHEN $2::text = 'UNKNOWN' OR status = 'RUNNING' THEN $2::text ELSE 'UNKNOWN' END AS st, "
                    "  CASE WHEN $2::text = 'UNKNOWN' OR status = 'RUNNING' THEN $3::text "
                    "       ELSE 'instance is ' || lower(status) END AS msg FROM cur), "
                    "upd AS (UPDATE instances i SET health_status = v.st, last_health_check = now() "
                    "  FROM v WHERE i.id = v.id RETURNING i.id), "
                    "ins AS (INSERT INTO instance_health (instance_id, status, message) "
                    "  SELECT v.id, v.st, v.msg FROM v WHERE v.st <> v.old "
                    "  OR NOT EXISTS (SELECT 1 FROM instance_health h WHERE h.instance_id = v.id) RETURNING id) "
                    "SELECT v.st, v.old, v.msg, (SELECT count(*) FROM ins), (SELECT count(*) FROM upd) FROM v",
                    3, p2, err);
    if (r == NULL)
        return dm__db_end(db, dm__db_failed(err), err);
    if (PQntuples(r) == 1) {
        if (strcmp(PQgetvalue(r, 0, 3), "0") != 0)
            DM_LOG_I("instance %s health %s -> %s: %s", id, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0),
                     PQgetvalue(r, 0, 2));
        if (out_status != NULL)
            snprintf(out_status, 16, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return dm__db_end(db, 0, err);
}

/* ---- entry points ---- */

int dm__instance_health_run(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job;
    const dm_plugin_set *set = ctx;
    target *ts = NULL;
    int n = 0;
    int rc = load_batch(db, &ts, &n, err);
    if (rc != 0)
        return rc;
    const int64_t until = dm__clock_mono_ms() + DM_INSTANCE_HEALTH_BUDGET_MS;
    int done = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (dm__clock_mono_ms() >= until) {
            DM_LOG_W("health checks: %d of %d checked within %d s; the rest go first next time", done, n,
                     DM_INSTANCE_HEALTH_BUDGET_MS / 1000);
            break;
        }
        verdict v;
        judge(set, &ts[i], &v);
        rc = record(db, ts[i].id, &v, NULL, err);
        if (rc == DM_ENOTFOUND) /* terminated while it was checked */
            rc = 0;
        done++;
    }
    for (int i = 0; i < n; i++)
        target_clear(&ts[i]);
    free(ts);
    return rc;
}

int dm__instance_health_check(dm_db *db, const dm_plugin_set *plugins, const char *instance_id,
                              char out_status[16], dm_err_t *err)
{
    if (instance_id == NULL || !dm__users_valid_id(instance_id))
        return dm_err_set(err, DM_EINVAL, "not an instance id");
    const char *p[] = { instance_id };
    PGresult *r = dm__db_exec(db, "ih_one",
                              "SELECT " TARGET_COLS " FROM instances WHERE id = $1::uuid AND status <> 'TERMINATED'",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    target *ts = NULL;
    int n = 0;
    int rc = targets_of(r, &ts, &n, err);
    PQclear(r);
    if (rc == 0 && n == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no live instance %s", instance_id);
    if (rc == 0) {
        verdict v;
        judge(plugins, &ts[0], &v);
        rc = record(db, ts[0].id, &v, out_status, err);
    }
    for (int i = 0; i < n; i++)
        target_clear(&ts[i]);
    free(ts);
    return rc;
}

int dm__instance_health_register(dm_jobs_runner *r, dm_plugin_set *plugins, int every_s, dm_err_t *err)
{
    if (every_s < 1)
        return dm_err_set(err, DM_EINVAL, "health checks: the interval must be at least 1 s");
    if (dm__plugins_find(plugins, DM_PLUGIN_RUNTIME, NULL) == NULL) {
        DM_LOG_W("no runtime plugin enabled: health checks are not run on this node");
        return 0;
    }
    return dm__jobs_register_periodic(r, DM_INSTANCE_HEALTH_TASK, every_s, dm__instance_health_run, plugins, err);
}

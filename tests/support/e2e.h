/*
 * e2e.h — support for end-to-end tests: start the real `dermaga` binary on a
 * loopback port with a generated config, capture its stderr, stop it with a
 * signal; a raw HTTP/1.1 client over sockets (no HTTP library, so tests see
 * exactly the bytes); stand-ins for a database (a private PostgreSQL cluster
 * through scripts/pg.sh, and a listener that never answers).
 */
#ifndef DM_E2E_H
#define DM_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* ---- the server process (e2e.c) -------------------------------------- */

typedef struct dm_e2e_server {
    pid_t pid;          /* 0 once reaped */
    int   port;         /* where it listens */
    int   wait_status;  /* waitpid status once reaped */
    char  dir[128];     /* private temp dir: config.json, server.log, data/ */
    char  config_path[192];
    char  log_path[192];
} dm_e2e_server;

/*
 * Start the binary ($DERMAGA_TEST_BIN, else DM_BUILD_DIR "/dermaga") as
 * `dermaga serve --config <dir>/config.json` on a free loopback port and wait
 * (bounded) for its "listening on http://127.0.0.1:PORT" line. The config is
 * the test defaults (short timeouts, migrateOnStart false, a database URL
 * that refuses connections) with `overrides` merged over them recursively;
 * overrides is stolen (may be NULL). DERMAGA_* variables are removed from the
 * child's environment so the file alone decides. stdout and stderr go to
 * s->log_path. The child gets SIGKILL if the test process dies.
 * Fails the current test (ck_abort) when the server does not come up.
 */
void dm_e2e_server_start(dm_e2e_server *s, json_t *overrides);

/*
 * Send sig and wait up to timeout_ms for the process to exit. Returns the
 * waitpid status, or -1 when it did not exit in time (it is then killed with
 * SIGKILL and reaped, so nothing is left behind).
 */
int  dm_e2e_server_stop(dm_e2e_server *s, int sig, int timeout_ms);

/* Wait up to timeout_ms for the process to exit on its own; as above. */
int  dm_e2e_server_wait_exit(dm_e2e_server *s, int timeout_ms);

/* Kill the process if still running and remove its temp dir. Idempotent. */
void dm_e2e_server_free(dm_e2e_server *s);

/* The captured stdout+stderr so far: new string (caller frees), never NULL
 * (an empty string when unreadable). */
char *dm_e2e_server_log(const dm_e2e_server *s);

/* Wait up to timeout_ms until the captured output contains needle. */
bool dm_e2e_server_wait_log(const dm_e2e_server *s, const char *needle, int timeout_ms);

/* End of a test: the server must still run and exit 0 within 10 s of
 * SIGTERM; then it is freed. Fails the test with the tail of its output
 * otherwise (a sanitizer report, a crash, a hang). No-op if s was freed. */
void dm_e2e_server_finish(dm_e2e_server *s);

/* "exit 0", "signal 9", "did not exit" …: a static string for assert
 * messages describing a value returned by dm_e2e_server_stop. */
const char *dm_e2e_describe_status(int status);

/* True when status (from dm_e2e_server_stop) is a normal exit with code 0. */
bool dm_e2e_exited_0(int status);

/* ---- sockets (e2e.c) ------------------------------------------------- */

/* A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
int  dm_e2e_free_port(void);

/* A listener on 127.0.0.1 that never accepts: the kernel completes the
 * handshake and then nothing ever answers (a hung database). Returns the fd
 * (caller closes) and fills *port; -1 on failure. */
int  dm_e2e_blackhole_listen(int *port);

/* Monotonic milliseconds, for deadlines and elapsed-time checks. */
long long dm_e2e_now_ms(void);

/* ---- the HTTP client (e2e_http.c) ------------------------------------ */

/* Error returns of the client: 0 or one of these (all negative). */
#define DM_E2E_TIMEOUT  (-1) /* nothing (more) arrived in time */
#define DM_E2E_CLOSED   (-2) /* peer closed (EOF) before a complete response */
#define DM_E2E_RESET    (-3) /* connection reset (RST) */
#define DM_E2E_PROTO    (-4) /* bytes that are not an HTTP/1.x response */
#define DM_E2E_SYS      (-5) /* a system call failed (errno kept in conn) */

typedef struct dm_e2e_conn {
    int    fd;
    char  *buf;        /* bytes received and not yet consumed */
    size_t len, cap;
    bool   eof;        /* the server closed (EOF or reset) */
    bool   reset;      /* …with a reset */
    int    sys_errno;  /* errno of the last DM_E2E_SYS */
} dm_e2e_conn;

typedef struct dm_e2e_hdr {
    char *name;
    char *value;
} dm_e2e_hdr;

typedef struct dm_e2e_response {
    int            http_minor;
    int            status;
    char          *reason;
    dm_e2e_hdr    *headers;
    int            n_headers;
    char          *body;       /* NUL-terminated; "" when empty */
    size_t         body_len;
    bool           has_length; /* a Content-Length was given */
    size_t         head_len;   /* bytes of status line + headers */
} dm_e2e_response;

/* Connect to 127.0.0.1:port (blocking, loopback). 0, or -errno
 * (e.g. -ECONNREFUSED). On success c owns a socket: dm_e2e_close it. */
int  dm_e2e_connect(dm_e2e_conn *c, int port);
void dm_e2e_close(dm_e2e_conn *c);
/* Close with a reset (SO_LINGER 0): a client that vanishes abruptly. */
void dm_e2e_abort(dm_e2e_conn *c);
/* Half-close: no more bytes from us, responses may still arrive. 0 or -errno. */
int  dm_e2e_shutdown_write(dm_e2e_conn *c);

/* Write all bytes. 0, or DM_E2E_RESET / DM_E2E_SYS (server went away). */
int  dm_e2e_send(dm_e2e_conn *c, const void *data, size_t len);
int  dm_e2e_send_str(dm_e2e_conn *c, const char *s);

/*
 * Read exactly one response (a 1xx interim response counts as one) within
 * timeout_ms. The body is framed by Content-Length, or runs to EOF when
 * there is none; 1xx, 204, 304 and answers to HEAD (head_request) have none.
 * Bytes after the response stay buffered for the next call (pipelining).
 * 0 and *res filled (free it with dm_e2e_response_free), or DM_E2E_*.
 */
/* Receive once into c->buf (kept NUL-terminated, grown as needed),
 * waiting at most until deadline (dm_e2e_now_ms time): 0 when bytes or EOF
 * arrived (then c->eof; a reset also sets c->reset), DM_E2E_TIMEOUT,
 * DM_E2E_SYS. For readers of their own formats (e2e_sse.c). */
int  dm_e2e_fill(dm_e2e_conn *c, long long deadline);
/* Drop the first n buffered bytes. */
void dm_e2e_consume(dm_e2e_conn *c, size_t n);

int  dm_e2e_read_response(dm_e2e_conn *c, dm_e2e_response *res, int timeout_ms,
                          bool head_request);
void dm_e2e_response_free(dm_e2e_response *res);

/* First header named name (case-insensitive): borrowed value, or NULL. */
const char *dm_e2e_header(const dm_e2e_response *res, const char *name);
/* How many headers are named name. */
int  dm_e2e_header_count(const dm_e2e_response *res, const char *name);

/*
 * Wait up to timeout_ms for the server to close the connection (EOF or
 * reset), keeping whatever arrives in c->buf / c->len. 0 once closed,
 * DM_E2E_TIMEOUT when still open at the deadline.
 */
int  dm_e2e_wait_closed(dm_e2e_conn *c, int timeout_ms);

/* Does anything arrive within timeout_ms? True when bytes or a close came
 * (they stay buffered), false when the connection stayed silent. */
bool dm_e2e_readable(dm_e2e_conn *c, int timeout_ms);

/* Connect, send request, read one response, close. 0 or as above
 * (a failed connect is DM_E2E_SYS). */
int  dm_e2e_roundtrip(int port, const char *request, dm_e2e_response *res, int timeout_ms);

/* The same, failing the current test with a message instead of returning
 * an error. `what` names the step in that message. */
void dm_e2e_connect_ok(dm_e2e_conn *c, int port);
void dm_e2e_send_ok(dm_e2e_conn *c, const char *s);
void dm_e2e_read_ok(dm_e2e_conn *c, dm_e2e_response *res, bool head_request, const char *what);
void dm_e2e_roundtrip_ok(int port, const char *request, dm_e2e_response *res);

/* The per-response deadline the *_ok helpers use (sanitizer builds are slow). */
#define DM_E2E_T_MS 5000

/* New string (caller frees): n copies of ch. */
char *dm_e2e_filler(size_t n, char ch);

/*
 * Send req (len bytes; the server may refuse it half-way) on a new
 * connection and expect: the error envelope with status, Connection: close,
 * then the close with no further bytes (nothing smuggled was answered).
 */
void dm_e2e_expect_refused(int port, const char *req, size_t len, int status, const char *what);

/* One request on a new connection must get status. */
void dm_e2e_expect_status(int port, const char *req, int status, const char *what);

/* Read n responses from c and check each one's X-Request-Id and status, in
 * order (pipelining). */
void dm_e2e_expect_in_order(dm_e2e_conn *c, int n, const char *const ids[], const int statuses[]);

/* A static description of a DM_E2E_* code, for assert messages. */
const char *dm_e2e_strerror(int rc);

/* The body parsed as JSON: new reference (caller decrefs), NULL if not JSON. */
json_t *dm_e2e_json(const dm_e2e_response *res);

/*
 * Check the docs/openapi.yaml error envelope {"success":false,"error":{"code","message",
 * "details":[]}} with Content-Type application/json and the given status;
 * code must be SNAKE_CASE. Fails the current test naming `what` otherwise.
 */
void dm_e2e_assert_error(const dm_e2e_response *res, int status, const char *what);

/* The value of one Prometheus sample: `series` is the full name with
 * labels, e.g. dermaga_http_connections_rejected_total or
 * dermaga_http_requests_total{method="GET",route="/healthz",status="200"}.
 * -1 when the series is absent. */
long long dm_e2e_metric(const char *text, const char *series);

/* GET /metrics on a fresh connection and return one sample as above;
 * -2 when /metrics itself failed. */
long long dm_e2e_fetch_metric(int port, const char *series);

/* Poll /metrics (every few ms) until lo <= sample <= hi, for at most
 * timeout_ms. Returns the last value seen (as dm_e2e_fetch_metric). */
long long dm_e2e_wait_metric(int port, const char *series, long long lo, long long hi,
                             int timeout_ms);

/* ---- a private PostgreSQL cluster (e2e.c) ---------------------------- */

typedef struct dm_e2e_pg {
    char dir[128];     /* temp dir (mode 755) holding the cluster dir */
    char cluster[160]; /* DIR given to pg.sh */
    int  port;
    char url[320];     /* postgresql://postgres:…@127.0.0.1:PORT/postgres */
    bool running;
} dm_e2e_pg;

/* Create and start a throwaway cluster with $DERMAGA_TEST_PG_SH (else the
 * source tree's scripts/pg.sh) on a free port. 0, or -1 with a message in
 * why (its output is kept in pg->dir). */
int  dm_e2e_pg_create(dm_e2e_pg *pg, char *why, size_t why_len);
/* pg.sh start / stop on the cluster. 0 or -1 with a message in why. */
int  dm_e2e_pg_start(dm_e2e_pg *pg, char *why, size_t why_len);
int  dm_e2e_pg_stop(dm_e2e_pg *pg, char *why, size_t why_len);
/* Stop the cluster (if running) and remove its files. Idempotent. */
void dm_e2e_pg_destroy(dm_e2e_pg *pg);

#endif

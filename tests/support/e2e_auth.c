/*
 * e2e_auth.c — shared fixtures and requests of the account e2e suites.
 */
#include "e2e_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "testdb.h"

dm_e2e_server dm_e2e_auth_srv;
char *dm_e2e_auth_db_url;
static char db_prefix[32];

void dm_e2e_auth_sweep_setup(const char *base)
{
    snprintf(db_prefix, sizeof db_prefix, "%.16s_%ld", base, (long)getpid());
}

void dm_e2e_auth_sweep_teardown(void)
{
    const char *admin = getenv("DERMAGA_TEST_DATABASE_URL");
    if (admin == NULL || admin[0] == '\0')
        return;
    char *names = dm_test_db_scalarf(admin, "SELECT string_agg(datname, ',') FROM pg_database "
                                            "WHERE starts_with(datname, '%s_')", db_prefix);
    for (char *save = NULL, *n = strtok_r(names, ",", &save); n != NULL;
         n = strtok_r(NULL, ",", &save))
        free(dm_test_db_scalarf(admin, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", n));
    free(names);
}

void dm_e2e_auth_setup(void)
{
    dm_e2e_auth_setup_with(NULL);
}

void dm_e2e_auth_setup_with(json_t *extra)
{
    DM_TEST_REQUIRE_ENV("DERMAGA_TEST_DATABASE_URL");
    dm_e2e_auth_db_url = dm_test_db_create_migrated(db_prefix);
    json_t *o = json_pack("{s:{s:s,s:b},s:{s:[{s:s}]},s:{s:s}}", "database", "url", dm_e2e_auth_db_url,
                          "migrateOnStart", 0, "plugins", "enabled", "name", "auth-local",
                          "auth", "jwtSecret", DM_E2E_AUTH_SECRET);
    ck_assert_msg(o != NULL, "cannot build the config overrides");
    if (extra != NULL) {
        ck_assert_msg(json_object_update_recursive(o, extra) == 0, "cannot merge the config overrides");
        json_decref(extra);
    }
    const char *pdir = getenv("DERMAGA_TEST_PLUGIN_DIR");
    /* A suite that assembled its own plugin folder (or folders) keeps it. */
    const json_t *pl = json_object_get(o, "plugins");
    if (pdir != NULL && pdir[0] != '\0' && json_object_get(pl, "dir") == NULL &&
        json_object_get(pl, "dirs") == NULL)
        json_object_set_new(json_object_get(o, "plugins"), "dir", json_string(pdir));
    dm_e2e_server_start(&dm_e2e_auth_srv, o);
}

void dm_e2e_auth_teardown(void)
{
    dm_e2e_server_finish(&dm_e2e_auth_srv);
    dm_test_db_drop(dm_e2e_auth_db_url);
    free(dm_e2e_auth_db_url);
    dm_e2e_auth_db_url = NULL;
}

static char *request(const char *method, const char *path, const char *authz, const char *ctype,
                     const char *body)
{
    size_t blen = body != NULL ? strlen(body) : 0;
    size_t cap = strlen(path) + (authz != NULL ? strlen(authz) : 0) + blen + 256;
    char *req = malloc(cap);
    ck_assert_msg(req != NULL, "out of memory");
    size_t n = (size_t)snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: t\r\n", method, path);
    if (authz != NULL)
        n += (size_t)snprintf(req + n, cap - n, "Authorization: %s\r\n", authz);
    if (body != NULL)
        n += (size_t)snprintf(req + n, cap - n, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype,
                              blen);
    snprintf(req + n, cap - n, "\r\n%s", body != NULL ? body : "");
    return req;
}

static char *bearer(const char *token)
{
    if (token == NULL)
        return NULL;
    size_t n = strlen(token) + 8;
    char *s = malloc(n);
    ck_assert_msg(s != NULL, "out of memory");
    snprintf(s, n, "Bearer %s", token);
    return s;
}

char *dm_e2e_auth_request(const char *method, const char *path, const char *token, const char *body)
{
    char *authz = bearer(token);
    char *req = request(method, path, authz, "application/json", body);
    free(authz);
    return req;
}

void dm_e2e_auth_call_raw(const char *method, const char *path, const char *authz,
                          const char *ctype, const char *body, dm_e2e_response *res)
{
    char *req = request(method, path, authz, ctype, body);
    dm_e2e_roundtrip_ok(dm_e2e_auth_srv.port, req, res);
    free(req);
}

void dm_e2e_auth_call(const char *method, const char *path, const char *token, const char *body,
                      dm_e2e_response *res)
{
    char *authz = bearer(token);
    dm_e2e_auth_call_raw(method, path, authz, "application/json", body, res);
    free(authz);
}

json_t *dm_e2e_auth_ok_data(const dm_e2e_response *res, int status, const char *what)
{
    ck_assert_msg(res->status == status, "%s: status %d, expected %d; body: %s", what, res->status,
                  status, res->body);
    json_t *doc = dm_e2e_json(res);
    ck_assert_msg(doc != NULL && json_is_true(json_object_get(doc, "success")),
                  "%s: not a success envelope: %s", what, res->body);
    json_t *data = json_incref(json_object_get(doc, "data"));
    json_decref(doc);
    ck_assert_msg(data != NULL, "%s: no \"data\": %s", what, res->body);
    return data;
}

void dm_e2e_auth_call_json(const char *method, const char *path, const char *token, json_t *body,
                           dm_e2e_response *res)
{
    char *b = NULL;
    if (body != NULL) {
        b = json_dumps(body, JSON_COMPACT);
        ck_assert_msg(b != NULL, "out of memory");
        json_decref(body);
    }
    dm_e2e_auth_call(method, path, token, b, res);
    free(b);
}

void dm_e2e_auth_expect_error(const dm_e2e_response *res, int status, const char *code,
                              const char *what)
{
    dm_e2e_assert_error(res, status, what);
    json_t *doc = dm_e2e_json(res);
    const char *got = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    ck_assert_msg(got != NULL && strcmp(got, code) == 0, "%s: error.code %s, expected %s: %s", what,
                  got ? got : "(none)", code, res->body);
    json_decref(doc);
}

char *dm_e2e_auth_register(const char *email, char id[37])
{
    dm_e2e_response res;
    dm_e2e_auth_call_json("POST", "/api/auth/register", NULL,
                          json_pack("{s:s,s:s,s:s}", "email", email, "password", DM_E2E_AUTH_PASSWORD,
                                    "name", "Test User"),
                          &res);
    json_t *data = dm_e2e_auth_ok_data(&res, 201, "register");
    dm_e2e_response_free(&res);
    const char *tok = json_string_value(json_object_get(data, "accessToken"));
    const char *uid = json_string_value(json_object_get(json_object_get(data, "user"), "id"));
    ck_assert_msg(tok != NULL && uid != NULL && strlen(uid) == 36, "register: no token or user id");
    if (id != NULL)
        snprintf(id, 37, "%s", uid);
    char *out = strdup(tok);
    json_decref(data);
    ck_assert_msg(out != NULL, "out of memory");
    return out;
}

char *dm_e2e_auth_login(const char *email, const char *password)
{
    dm_e2e_response res;
    dm_e2e_auth_call_json("POST", "/api/auth/login", NULL,
                          json_pack("{s:s,s:s}", "email", email, "password", password), &res);
    json_t *data = dm_e2e_auth_ok_data(&res, 200, "login");
    dm_e2e_response_free(&res);
    const char *tok = json_string_value(json_object_get(data, "accessToken"));
    ck_assert_msg(tok != NULL, "login: no token");
    char *out = strdup(tok);
    json_decref(data);
    ck_assert_msg(out != NULL, "out of memory");
    return out;
}

int dm_e2e_call_port(int port, const char *method, const char *path, const char *token, const char *body,
                     json_t **json_out)
{
    char *req = dm_e2e_auth_request(method, path, token, body);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(port, req, &res);
    free(req);
    int status = res.status;
    if (json_out != NULL)
        *json_out = res.body_len > 0 ? dm_e2e_json(&res) : NULL;
    dm_e2e_response_free(&res);
    return status;
}

char *dm_e2e_session_port(int port, const char *email, const char *password, bool do_register, char id[37])
{
    json_t *body = do_register ? json_pack("{s:s,s:s,s:s}", "email", email, "password", password, "name", "Tester")
                               : json_pack("{s:s,s:s}", "email", email, "password", password);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ck_assert_msg(text != NULL, "out of memory");
    json_t *doc = NULL;
    int st = dm_e2e_call_port(port, "POST", do_register ? "/api/auth/register" : "/api/auth/login", NULL, text, &doc);
    free(text);
    ck_assert_msg(st == (do_register ? 201 : 200), "%s %s: status %d", do_register ? "register" : "login", email, st);
    json_t *data = json_object_get(doc, "data");
    const char *tok = json_string_value(json_object_get(data, "accessToken"));
    ck_assert_msg(tok != NULL, "%s %s: no accessToken", do_register ? "register" : "login", email);
    char *out = strdup(tok);
    ck_assert_msg(out != NULL, "out of memory");
    if (id != NULL)
        snprintf(id, 37, "%s", json_string_value(json_object_get(json_object_get(data, "user"), "id")) ?: "");
    json_decref(doc);
    return out;
}

json_t *dm_e2e_jpath(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part != NULL && cur != NULL;
         part = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)strtol(part, NULL, 10));
        else
            cur = json_object_get(cur, part);
    }
    return cur;
}

long long dm_e2e_jint(json_t *doc, const char *path)
{
    json_t *v = dm_e2e_jpath(doc, path);
    ck_assert_msg(json_is_integer(v), "%s: not an integer", path);
    return (long long)json_integer_value(v);
}

const char *dm_e2e_jstr(json_t *doc, const char *path)
{
    json_t *v = dm_e2e_jpath(doc, path);
    ck_assert_msg(json_is_string(v), "%s: not a string", path);
    return json_string_value(v);
}

void dm_e2e_auth_call_keyed(const char *method, const char *path, const char *token, const char *key,
                            const char *body, dm_e2e_response *res)
{
    char *req = dm_e2e_auth_request(method, path, token, body);
    char *hdr = strstr(req, "\r\n") + 2;
    size_t cap = strlen(req) + strlen(key) + 64;
    char *full = malloc(cap);
    ck_assert_msg(full != NULL, "out of memory");
    snprintf(full, cap, "%.*sIdempotency-Key: %s\r\n%s", (int)(hdr - req), req, key, hdr);
    dm_e2e_roundtrip_ok(dm_e2e_auth_srv.port, full, res);
    free(full);
    free(req);
}

/*
 * test_auth.c — the /api/auth account routes end to end against the real
 * binary with the auth-local plugin and a fresh migrated database per test:
 * register (shape, normalisation, every validation refusal), login, /me,
 * /providers, PUT /me, one user never seeing another, and access tokens
 * forged by hand (alg none, other key, RS256, expired, nbf, typ, tampered).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define SECRET    DM_E2E_AUTH_SECRET
#define OTHER_KEY "another-secret-that-is-also-longer-than-32-bytes"
#define PASSWORD  "correct horse battery"
#define TOK_MAX   4096

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("authe2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }
static void setup(void) { dm_e2e_auth_setup(); }
static void teardown(void) { dm_e2e_auth_teardown(); }

/* ---- requests --------------------------------------------------------- */

/* Short names for the shared helpers (tests/support/e2e_auth.h). */
#define call_raw dm_e2e_auth_call_raw
#define call dm_e2e_auth_call
#define call_pack dm_e2e_auth_call_json
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

/* 400 VALIDATION_ERROR whose details name field. */
static void expect_invalid_field(const dm_e2e_response *res, const char *field, const char *what)
{
    expect_error(res, 400, "VALIDATION_ERROR", what);
    json_t *doc = dm_e2e_json(res);
    json_t *details = json_object_get(json_object_get(doc, "error"), "details");
    bool named = false;
    size_t i;
    json_t *d;
    json_array_foreach(details, i, d) {
        const char *f = json_string_value(json_object_get(d, "field"));
        if (f != NULL && strcmp(f, field) == 0 && json_is_string(json_object_get(d, "message")))
            named = true;
    }
    ck_assert_msg(named, "%s: details do not name field \"%s\" with a message: %s", what, field,
                  res->body);
    json_decref(doc);
}

/* ---- accounts --------------------------------------------------------- */

typedef struct session {
    char id[64];
    char access[TOK_MAX];
    char refresh[512];
} session;

/* Keys that must never reach a client. */
static void expect_no_secrets(json_t *user, const char *what)
{
    const char *key;
    json_t *v;
    json_object_foreach(user, key, v) {
        ck_assert_msg(strcasestr(key, "password") == NULL && strcasestr(key, "hash") == NULL
                          && strcasestr(key, "secret") == NULL,
                      "%s: user carries a secret-looking field \"%s\"", what, key);
    }
}

static void check_user(json_t *u, const char *email, const char *name, const char *what)
{
    ck_assert_msg(json_is_object(u), "%s: user is not an object", what);
    const char *id = json_string_value(json_object_get(u, "id"));
    ck_assert_msg(id != NULL && strlen(id) == 36, "%s: user.id is not a UUID: %s", what,
                  id ? id : "(none)");
    const char *got_email = json_string_value(json_object_get(u, "email"));
    ck_assert_msg(got_email != NULL && strcmp(got_email, email) == 0,
                  "%s: user.email %s, expected %s", what, got_email ? got_email : "(none)", email);
    const char *got_name = json_string_value(json_object_get(u, "name"));
    ck_assert_msg(got_name != NULL && strcmp(got_name, name) == 0,
                  "%s: user.name %s, expected %s", what, got_name ? got_name : "(none)", name);
    const char *role = json_string_value(json_object_get(u, "role"));
    ck_assert_msg(role != NULL && strcmp(role, "USER") == 0, "%s: user.role %s, expected USER",
                  what, role ? role : "(none)");
    json_t *credit = json_object_get(u, "creditBalance");
    ck_assert_msg(json_is_integer(credit) && json_integer_value(credit) == 0,
                  "%s: user.creditBalance is not the integer 0", what);
    const char *at = json_string_value(json_object_get(u, "createdAt"));
    size_t alen = at != NULL ? strlen(at) : 0;
    ck_assert_msg(alen >= 20 && at[10] == 'T'
                      && (at[alen - 1] == 'Z' || strcmp(at + alen - 6, "+00:00") == 0),
                  "%s: user.createdAt is not RFC 3339 UTC: %s", what, at ? at : "(none)");
    expect_no_secrets(u, what);
}

/* Check {user, accessToken, refreshToken, expiresIn:900} and fill s. */
static void check_auth_data(json_t *data, const char *email, const char *name, session *s,
                            const char *what)
{
    check_user(json_object_get(data, "user"), email, name, what);
    const char *a = json_string_value(json_object_get(data, "accessToken"));
    const char *r = json_string_value(json_object_get(data, "refreshToken"));
    ck_assert_msg(a != NULL && strlen(a) > 20 && strlen(a) < sizeof s->access,
                  "%s: no plausible accessToken", what);
    ck_assert_msg(r != NULL && strlen(r) > 20 && strlen(r) < sizeof s->refresh,
                  "%s: no plausible refreshToken", what);
    json_t *exp = json_object_get(data, "expiresIn");
    ck_assert_msg(json_is_integer(exp) && json_integer_value(exp) == 900,
                  "%s: expiresIn is not 900", what);
    if (s != NULL) {
        snprintf(s->id, sizeof s->id, "%s",
                 json_string_value(json_object_get(json_object_get(data, "user"), "id")));
        snprintf(s->access, sizeof s->access, "%s", a);
        snprintf(s->refresh, sizeof s->refresh, "%s", r);
    }
}

static void register_user(const char *email, const char *name, session *s)
{
    dm_e2e_response res;
    call_pack("POST", "/api/auth/register", NULL,
              json_pack("{s:s,s:s,s:s}", "email", email, "password", PASSWORD, "name", name), &res);
    json_t *data = ok_data(&res, 201, "register");
    check_auth_data(data, email, name, s, "register");
    json_decref(data);
    dm_e2e_response_free(&res);
}

static void login_res(const char *email, const char *password, dm_e2e_response *res)
{
    call_pack("POST", "/api/auth/login", NULL,
              json_pack("{s:s,s:s}", "email", email, "password", password), res);
}

/* GET /me with token must give status; returns data (new ref) on 200. */
static json_t *me(const char *token, int status, const char *what)
{
    dm_e2e_response res;
    call("GET", "/api/auth/me", token, NULL, &res);
    json_t *data = NULL;
    if (status == 200)
        data = ok_data(&res, 200, what);
    else
        expect_error(&res, status, "UNAUTHORIZED", what);
    dm_e2e_response_free(&res);
    return data;
}

/* ---- register --------------------------------------------------------- */

START_TEST(register_returns_user_and_tokens)
{
    session s;
    register_user("budi@example.id", "Budi", &s);
    json_t *u = me(s.access, 200, "GET /me with the register access token");
    check_user(u, "budi@example.id", "Budi", "GET /me after register");
    json_decref(u);
}
END_TEST

START_TEST(register_stores_only_a_hash)
{
    register_user("hash@example.id", "Hash", NULL);
    DM_EXPECT_SQL(db_url, "t", "SELECT password_hash LIKE '$argon2id$%%' AND password_hash <> '%s' "
                               "FROM users WHERE email = 'hash@example.id'", PASSWORD);
}
END_TEST

START_TEST(register_normalises_email)
{
    session s;
    dm_e2e_response res;
    call_pack("POST", "/api/auth/register", NULL,
              json_pack("{s:s,s:s,s:s}", "email", " Ani@Example.ID ", "password", PASSWORD,
                        "name", "Ani"), &res);
    json_t *data = ok_data(&res, 201, "register \" Ani@Example.ID \"");
    check_auth_data(data, "ani@example.id", "Ani", &s, "register \" Ani@Example.ID \"");
    json_decref(data);
    dm_e2e_response_free(&res);
    login_res("ANI@EXAMPLE.ID", PASSWORD, &res);
    data = ok_data(&res, 200, "login as ANI@EXAMPLE.ID");
    check_auth_data(data, "ani@example.id", "Ani", NULL, "login as ANI@EXAMPLE.ID");
    json_decref(data);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(register_duplicate_email_is_409)
{
    register_user("dup@example.id", "First", NULL);
    dm_e2e_response res;
    call_pack("POST", "/api/auth/register", NULL,
              json_pack("{s:s,s:s,s:s}", "email", "DUP@example.id", "password", "other password",
                        "name", "Second"), &res);
    expect_error(&res, 409, "EMAIL_TAKEN", "registering an existing email in other case");
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "First", "SELECT string_agg(name, ',') FROM users");
}
END_TEST

START_TEST(register_refuses_missing_fields)
{
    static const struct { const char *body, *field; } cases[] = {
        { "{\"password\":\"" PASSWORD "\",\"name\":\"N\"}", "email" },
        { "{\"email\":\"m1@example.id\",\"name\":\"N\"}", "password" },
        { "{\"email\":\"m2@example.id\",\"password\":\"" PASSWORD "\"}", "name" },
        { "{\"email\":null,\"password\":\"" PASSWORD "\",\"name\":\"N\"}", "email" },
        { "{\"email\":42,\"password\":\"" PASSWORD "\",\"name\":\"N\"}", "email" },
        { "{\"email\":\"m3@example.id\",\"password\":12345678,\"name\":\"N\"}", "password" },
        { "{\"email\":\"m4@example.id\",\"password\":\"" PASSWORD "\",\"name\":[]}", "name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_e2e_response res;
        call("POST", "/api/auth/register", NULL, cases[i].body, &res);
        expect_invalid_field(&res, cases[i].field, cases[i].body);
        dm_e2e_response_free(&res);
    }
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(register_refuses_bad_email)
{
    static const char *const bad[] = { "", "plain", "@example.id", "a@", "a b@example.id",
                                       "a@@example.id", "a@example" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_e2e_response res;
        call_pack("POST", "/api/auth/register", NULL,
                  json_pack("{s:s,s:s,s:s}", "email", bad[i], "password", PASSWORD, "name", "N"),
                  &res);
        char what[96];
        snprintf(what, sizeof what, "register with email \"%s\"", bad[i]);
        expect_invalid_field(&res, "email", what);
        dm_e2e_response_free(&res);
    }
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM users");
}
END_TEST

/* New string (caller frees): n copies of unit. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    ck_assert_msg(s != NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

/* Register with `field` ("password" or "name") set to n copies of unit;
 * expect 201, or 400 naming the field. Counts are in characters: "é" is
 * two bytes of UTF-8 and one character. */
static void register_with(const char *field, const char *unit, size_t n, int status)
{
    static unsigned seq;
    char *v = repeat(unit, n);
    char email[64], what[96];
    snprintf(email, sizeof email, "len%u@example.id", seq++);
    snprintf(what, sizeof what, "register with a %s of %zu x \"%s\"", field, n, unit);
    bool pw = strcmp(field, "password") == 0;
    dm_e2e_response res;
    call_pack("POST", "/api/auth/register", NULL,
              json_pack("{s:s,s:s,s:s}", "email", email, "password", pw ? v : PASSWORD, "name",
                        pw ? "P" : v), &res);
    if (status == 201)
        json_decref(ok_data(&res, 201, what));
    else
        expect_invalid_field(&res, field, what);
    dm_e2e_response_free(&res);
    free(v);
}

START_TEST(register_password_length_bounds)
{
    register_with("password", "p", 7, 400);
    register_with("password", "p", 129, 400);
    register_with("password", "p", 8, 201);
    register_with("password", "p", 128, 201);
    DM_EXPECT_SQL(db_url, "2", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(register_password_counts_characters)
{
    register_with("password", "\xc3\xa9", 7, 400);   /* 14 bytes, 7 characters */
    register_with("password", "\xc3\xa9", 128, 201); /* 256 bytes, 128 characters */
    register_with("password", "\xc3\xa9", 129, 400);
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(register_name_length_bounds)
{
    register_with("name", "n", 0, 400);
    register_with("name", "n", 101, 400);
    register_with("name", "n", 1, 201);
    register_with("name", "n", 100, 201);
    register_with("name", "\xc3\xa9", 100, 201); /* 200 bytes, 100 characters */
    register_with("name", "\xc3\xa9", 101, 400);
    DM_EXPECT_SQL(db_url, "3", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(register_refuses_unknown_fields)
{
    static const struct { const char *extra, *field; } cases[] = {
        { "\"role\":\"ADMINISTRATOR\"", "role" },
        { "\"creditBalance\":1000000", "creditBalance" },
        { "\"isActive\":true", "isActive" },
        { "\"id\":\"00000000-0000-0000-0000-000000000001\"", "id" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"email\":\"x%zu@example.id\",\"password\":\"" PASSWORD "\",\"name\":\"X\",%s}",
                 i, cases[i].extra);
        dm_e2e_response res;
        call("POST", "/api/auth/register", NULL, body, &res);
        expect_invalid_field(&res, cases[i].field, body);
        dm_e2e_response_free(&res);
    }
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(register_refuses_non_json)
{
    dm_e2e_response res;
    call_raw("POST", "/api/auth/register", NULL, "text/plain",
             "{\"email\":\"t@example.id\",\"password\":\"" PASSWORD "\",\"name\":\"T\"}", &res);
    dm_e2e_assert_error(&res, 415, "register with Content-Type text/plain");
    dm_e2e_response_free(&res);
    call("POST", "/api/auth/register", NULL, "{\"email\":", &res);
    dm_e2e_assert_error(&res, 400, "register with truncated JSON");
    dm_e2e_response_free(&res);
    call("POST", "/api/auth/register", NULL, "[1,2]", &res);
    dm_e2e_assert_error(&res, 400, "register with a JSON array");
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM users");
}
END_TEST

/* ---- login ------------------------------------------------------------ */

START_TEST(login_returns_tokens)
{
    session reg, s;
    register_user("citra@example.id", "Citra", &reg);
    dm_e2e_response res;
    login_res("citra@example.id", PASSWORD, &res);
    json_t *data = ok_data(&res, 200, "login");
    check_auth_data(data, "citra@example.id", "Citra", &s, "login");
    json_decref(data);
    dm_e2e_response_free(&res);
    ck_assert_msg(strcmp(s.id, reg.id) == 0, "login user.id %s differs from register's %s", s.id,
                  reg.id);
    ck_assert_msg(strcmp(s.refresh, reg.refresh) != 0, "login reused the register refresh token");
    json_decref(me(s.access, 200, "GET /me with the login access token"));
}
END_TEST

START_TEST(login_failures_look_the_same)
{
    register_user("dewi@example.id", "Dewi", NULL);
    dm_e2e_response wrong, unknown;
    login_res("dewi@example.id", "not the password", &wrong);
    login_res("nobody@example.id", PASSWORD, &unknown);
    expect_error(&wrong, 401, "INVALID_CREDENTIALS", "login with a wrong password");
    expect_error(&unknown, 401, "INVALID_CREDENTIALS", "login with an unknown email");
    json_t *a = dm_e2e_json(&wrong), *b = dm_e2e_json(&unknown);
    const char *ma = json_string_value(json_object_get(json_object_get(a, "error"), "message"));
    const char *mb = json_string_value(json_object_get(json_object_get(b, "error"), "message"));
    ck_assert_msg(ma != NULL && mb != NULL && strcmp(ma, mb) == 0,
                  "wrong password says \"%s\", unknown email says \"%s\": they must not differ",
                  ma ? ma : "", mb ? mb : "");
    json_decref(a);
    json_decref(b);
    dm_e2e_response_free(&wrong);
    dm_e2e_response_free(&unknown);
}
END_TEST

START_TEST(login_deactivated_user_is_refused)
{
    register_user("eko@example.id", "Eko", NULL);
    char *n = dm_test_db_scalar(db_url, "UPDATE users SET is_active = false "
                                        "WHERE email = 'eko@example.id' RETURNING 1");
    ck_assert_msg(n != NULL, "the test could not deactivate the user");
    free(n);
    dm_e2e_response res;
    login_res("eko@example.id", PASSWORD, &res);
    expect_error(&res, 401, "INVALID_CREDENTIALS", "login of a deactivated user");
    dm_e2e_response_free(&res);
}
END_TEST

/* ---- /me and tokens --------------------------------------------------- */

START_TEST(me_requires_valid_bearer)
{
    session s;
    register_user("fajar@example.id", "Fajar", &s);
    json_decref(me(NULL, 401, "GET /me without Authorization"));
    json_decref(me("garbage", 401, "GET /me with Bearer garbage"));
    json_decref(me(s.refresh, 401, "GET /me with the refresh token as Bearer"));
    static const char *const bad_authz[] = { "Basic ZmFqYXI6cGFzcw==", "Bearer", "bearer  ", "" };
    for (size_t i = 0; i < sizeof bad_authz / sizeof bad_authz[0]; i++) {
        dm_e2e_response res;
        char what[96];
        snprintf(what, sizeof what, "GET /me with Authorization \"%s\"", bad_authz[i]);
        call_raw("GET", "/api/auth/me", bad_authz[i], NULL, NULL, &res);
        expect_error(&res, 401, "UNAUTHORIZED", what);
        dm_e2e_response_free(&res);
    }
}
END_TEST

START_TEST(users_see_only_themselves)
{
    session a, b;
    register_user("gita@example.id", "Gita", &a);
    register_user("hadi@example.id", "Hadi", &b);
    ck_assert_msg(strcmp(a.id, b.id) != 0, "two users got one id");
    json_t *ua = me(a.access, 200, "GET /me as Gita");
    check_user(ua, "gita@example.id", "Gita", "GET /me as Gita");
    json_decref(ua);
    dm_e2e_response res;
    call_pack("PUT", "/api/auth/me", a.access, json_pack("{s:s}", "name", "Gita Baru"), &res);
    json_decref(ok_data(&res, 200, "PUT /me as Gita"));
    dm_e2e_response_free(&res);
    json_t *ub = me(b.access, 200, "GET /me as Hadi after Gita renamed herself");
    check_user(ub, "hadi@example.id", "Hadi", "GET /me as Hadi");
    json_decref(ub);
    DM_EXPECT_SQL(db_url, "Hadi", "SELECT name FROM users WHERE email = 'hadi@example.id'");
}
END_TEST

START_TEST(providers_lists_local)
{
    dm_e2e_response res;
    call("GET", "/api/auth/providers", NULL, NULL, &res);
    json_t *data = ok_data(&res, 200, "GET /providers");
    ck_assert_msg(json_is_array(data) && json_array_size(data) == 1,
                  "GET /providers: expected one provider: %s", res.body);
    json_t *p = json_array_get(data, 0);
    static const char *const want[][2] = { { "id", "local" }, { "name", "Email and password" },
                                           { "type", "password" } };
    for (size_t i = 0; i < 3; i++) {
        const char *got = json_string_value(json_object_get(p, want[i][0]));
        ck_assert_msg(got != NULL && strcmp(got, want[i][1]) == 0,
                      "GET /providers: %s is %s, expected %s", want[i][0], got ? got : "(none)",
                      want[i][1]);
    }
    json_decref(data);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(put_me_changes_name)
{
    session s;
    register_user("indah@example.id", "Indah", &s);
    dm_e2e_response res;
    call_pack("PUT", "/api/auth/me", s.access, json_pack("{s:s}", "name", "Indah Permata"), &res);
    json_t *u = ok_data(&res, 200, "PUT /me {name}");
    check_user(u, "indah@example.id", "Indah Permata", "PUT /me answer");
    json_decref(u);
    dm_e2e_response_free(&res);
    u = me(s.access, 200, "GET /me after PUT /me");
    check_user(u, "indah@example.id", "Indah Permata", "GET /me after PUT /me");
    json_decref(u);
    call_pack("PUT", "/api/auth/me", NULL, json_pack("{s:s}", "name", "Nobody"), &res);
    expect_error(&res, 401, "UNAUTHORIZED", "PUT /me without a token");
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(put_me_refuses_other_fields)
{
    session s;
    register_user("joko@example.id", "Joko", &s);
    static const struct { const char *body, *field; } cases[] = {
        { "{\"name\":\"Joko\",\"role\":\"ADMINISTRATOR\"}", "role" },
        { "{\"email\":\"other@example.id\"}", "email" },
        { "{\"name\":\"Joko\",\"creditBalance\":999999}", "creditBalance" },
        { "{\"name\":\"\"}", "name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_e2e_response res;
        call("PUT", "/api/auth/me", s.access, cases[i].body, &res);
        expect_invalid_field(&res, cases[i].field, cases[i].body);
        dm_e2e_response_free(&res);
    }
    json_t *u = me(s.access, 200, "GET /me after refused updates");
    check_user(u, "joko@example.id", "Joko", "GET /me after refused updates");
    json_decref(u);
    DM_EXPECT_SQL(db_url, "joko@example.id|Joko|USER|0",
                  "SELECT email || '|' || name || '|' || role || '|' || credit_balance FROM users");
}
END_TEST

/* ---- forged access tokens --------------------------------------------- */

static size_t b64url_enc(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0)
                     | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

/* The payload (middle part) of a JWT, parsed: new reference. */
static json_t *jwt_payload(const char *tok)
{
    const char *p = strchr(tok, '.');
    ck_assert_msg(p != NULL, "the access token is not a JWT: %s", tok);
    p++;
    unsigned char raw[TOK_MAX];
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *p != '\0' && *p != '.'; p++) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *hit = strchr(a, *p);
        ck_assert_msg(hit != NULL && o < sizeof raw, "bad base64url in the access token");
        acc = (acc << 6) | (unsigned)(hit - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (unsigned char)(acc >> bits);
        }
    }
    json_t *j = json_loadb((const char *)raw, o, 0, NULL);
    ck_assert_msg(json_is_object(j), "the access token payload is not a JSON object");
    return j;
}

/* header.payload.signature into out (TOK_MAX); key NULL: empty signature. */
static void forge(const char *header, json_t *payload, const char *key, char *out)
{
    char *p = json_dumps(payload, JSON_COMPACT);
    ck_assert_msg(p != NULL && strlen(header) + strlen(p) < TOK_MAX / 2, "payload too big");
    size_t o = b64url_enc((const unsigned char *)header, strlen(header), out);
    out[o++] = '.';
    o += b64url_enc((const unsigned char *)p, strlen(p), out + o);
    free(p);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (key != NULL)
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key),
                                   (const unsigned char *)out, o, md, &md_len));
    out[o++] = '.';
    b64url_enc(md, md_len, out + o);
}

#define HS256_H "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

typedef enum {
    F_RESIGNED, F_ALG_NONE, F_OTHER_KEY, F_RS256, F_EXPIRED, F_NBF_FUTURE, F_TYP_REFRESH,
    F_TAMPERED
} forgery;

/* A real user's access token turned into the forgery: every claim the
 * server put in (session id included) is kept, so only the change counts. */
static void make_forgery(forgery f, const char *real, char *out)
{
    json_t *p = jwt_payload(real);
    long long now = (long long)time(NULL);
    switch (f) {
    case F_RESIGNED:
        forge(HS256_H, p, SECRET, out);
        break;
    case F_ALG_NONE:
        json_object_set_new(p, "role", json_string("ADMINISTRATOR"));
        forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, NULL, out);
        break;
    case F_OTHER_KEY:
        forge(HS256_H, p, OTHER_KEY, out);
        break;
    case F_RS256:
        forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, SECRET, out);
        break;
    case F_EXPIRED:
        json_object_set_new(p, "iat", json_integer(now - 1000));
        json_object_set_new(p, "exp", json_integer(now - 100));
        forge(HS256_H, p, SECRET, out);
        break;
    case F_NBF_FUTURE:
        json_object_set_new(p, "nbf", json_integer(now + 3600));
        forge(HS256_H, p, SECRET, out);
        break;
    case F_TYP_REFRESH:
        json_object_set_new(p, "typ", json_string("refresh"));
        forge(HS256_H, p, SECRET, out);
        break;
    case F_TAMPERED: {
        json_object_set_new(p, "role", json_string("ADMINISTRATOR"));
        char body[TOK_MAX];
        forge(HS256_H, p, OTHER_KEY, body);
        /* the forged header and payload with the real token's signature */
        const char *sig = strrchr(real, '.');
        char *cut = strrchr(body, '.');
        *cut = '\0';
        snprintf(out, TOK_MAX, "%s%s", body, sig);
        break;
    }
    }
    json_decref(p);
}

static void forged_case(forgery f, int status, const char *what)
{
    session s;
    register_user("forge@example.id", "Forge", &s);
    char tok[TOK_MAX];
    make_forgery(f, s.access, tok);
    json_decref(me(tok, status, what));
}

START_TEST(forged_control_resigned_token_is_accepted)
{
    /* Proves the forging helper signs like the server, so every refusal
     * below is about the one thing each forgery changes. */
    forged_case(F_RESIGNED, 200, "the real payload re-signed with the test secret");
}
END_TEST

static const struct { forgery f; const char *what; } refused[] = {
    { F_ALG_NONE, "alg none, role ADMINISTRATOR, empty signature" },
    { F_OTHER_KEY, "HS256 signed with another key" },
    { F_RS256, "header alg RS256, HMAC with the secret" },
    { F_EXPIRED, "exp 100 s in the past, correctly signed" },
    { F_NBF_FUTURE, "nbf an hour ahead, correctly signed" },
    { F_TYP_REFRESH, "typ refresh, correctly signed" },
    { F_TAMPERED, "role changed to ADMINISTRATOR, original signature kept" },
};

/* A loop test: one run (and one result) per row of refused[]. */
START_TEST(forged_token_refused)
{
    forged_case(refused[_i].f, 401, refused[_i].what);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_auth");
    TCase *reg = tcase_create("register");
    tcase_add_unchecked_fixture(reg, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(reg, setup, teardown);
    tcase_set_timeout(reg, 60);
    tcase_add_test(reg, register_returns_user_and_tokens);
    tcase_add_test(reg, register_stores_only_a_hash);
    tcase_add_test(reg, register_normalises_email);
    tcase_add_test(reg, register_duplicate_email_is_409);
    tcase_add_test(reg, register_refuses_missing_fields);
    tcase_add_test(reg, register_refuses_bad_email);
    tcase_add_test(reg, register_password_length_bounds);
    tcase_add_test(reg, register_password_counts_characters);
    tcase_add_test(reg, register_name_length_bounds);
    tcase_add_test(reg, register_refuses_unknown_fields);
    tcase_add_test(reg, register_refuses_non_json);
    suite_add_tcase(s, reg);

    TCase *acc = tcase_create("account");
    tcase_add_unchecked_fixture(acc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(acc, setup, teardown);
    tcase_set_timeout(acc, 60);
    tcase_add_test(acc, login_returns_tokens);
    tcase_add_test(acc, login_failures_look_the_same);
    tcase_add_test(acc, login_deactivated_user_is_refused);
    tcase_add_test(acc, me_requires_valid_bearer);
    tcase_add_test(acc, users_see_only_themselves);
    tcase_add_test(acc, providers_lists_local);
    tcase_add_test(acc, put_me_changes_name);
    tcase_add_test(acc, put_me_refuses_other_fields);
    suite_add_tcase(s, acc);

    TCase *forged = tcase_create("forged");
    tcase_add_unchecked_fixture(forged, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(forged, setup, teardown);
    tcase_set_timeout(forged, 60);
    tcase_add_test(forged, forged_control_resigned_token_is_accepted);
    tcase_add_loop_test(forged, forged_token_refused, 0,
                        (int)(sizeof refused / sizeof refused[0]));
    suite_add_tcase(s, forged);
    return s;
}

DM_TEST_MAIN(make_suite)

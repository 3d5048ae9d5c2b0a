/*
 * midtrans_config.c — payment-midtrans's configuration: the declared key
 * table, and init/fini, which turn the validated config block into the
 * read-only mt_state (server key from the config or a file, base URLs by
 * environment, the methods offered, expiry and timeout bounds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "midtrans.h"

#define KEY_FILE_MAX     4096
#define MAX_EXPIRY_MIN   (60L * 24 * 365) /* a year: anything longer is a typo */
#define MIN_TIMEOUT_MS   100
#define MAX_TIMEOUT_MS   120000

const dm_plugin_conf_key_t mt_conf_keys[] = {
    { "server_key", DM_CONF_SECRET, 0, NULL,
      "Midtrans server key (sandbox keys start SB-Mid-server-); or use server_key_file" },
    { "server_key_file", DM_CONF_STRING, 0, NULL,
      "path of a file holding the server key (one trailing newline is dropped)" },
    { "client_key", DM_CONF_STRING, 0, NULL,
      "Midtrans client key, handed to the front end for Snap.js (optional)" },
    { "environment", DM_CONF_STRING, 0, "\"sandbox\"", "\"sandbox\" or \"production\"" },
    { "snap_base_url", DM_CONF_STRING, 0, NULL,
      "Snap API base; default https://app.sandbox.midtrans.com/snap/v1 or "
      "https://app.midtrans.com/snap/v1 by environment" },
    { "api_base_url", DM_CONF_STRING, 0, NULL,
      "Core API base; default https://api.sandbox.midtrans.com or https://api.midtrans.com" },
    { "expiry_minutes", DM_CONF_INT, 0, "1440",
      "payment expiry when the host asks for none; 1..525600" },
    { "methods", DM_CONF_ARRAY, 0,
      "[\"other_qris\",\"gopay\",\"shopeepay\",\"bca_va\",\"bni_va\",\"bri_va\",\"permata_va\","
      "\"echannel\",\"other_va\"]",
      "Snap enabled_payments ids offered to users, in this order" },
    { "timeout_ms", DM_CONF_INT, 0, "15000", "whole-request timeout towards Midtrans; 100..120000" },
    DM_CONF_END
};

/* Display names of the Snap enabled_payments ids we know; other ids are
 * offered under their own id. other_qris is Snap's acquirer-agnostic QRIS;
 * "qris" is kept for operators who list it. */
static const struct { const char *id, *name; } known_methods[] = {
    { "qris", "QRIS" },
    { "other_qris", "QRIS" },
    { "gopay", "GoPay" },
    { "shopeepay", "ShopeePay" },
    { "credit_card", "Credit or debit card" },
    { "bca_va", "BCA Virtual Account" },
    { "bni_va", "BNI Virtual Account" },
    { "bri_va", "BRI Virtual Account" },
    { "permata_va", "Permata Virtual Account" },
    { "cimb_va", "CIMB Niaga Virtual Account" },
    { "bsi_va", "BSI Virtual Account" },
    { "danamon_va", "Danamon Virtual Account" },
    { "echannel", "Mandiri Bill Payment" },
    { "other_va", "Other banks (ATM Bersama, Prima, Alto)" },
    { "indomaret", "Indomaret" },
    { "alfamart", "Alfamart" },
    { "akulaku", "Akulaku PayLater" },
    { "kredivo", "Kredivo" },
    { "dana", "DANA" },
    { "bca_klikpay", "BCA KlikPay" },
    { "cimb_clicks", "OCTO Clicks" },
};

static const char *method_name(const char *id)
{
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++) {
        if (strcmp(known_methods[i].id, id) == 0)
            return known_methods[i].name;
    }
    return id;
}

static bool method_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= DM_PAYMENT_METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
            return false;
    }
    return true;
}

static int read_methods(mt_state *st, const json_t *cfg, dm_err_t *err)
{
    const json_t *arr = json_object_get(cfg, "methods");
    if (json_array_size(arr) == 0)
        return dm_err_set(err, DM_EINVAL, "config: methods must list at least one Snap payment id");
    st->methods = json_array();
    if (st->methods == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        const char *id = json_string_value(v);
        if (id == NULL || !method_id_ok(id))
            return dm_err_set(err, DM_EINVAL,
                              "config: methods[%zu] must be a Snap payment id like \"bca_va\"", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(json_string_value(json_array_get(arr, j)), id) == 0)
                return dm_err_set(err, DM_EINVAL, "config: methods lists \"%s\" twice", id);
        }
        if (json_array_append_new(st->methods, json_pack("{s:s, s:s}", "id", id, "name",
                                                         method_name(id))) != 0)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    return 0;
}

/* The key from server_key_file: whole file, one trailing "\n" (or "\r\n")
 * dropped. New string in *out; "" for an empty file. */
static int read_key_file(const char *path, char **out, dm_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dm_err_set(err, DM_EIO, "payment-midtrans: cannot open server_key_file %s: %s",
                          path, strerror(errno));
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
    bool failed = buf != NULL && ferror(f);
    fclose(f);
    if (buf == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    if (failed || n > KEY_FILE_MAX) {
        OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
        free(buf);
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: server_key_file %s is %s", path,
                          failed ? "unreadable" : "larger than 4 KiB");
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int read_server_key(mt_state *st, const json_t *cfg, dm_err_t *err)
{
    const char *inline_key = json_string_value(json_object_get(cfg, "server_key"));
    const char *file = json_string_value(json_object_get(cfg, "server_key_file"));
    if (inline_key != NULL && file != NULL)
        return dm_err_set(err, DM_EINVAL,
                          "payment-midtrans: set server_key or server_key_file, not both");
    int rc = 0;
    if (file != NULL)
        rc = read_key_file(file, &st->server_key, err);
    else if (inline_key != NULL && (st->server_key = strdup(inline_key)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc != 0)
        return rc;
    if (st->server_key == NULL || st->server_key[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: no server key configured (set "
                                          "server_key or server_key_file)");
    for (const char *p = st->server_key; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return dm_err_set(err, DM_EINVAL, "payment-midtrans: the server key contains "
                                              "spaces or control characters");
    }
    st->auth_header = mt_basic_auth(st->host, st->server_key);
    return st->auth_header != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* A base URL from key, or def; http(s) only, trailing slashes dropped. */
static int read_base(const json_t *cfg, const char *key, const char *def, char **out,
                     dm_err_t *err)
{
    const char *v = json_string_value(json_object_get(cfg, key));
    if (v == NULL)
        v = def;
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return dm_err_set(err, DM_EINVAL, "config: %s must start with https:// or http://", key);
    if (strpbrk(v, " \t\r\n?#") != NULL)
        return dm_err_set(err, DM_EINVAL, "config: %s must be a plain base URL", key);
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    *out = strndup(v, n);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int read_numbers(mt_state *st, const json_t *cfg, dm_err_t *err)
{
    json_int_t exp = json_integer_value(json_object_get(cfg, "expiry_minutes"));
    json_int_t to = json_integer_value(json_object_get(cfg, "timeout_ms"));
    if (exp < 1 || exp > MAX_EXPIRY_MIN)
        return dm_err_set(err, DM_EINVAL, "config: expiry_minutes must be between 1 and %ld",
                          MAX_EXPIRY_MIN);
    if (to < MIN_TIMEOUT_MS || to > MAX_TIMEOUT_MS)
        return dm_err_set(err, DM_EINVAL, "config: timeout_ms must be between %d and %d",
                          MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
    st->expiry_minutes = (long)exp;
    st->timeout_ms = (uint32_t)to;
    return 0;
}

static int read_config(mt_state *st, dm_err_t *err)
{
    const json_t *cfg = st->host->config(st->ctx);
    const char *env = json_string_value(json_object_get(cfg, "environment"));
    bool prod = env != NULL && strcmp(env, "production") == 0;
    if (env == NULL || (!prod && strcmp(env, "sandbox") != 0))
        return dm_err_set(err, DM_EINVAL,
                          "config: environment must be \"sandbox\" or \"production\"");
    int rc = read_server_key(st, cfg, err);
    if (rc == 0)
        rc = read_base(cfg, "snap_base_url",
                       prod ? "https://app.midtrans.com/snap/v1"
                            : "https://app.sandbox.midtrans.com/snap/v1",
                       &st->snap_base, err);
    if (rc == 0)
        rc = read_base(cfg, "api_base_url",
                       prod ? "https://api.midtrans.com" : "https://api.sandbox.midtrans.com",
                       &st->api_base, err);
    if (rc == 0)
        rc = read_numbers(st, cfg, err);
    if (rc == 0)
        rc = read_methods(st, cfg, err);
    const char *ck = json_string_value(json_object_get(cfg, "client_key"));
    if (rc == 0 && ck != NULL && ck[0] != '\0' && (st->client_key = strdup(ck)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc == 0 && prod != (strncmp(st->server_key, "SB-", 3) != 0))
        st->host->log(st->ctx, DM_HOST_LOG_WARN,
                      "environment is %s but the server key looks like a %s key", env,
                      prod ? "sandbox" : "production");
    return rc;
}

static void free_str_wiped(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void mt_fini(void *state)
{
    mt_state *st = state;
    if (st == NULL)
        return;
    free_str_wiped(st->server_key);
    free_str_wiped(st->auth_header);
    free(st->client_key);
    free(st->snap_base);
    free(st->api_base);
    json_decref(st->methods);
    free(st);
}

int mt_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    mt_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    st->ctx = ctx;
    st->host = host;
    int rc = read_config(st, err);
    if (rc != 0) {
        mt_fini(st);
        return rc;
    }
    host->log(ctx, DM_HOST_LOG_INFO, "Snap at %s, Core API at %s, %zu methods, expiry %ld min",
              st->snap_base, st->api_base, json_array_size(st->methods), st->expiry_minutes);
    *state = st;
    return 0;
}

/*
 * check_auth.c — the auth contract: the given credentials are accepted
 * with a subject; a wrong secret and an unknown identifier are both
 * DM_EPERM; and the two refusals take about the same time (an attacker
 * must not learn which identifiers exist from how fast they are refused).
 * describe, when offered, answers {id, name, type}.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin/call.h"
#include "plugincheck/check.h"
#include "util/clock.h"

#define TIMING_ROUNDS 7

/* A plugin with hash_secret keeps no users of its own: the host stores the
 * hash and hands it back with the credentials, as the server does for the
 * user it found (NULL for an unknown one). */
static char stored[DM_AUTH_HASH_MAX];
static const char *stored_for; /* the identifier stored belongs to */

static int try_creds(const dm_plugin *p, const char *id, const char *secret, dm_auth_identity_t *who,
                     dm_err_t *err)
{
    const char *hash = stored_for != NULL && strcmp(id, stored_for) == 0 ? stored : NULL;
    dm_auth_credentials_t creds = { id, secret, hash, NULL };
    memset(who, 0, sizeof *who);
    return dm__auth_authenticate(p, &creds, who, err);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median time, in microseconds, of refusing id with a wrong secret. */
static uint64_t median_refusal_us(const dm_plugin *p, const char *id)
{
    uint64_t t[TIMING_ROUNDS];
    for (int i = 0; i < TIMING_ROUNDS; i++) {
        dm_auth_identity_t who;
        dm_err_t err = { 0, "" };
        uint64_t t0 = dm__clock_mono_ns();
        try_creds(p, id, "plugin-check-wrong-secret", &who, &err);
        t[i] = (dm__clock_mono_ns() - t0) / 1000u;
    }
    qsort(t, TIMING_ROUNDS, sizeof t[0], cmp_u64);
    return t[TIMING_ROUNDS / 2];
}

void dm__check_auth(dm_check *c, const dm_plugin *p, const dm_check_opts *o)
{
    fprintf(c->out, "---- auth contract\n");
    dm_auth_identity_t who;
    dm_err_t err = { 0, "" };
    if (o->identity == NULL || o->secret == NULL) {
        dm__check_fail(c, "auth good credentials", "give --identity and --secret: credentials the "
                                                   "plugin must accept");
        return;
    }
    int rc = dm__auth_hash_secret(p, o->secret, stored, sizeof stored, &err);
    if (rc == 0)
        stored_for = o->identity;
    else if (rc != DM_EUNSUPPORTED)
        dm__check_fail(c, "auth hash_secret", "%s", err.msg);
    rc = try_creds(p, o->identity, o->secret, &who, &err);
    dm__check_expect(c, rc == 0 && who.subject[0] != '\0', "auth good credentials", "%s",
                     rc != 0 ? err.msg : who.subject[0] != '\0' ? who.subject : "accepted without a subject");
    rc = try_creds(p, o->identity, "plugin-check-wrong-secret", &who, &err);
    dm__check_expect(c, rc == DM_EPERM, "auth wrong secret refused", "%s",
                     rc == DM_EPERM ? "DM_EPERM" : rc == 0 ? "accepted" : err.msg);
    const char *unknown = "plugin-check-no-such-user@example.invalid";
    rc = try_creds(p, unknown, "plugin-check-wrong-secret", &who, &err);
    dm__check_expect(c, rc == DM_EPERM, "auth unknown identifier refused", "%s",
                     rc == DM_EPERM ? "DM_EPERM" : rc == 0 ? "accepted" : err.msg);
    /* The same work either way: within half of the slower, or 2 ms. */
    uint64_t known = median_refusal_us(p, o->identity), none = median_refusal_us(p, unknown);
    uint64_t hi = known > none ? known : none, lo = known > none ? none : known;
    dm__check_expect(c, hi - lo <= 2000 || lo * 2 >= hi, "auth refusal timing",
                     "wrong secret %llu us, unknown identifier %llu us (median of %d)",
                     (unsigned long long)known, (unsigned long long)none, TIMING_ROUNDS);
    json_t *d = NULL;
    rc = dm__auth_describe(p, &d, &err);
    if (rc != DM_EUNSUPPORTED)
        dm__check_expect(c, rc == 0 && json_is_string(json_object_get(d, "id")) &&
                                json_is_string(json_object_get(d, "name")) &&
                                json_is_string(json_object_get(d, "type")),
                         "auth describe", "%s", rc != 0 ? err.msg : "{id, name, type}");
    json_decref(d);
}

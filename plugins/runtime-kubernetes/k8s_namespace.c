/*
 * k8s_namespace.c — the one owner of "which namespace holds instance X".
 *
 * Either the configured namespace for every instance, or (with
 * namespace_per_user) one namespace per subscriber, "<namespace>-<user
 * id>", applied on demand by provision. Only provision is told the user
 * (the spec's "user", ABI 1.5); every later op finds the namespace on the
 * cluster: a cluster-wide list of the instance's labelled Deployments, then
 * of its Secrets (written before anything else, so a provision cut short
 * still leaves one to find). Answers are cached per instance; the cache is
 * only a copy the cluster can rebuild, so a restart or a full cache costs
 * one list, never a wrong answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

#define NS_CACHE_MAX 4096 /* entries; a full cache starts over */

static bool dns_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int k8s_user_namespace(const k8s_state *st, const char *user, char *out, size_t cap,
                       dm_err_t *err)
{
    size_t plen = strlen(st->obj.ns), ulen = user != NULL ? strlen(user) : 0;
    bool ok = ulen > 0 && plen + 1 + ulen < K8S_LABEL_MAX && plen + 1 + ulen < cap;
    for (size_t i = 0; ok && i < ulen; i++)
        ok = dns_char(user[i]);
    ok = ok && user[ulen - 1] != '-';
    if (!ok)
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: user id \"%.64s\" cannot name a "
                                          "namespace (lowercase a-z 0-9 -, at most %zu bytes)",
                          user != NULL ? user : "", K8S_LABEL_MAX - 2 - plen);
    snprintf(out, cap, "%s-%s", st->obj.ns, user);
    return 0;
}

static k8s_ns_entry *cached(k8s_state *st, const char *id)
{
    for (size_t i = 0; i < st->ns_len; i++)
        if (strcmp(st->ns_cache[i].id, id) == 0)
            return &st->ns_cache[i];
    return NULL;
}

void k8s_ns_remember(k8s_state *st, const char *id, const char *ns)
{
    if (!st->per_user || strlen(id) >= K8S_LABEL_MAX || strlen(ns) >= K8S_LABEL_MAX)
        return;
    pthread_mutex_lock(&st->ns_lock);
    k8s_ns_entry *e = cached(st, id);
    if (e == NULL && st->ns_len == st->ns_cap) {
        size_t cap = st->ns_cap == 0 ? 64 : st->ns_cap * 2;
        if (cap > NS_CACHE_MAX) {
            st->ns_len = 0; /* start over: every entry can be found again */
            cap = st->ns_cap;
        }
        k8s_ns_entry *grown = cap == st->ns_cap ? st->ns_cache
                                                : realloc(st->ns_cache, cap * sizeof *grown);
        if (grown != NULL) {
            st->ns_cache = grown;
            st->ns_cap = cap;
        }
    }
    if (e == NULL && st->ns_len < st->ns_cap)
        e = &st->ns_cache[st->ns_len++];
    if (e != NULL) {
        snprintf(e->id, sizeof e->id, "%s", id);
        snprintf(e->ns, sizeof e->ns, "%s", ns);
    }
    pthread_mutex_unlock(&st->ns_lock);
}

void k8s_ns_forget(k8s_state *st, const char *id)
{
    if (!st->per_user)
        return;
    pthread_mutex_lock(&st->ns_lock);
    k8s_ns_entry *e = cached(st, id);
    if (e != NULL)
        *e = st->ns_cache[--st->ns_len];
    pthread_mutex_unlock(&st->ns_lock);
}

/* The namespace of the first item of a cluster-wide list of plural
 * labelled with the instance: 0, DM_ENOTFOUND (none), or an error. */
static int find_in(k8s_state *st, const char *plural, const char *id, char *out, size_t cap,
                   dm_err_t *err)
{
    char selector[160];
    k8s_instance_selector(id, selector, sizeof selector);
    k8s_resp r = { 0 };
    int rc = k8s_list(st, "", plural, selector, &r, err);
    const json_t *first = rc == 0 ? json_array_get(json_object_get(r.json, "items"), 0) : NULL;
    const char *ns = json_string_value(json_object_get(json_object_get(first, "metadata"),
                                                       "namespace"));
    if (rc == 0 && (ns == NULL || strlen(ns) >= cap))
        rc = DM_ENOTFOUND;
    if (rc == 0)
        snprintf(out, cap, "%s", ns);
    k8s_resp_free(&r);
    return rc;
}

int k8s_instance_ns(k8s_state *st, const char *id, char *out, size_t cap, dm_err_t *err)
{
    if (!st->per_user) {
        snprintf(out, cap, "%s", st->obj.ns);
        return 0;
    }
    pthread_mutex_lock(&st->ns_lock);
    const k8s_ns_entry *e = cached(st, id);
    bool hit = e != NULL && strlen(e->ns) < cap;
    if (hit)
        snprintf(out, cap, "%s", e->ns);
    pthread_mutex_unlock(&st->ns_lock);
    if (hit)
        return 0;
    int rc = find_in(st, "deployments", id, out, cap, err);
    if (rc == DM_ENOTFOUND)
        rc = find_in(st, "secrets", id, out, cap, err);
    if (rc == DM_ENOTFOUND)
        return dm_err_set(err, DM_ENOTFOUND, "runtime-kubernetes: instance %s has no objects "
                                             "on the cluster", id);
    if (rc == 0)
        k8s_ns_remember(st, id, out);
    return rc;
}

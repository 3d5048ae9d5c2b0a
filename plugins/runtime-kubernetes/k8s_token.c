/*
 * k8s_token.c — a bearer token kept in a file (the in-cluster service
 * account token, or a kubeconfig user's tokenFile). Kubernetes rotates
 * projected service-account tokens (about hourly), so the file is read
 * again when its mtime moves or a minute passed; a read that fails keeps
 * the last good token rather than failing every call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s.h"

int k8s_token_file_init(k8s_token_file *tf, const char *path, dm_err_t *err)
{
    memset(tf, 0, sizeof *tf);
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof tf->path)
        return dm_err_set(err, DM_EINVAL, "token file path empty or over %zu bytes",
                          sizeof tf->path - 1);
    memcpy(tf->path, path, strlen(path) + 1);
    if (pthread_mutex_init(&tf->lock, NULL) != 0)
        return dm_err_set(err, DM_ENOMEM, "cannot create a mutex");
    return 0;
}

void k8s_token_file_free(k8s_token_file *tf)
{
    if (tf->path[0] == '\0')
        return;
    pthread_mutex_destroy(&tf->lock);
    if (tf->token != NULL) {
        /* A token is a credential: do not leave it in freed memory. */
        memset(tf->token, 0, strlen(tf->token));
        free(tf->token);
    }
    memset(tf, 0, sizeof *tf);
}

/* Read the file into a new trimmed string; NULL when unreadable/empty. */
static char *read_token(const char *path)
{
    k8s_blob b = { 0 };
    if (k8s_read_file(path, K8S_TOKEN_MAX, &b, NULL) != 0)
        return NULL;
    char *t = (char *)b.data;
    while (b.len > 0 && (t[b.len - 1] == '\n' || t[b.len - 1] == '\r' || t[b.len - 1] == ' '))
        t[--b.len] = '\0';
    /* A token goes into a header: refuse one with a control byte. */
    bool ok = b.len > 0;
    for (size_t i = 0; ok && i < b.len; i++)
        ok = (unsigned char)t[i] >= 0x20 && t[i] != 0x7f;
    if (!ok) {
        memset(t, 0, b.len);
        free(t);
        return NULL;
    }
    return t;
}

int k8s_token_file_get(k8s_token_file *tf, int64_t now_ms, char *buf, size_t cap, dm_err_t *err)
{
    pthread_mutex_lock(&tf->lock);
    struct stat sb;
    bool moved = stat(tf->path, &sb) == 0 && sb.st_mtime != tf->mtime;
    if (tf->token == NULL || moved || now_ms - tf->read_ms >= K8S_TOKEN_REREAD_MS) {
        char *fresh = read_token(tf->path);
        if (fresh != NULL) {
            if (tf->token != NULL) {
                memset(tf->token, 0, strlen(tf->token));
                free(tf->token);
            }
            tf->token = fresh;
            tf->mtime = moved ? sb.st_mtime : tf->mtime;
            if (tf->mtime == 0 && stat(tf->path, &sb) == 0)
                tf->mtime = sb.st_mtime;
        }
        tf->read_ms = now_ms;
    }
    int rc = 0;
    if (tf->token == NULL)
        rc = dm_err_set(err, DM_EIO, "runtime-kubernetes: no token could be read from %.200s",
                        tf->path);
    else if (strlen(tf->token) >= cap)
        rc = dm_err_set(err, DM_EINVAL, "runtime-kubernetes: the token in %.200s is over %zu bytes",
                        tf->path, cap - 1);
    else
        memcpy(buf, tf->token, strlen(tf->token) + 1);
    pthread_mutex_unlock(&tf->lock);
    return rc;
}

/*
 * k8s_errors.c — an API answer that is not a success, as a dm_err: the
 * HTTP status picks the code, the Status object's message (which names the
 * verb, the resource and the user, never a credential) the text. Pure.
 */
#include <stdio.h>
#include <string.h>

#include "k8s.h"

/* 403. The API server's message ("<what> is forbidden: User \"…\" cannot
 * <verb> resource \"<resource>\" in API group …") says which grant is
 * missing; when the whole of it does not fit, the part from "User" on is
 * kept. An apply that would create the object is authorised a second time
 * as create, and that refusal carries no reason ("… is forbidden: "): then
 * the missing verb is named here. */
static int forbidden(const char *msg, const char *verb, const char *resource, dm_err_t *err)
{
    static const char mark[] = "is forbidden: ";
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        n--;
    if (strcmp(verb, "apply") == 0 && n + 1 >= sizeof mark && n > 0 &&
        strncmp(msg + n - (sizeof mark - 2), mark, sizeof mark - 2) == 0)
        return dm_err_set(err, DM_EPERM, "runtime-kubernetes: forbidden: create %.60s: %.*s (an "
                                         "apply that creates an object needs create as well as "
                                         "patch)", resource, (int)n, msg);
    const char *user = strstr(msg, "is forbidden: User ");
    size_t head = strlen("runtime-kubernetes: forbidden: : ") + strlen(verb) + 1 +
                  (strlen(resource) < 60 ? strlen(resource) : 60);
    if (user != NULL && head + strlen(msg) >= DM_ERR_MSG_MAX)
        msg = user + strlen("is forbidden: ");
    return dm_err_set(err, DM_EPERM, "runtime-kubernetes: forbidden: %s %.60s: %s", verb,
                      resource, msg);
}

int k8s_api_error(long status, const json_t *body, const char *verb, const char *resource,
                  dm_err_t *err)
{
    char msg[DM_ERR_MSG_MAX];
    const char *m = json_string_value(json_object_get(body, "message"));
    snprintf(msg, sizeof msg, "%s", m != NULL && m[0] != '\0' ? m : "(no message)");
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    if (status == 401)
        return dm_err_set(err, DM_EPERM, "runtime-kubernetes: unauthorized: %s %.100s: the API "
                                         "server refused the credentials", verb, resource);
    if (status == 403)
        return forbidden(msg, verb, resource, err);
    if (status == 404)
        return dm_err_set(err, DM_ENOTFOUND, "runtime-kubernetes: %s %.100s: not found", verb,
                          resource);
    if (status == 409)
        return dm_err_set(err, DM_ECONFLICT, "runtime-kubernetes: %s %.60s: conflict: %s", verb,
                          resource, msg);
    if (status == 400 || status == 422)
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: %s %.60s refused: %s", verb,
                          resource, msg);
    if (status == 429 || status >= 500)
        return dm_err_set(err, DM_EUNAVAIL, "runtime-kubernetes: %s %.60s: API server answered "
                                            "%ld: %s", verb, resource, status, msg);
    return dm_err_set(err, DM_EIO, "runtime-kubernetes: %s %.60s: API server answered %ld: %s",
                      verb, resource, status, msg);
}

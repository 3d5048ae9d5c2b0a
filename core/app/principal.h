/*
 * principal.h — who is making a request: the user, their role as the
 * database says it now, and their session. Filled by the session guard
 * (accounts/session_guard.h) before a handler runs; empty on public routes.
 */
#ifndef DM_PRINCIPAL_H
#define DM_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct dm_principal {
    char id[37];   /* user id */
    char role[16]; /* USER | ADMINISTRATOR, as the database says now */
    char sid[37];  /* session: the refresh-token family of the access token */
    int64_t expires_at; /* when the access token expires, s since the epoch */
} dm_principal;

/* True when the caller is an administrator (as the guard found the role). */
static inline bool dm__principal_is_admin(const dm_principal *p)
{
    return strcmp(p->role, "ADMINISTRATOR") == 0;
}

#endif

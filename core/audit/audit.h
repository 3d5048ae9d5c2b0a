/*
 * audit.h — the audit log: one row per change an administrator (or the
 * system) made, with who, what, to which object, why, and the object before
 * and after. Written inside the caller's transaction so the record commits
 * exactly when the change does.
 */
#ifndef DM_AUDIT_H
#define DM_AUDIT_H

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* Who asks for a change, as its audit row records it: the acting user and
 * where the request came from. Routes fill it from the request; models
 * take it as a parameter. Borrowed strings; request_id and ip may be NULL. */
typedef struct dm_actor {
    const char *user_id;    /* the acting user's uuid */
    const char *request_id; /* to correlate with request logs */
    const char *ip;         /* client address, IPv4 or IPv6 text */
} dm_actor;

/* Every pointer is borrowed for the call. Optional fields may be NULL. */
typedef struct dm_audit_entry {
    const char   *actor_id;    /* optional: the acting user's uuid */
    const char   *actor;       /* required: display label, e.g. an email or "system" */
    const char   *action;      /* required: ^[a-z][a-z0-9_.]{0,63}$, e.g. "user.update" */
    const char   *target_type; /* required: ^[a-z][a-z0-9_]{0,31}$, e.g. "subscription" */
    const char   *target_id;   /* optional: the object's id */
    const char   *reason;      /* optional: why (admins must give one; up to 2000 chars) */
    const char   *request_id;  /* optional: to correlate with request logs */
    const char   *ip;          /* optional: client address, IPv4 or IPv6 text */
    const json_t *before;      /* optional: the object before the change */
    const json_t *after;       /* optional: the object after the change */
} dm_audit_entry;

/*
 * Insert one audit row on db, inside the caller's transaction if one is
 * open. out_id (may be NULL) receives the new row's uuid.
 * Returns 0; DM_EINVAL when a required field is missing or a field is
 * malformed or too long (the message names the field; checked before
 * anything is sent, so the caller's transaction stays usable);
 * DM_EIO / DM_EUNAVAIL from the database — after those, inside a
 * transaction, the caller must roll back.
 */
int dm__audit_write(dm_db *db, const dm_audit_entry *e, char out_id[37], dm_err_t *err);

/* Filters for dm__audit_list; NULL or "" means any. */
typedef struct dm_audit_filter {
    const char *actor_id;
    const char *action;
    const char *target_type;
    const char *target_id;
} dm_audit_filter;

/* One page of audit rows, newest first: *items a new array of {id, actorId,
 * actor, action, targetType, targetId, reason, requestId, ip, before, after,
 * createdAt}, *total the number of matches. page >= 1, limit 1..100, else
 * DM_EINVAL. A malformed actor_id matches nothing. */
int dm__audit_list(dm_db *db, const dm_audit_filter *f, long page, long limit, json_t **items,
                   long *total, dm_err_t *err);

#endif

/*
 * log_ticket.h — single-use tickets that let a browser's EventSource open
 * an instance's live log without an access token in the URL (docs/logs.md,
 * "Tickets"): made for the owner or an administrator, valid for
 * instances.logTicketTtlS seconds, for one instance, spent by the first
 * stream that shows it. Only a ticket's SHA-256 is stored (migration
 * 0010), and it is spent by one guarded UPDATE, so nodes sharing the
 * database agree; times are the database's. No HTTP here.
 */
#ifndef DM_LOG_TICKET_H
#define DM_LOG_TICKET_H

#include <dermaga/error.h>

#include "app/principal.h"
#include "db/pg.h"

/*
 * A new ticket for instance_id, made by who (its user and session), valid
 * for ttl_s seconds from now: ticket gets it (43 base64url characters and
 * a NUL; shown to the client once), expires_at its end in RFC 3339 UTC.
 * Expired tickets are pruned on the way. The caller has checked that who
 * may see the instance. All strings borrowed. 0, DM_EIO (no randomness,
 * or the database) / DM_EUNAVAIL.
 */
int dm__log_ticket_new(dm_db *db, const char *instance_id, const dm_principal *who, int ttl_s, char ticket[44],
                       char expires_at[40], dm_err_t *err);

/*
 * Spend ticket (borrowed, the client's text) on instance_id: *out is who
 * made it (user, role as the database says now, session). 0; DM_EPERM
 * when it is malformed, unknown, spent, expired, for another instance, or
 * its user is deactivated or its session revoked (err says which, for the
 * debug log only); DM_EIO / DM_EUNAVAIL. A refused ticket is not spent.
 */
int dm__log_ticket_redeem(dm_db *db, const char *ticket, const char *instance_id, dm_principal *out,
                          dm_err_t *err);

#endif

/*
 * web_routes.h — the files served to browsers (web_files.h): GET and HEAD
 * of /test-logs.html, /test-logs.js, /test-logs.css and
 * /vendor/socket.io.min.js, answered on the loop from memory.
 */
#ifndef DM_WEB_ROUTES_H
#define DM_WEB_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register one loop route per file of the list. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__web_routes_add(dm_router *rt);

#endif

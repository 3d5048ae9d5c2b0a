/*
 * web_routes.c — serves the browser files of web_files.h from memory on the
 * loop: their Content-Type, nosniff, an ETag with revalidation on every use
 * (304 for a matching If-None-Match), and for the page a
 * Content-Security-Policy that allows scripts, styles and connections
 * (fetch, Socket.IO's polling and WebSocket) to this origin only.
 */
#include "web/web_routes.h"

#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "web/web_files.h"

/* No inline script or style anywhere, no plugins, no framing, no form
 * posted anywhere (the sign-in form is sent by script), no <base>. */
#define PAGE_CSP                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void serve(dm_request *r)
{
    const dm_web_file *f = dm__web_file_find(r->route->pattern);
    if (f == NULL || f->data == NULL) {
        /* Logged once at start (dm__web_files_load), with what to do. */
        dm__res_header(r, "Cache-Control", "no-store");
        dm__res_error(r, 404, "NOT_FOUND", "this file is not installed on this server", NULL);
        return;
    }
    dm__res_header(r, "X-Content-Type-Options", "nosniff");
    /* The files change only when the server restarts: keep them, but ask
     * every time (an unchanged file costs a 304). */
    dm__res_header(r, "Cache-Control", "no-cache");
    dm__res_header(r, "ETag", f->etag);
    if (f->page) {
        dm__res_header(r, "Content-Security-Policy", PAGE_CSP);
        dm__res_header(r, "Referrer-Policy", "no-referrer");
        dm__res_header(r, "X-Frame-Options", "DENY");
    }
    if (dm__web_etag_matches(dm__req_header(r, "If-None-Match"), f->etag)) {
        dm__res_empty(r, 304);
        return;
    }
    dm__res_raw(r, 200, f->type, f->data, f->len);
}

int dm__web_routes_add(dm_router *rt)
{
    for (size_t i = 0; i < dm__web_files_count(); i++) {
        int rc = dm__router_add(rt, "GET", dm__web_file_at(i)->url, serve, DM_ROUTE_LOOP);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * web_files.h — the files Dermaga serves to browsers (the log page, its
 * script and style, and the npm build of socket.io-client), read once at
 * start from the `web.dir` directory and kept in memory. The list of files
 * is fixed here; no request path ever becomes a file path.
 */
#ifndef DM_WEB_FILES_H
#define DM_WEB_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* A file larger than this is refused at load (the largest, the vendor
 * build, is about 50 KiB). */
#define DM_WEB_FILE_MAX (4u * 1024u * 1024u)

typedef struct dm_web_file {
    const char *url;     /* static: the path it is served at, "/test-logs.html" */
    const char *rel;     /* static: its path under web.dir */
    const char *type;    /* static: its Content-Type */
    bool        page;    /* an HTML page (it gets the Content-Security-Policy) */
    const char *hint;    /* static: what to do when it is missing, for the log */
    char       *data;    /* owned by this module; NULL when it is not loaded */
    size_t      len;
    char        etag[20]; /* "\"" + 16 hex digits of its SHA-256 + "\"" */
} dm_web_file;

/*
 * Read every file of the list from dir (borrowed) into memory, replacing
 * whatever an earlier call loaded. A file that is missing, not a regular
 * file, larger than DM_WEB_FILE_MAX, or whose real path (symbolic links
 * resolved) lies outside dir's is left unloaded, with one warning line
 * naming its path, the reason and the URL that will answer 404. Never
 * fails: returns how many files were loaded. Call on one thread before
 * serving; the files are read-only afterwards.
 */
size_t dm__web_files_load(const char *dir);

/* Drop what dm__web_files_load read. Idempotent. */
void dm__web_files_free(void);

/* The number of files in the list, and the i-th (borrowed, static; its
 * data is NULL until loaded). */
size_t dm__web_files_count(void);
const dm_web_file *dm__web_file_at(size_t i);

/* The file served at url, or NULL when url is not in the list. Borrowed. */
const dm_web_file *dm__web_file_find(const char *url);

/* True when an If-None-Match value (a list of entity tags, weak or strong,
 * or "*") names etag, so the answer can be 304. value may be NULL. */
bool dm__web_etag_matches(const char *value, const char *etag);

#endif

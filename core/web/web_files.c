/*
 * web_files.c — the fixed list of files served to browsers and their
 * loading from web.dir at start (web_files.h): each is read whole, checked
 * to lie inside the directory once symbolic links are resolved, and given
 * an ETag from its SHA-256. No HTTP here; web_routes.c serves them.
 */
#include "web/web_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dermaga/error.h>

#include "util/log.h"
#include "util/sha256.h"

#define JS_TYPE "text/javascript; charset=utf-8"
#define NPM_HINT "install it with `npm ci` in web.dir (scripts/run.sh and scripts/test.sh do)"
#define TREE_HINT "is web.dir the web/ folder of a Dermaga source tree or installation?"

/* Loaded once before the loop runs, read-only while serving. */
static dm_web_file files[] = {
    { .url = "/test-logs.html", .rel = "test-logs.html", .type = "text/html; charset=utf-8", .page = true,
      .hint = TREE_HINT },
    { .url = "/test-logs.js", .rel = "test-logs.js", .type = JS_TYPE, .hint = TREE_HINT },
    { .url = "/test-logs.css", .rel = "test-logs.css", .type = "text/css; charset=utf-8", .hint = TREE_HINT },
    /* The browser build of socket.io-client at the exact version that
     * web/package-lock.json pins: installed by npm, never committed. */
    { .url = "/vendor/socket.io.min.js", .rel = "node_modules/socket.io-client/dist/socket.io.min.js",
      .type = JS_TYPE, .hint = NPM_HINT },
};

#define N_FILES (sizeof files / sizeof files[0])

/* The real path of path into out (PATH_MAX), which must be dir_real itself
 * or below it. 0, or a DM_E code with err set. */
static int resolve_inside(const char *dir_real, const char *path, char *out, dm_err_t *err)
{
    if (realpath(path, out) == NULL)
        return dm_err_set(err, errno == ENOENT ? DM_ENOTFOUND : DM_EIO, "%s", strerror(errno));
    size_t n = strlen(dir_real);
    bool root = n == 1 && dir_real[0] == '/';
    if (!root && (strncmp(out, dir_real, n) != 0 || out[n] != '/'))
        return dm_err_set(err, DM_EPERM, "its real path %.200s is outside the directory", out);
    return 0;
}

/* Read the regular file at real (no symbolic links left in it) into f. */
static int read_whole(const char *real, dm_web_file *f, dm_err_t *err)
{
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return dm_err_set(err, DM_EIO, "%s", strerror(errno));
    struct stat st;
    int rc = 0;
    size_t want = 0, got = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0)
        rc = dm_err_set(err, DM_EIO, "%s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = dm_err_set(err, DM_EINVAL, "not a regular file");
    else if ((unsigned long long)st.st_size > DM_WEB_FILE_MAX)
        rc = dm_err_set(err, DM_EINVAL, "%lld bytes is over the %u-byte limit", (long long)st.st_size,
                        DM_WEB_FILE_MAX);
    else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    else
        want = (size_t)st.st_size;
    while (rc == 0 && got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = dm_err_set(err, DM_EIO, "%s", r < 0 ? strerror(errno) : "the file shrank while being read");
        else
            got += (size_t)r;
    }
    close(fd);
    char digest[65];
    if (rc == 0 && dm__sha256_hex(buf, got, digest) != 0)
        rc = dm_err_set(err, DM_EIO, "cannot hash it");
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    f->data = buf;
    f->len = got;
    snprintf(f->etag, sizeof f->etag, "\"%.16s\"", digest);
    return 0;
}

size_t dm__web_files_load(const char *dir)
{
    dm__web_files_free();
    char dir_real[PATH_MAX];
    if (dir == NULL || realpath(dir, dir_real) == NULL) {
        dm__log(DM_LOG_WARN, "web", "web.dir %s: %s; the log page and its files will answer 404",
                dir != NULL ? dir : "(none)", dir != NULL ? strerror(errno) : "not set");
        return 0;
    }
    size_t loaded = 0;
    for (size_t i = 0; i < N_FILES; i++) {
        dm_web_file *f = &files[i];
        char path[PATH_MAX], real[PATH_MAX];
        dm_err_t err = { 0 };
        int n = snprintf(path, sizeof path, "%s/%s", dir_real, f->rel);
        int rc = n < 0 || (size_t)n >= sizeof path ? dm_err_set(&err, DM_EINVAL, "path too long")
                                                   : resolve_inside(dir_real, path, real, &err);
        if (rc == 0)
            rc = read_whole(real, f, &err);
        if (rc != 0) {
            dm__log(DM_LOG_WARN, "web", "%s: %s; GET %s will answer 404 (%s)", path, err.msg, f->url, f->hint);
            continue;
        }
        loaded++;
    }
    dm__log(DM_LOG_INFO, "web", "loaded %zu of %zu browser files from %s", loaded, N_FILES, dir_real);
    return loaded;
}

void dm__web_files_free(void)
{
    for (size_t i = 0; i < N_FILES; i++) {
        free(files[i].data);
        files[i].data = NULL;
        files[i].len = 0;
        files[i].etag[0] = '\0';
    }
}

size_t dm__web_files_count(void)
{
    return N_FILES;
}

const dm_web_file *dm__web_file_at(size_t i)
{
    return i < N_FILES ? &files[i] : NULL;
}

const dm_web_file *dm__web_file_find(const char *url)
{
    for (size_t i = 0; url != NULL && i < N_FILES; i++) {
        if (strcmp(files[i].url, url) == 0)
            return &files[i];
    }
    return NULL;
}

bool dm__web_etag_matches(const char *value, const char *etag)
{
    size_t want = etag != NULL ? strlen(etag) : 0;
    if (value == NULL || want == 0)
        return false;
    for (const char *p = value; *p != '\0';) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 1 && p[0] == '*')
            return true;
        /* Weak comparison (RFC 9110 13.1.2): W/"x" matches "x". */
        const char *tag = len > 2 && p[0] == 'W' && p[1] == '/' ? p + 2 : p;
        size_t tag_len = len - (size_t)(tag - p);
        if (tag_len == want && memcmp(tag, etag, want) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

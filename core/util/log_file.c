/*
 * log_file.c — logFile (util/log_file.h): fd 2 pointed at a file, and
 * pointed at it again on SIGHUP.
 */
#include "util/log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char file_path[PATH_MAX];
static int console_fd = -1; /* the original fd 2, once a file replaced it */

/* Open path and put it on fd 2. 0 or DM_EIO. */
static int attach(const char *path, dm_err_t *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return dm_err_set(err, DM_EIO, "logFile %s: %s", path, strerror(errno));
    int rc = dup2(fd, STDERR_FILENO) < 0 ? dm_err_set(err, DM_EIO, "logFile %s: %s", path, strerror(errno)) : 0;
    close(fd);
    return rc;
}

int dm__log_file_open(const char *path, dm_err_t *err)
{
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof file_path)
        return dm_err_set(err, DM_EIO, "logFile: the path is empty or too long");
    if (console_fd < 0 && (console_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0)
        return dm_err_set(err, DM_EIO, "logFile: cannot keep the console: %s", strerror(errno));
    int rc = attach(path, err);
    if (rc == 0)
        snprintf(file_path, sizeof file_path, "%s", path);
    return rc;
}

int dm__log_file_reopen(dm_err_t *err)
{
    if (file_path[0] == '\0')
        return dm_err_set(err, DM_ENOTFOUND, "no log file in use");
    return attach(file_path, err);
}

const char *dm__log_file_path(void)
{
    return file_path[0] != '\0' ? file_path : NULL;
}

int dm__log_console_fd(void)
{
    return console_fd >= 0 ? console_fd : STDERR_FILENO;
}

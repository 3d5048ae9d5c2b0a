/*
 * log_file.h — logFile: `serve` writing its log to a file that logrotate
 * can move. Every log line (util/log.c), access log line
 * (http/access_log.c) and plugin log line goes to fd 2 with one write(2),
 * so pointing fd 2 at the file (dup2, atomic for the writers) sends them
 * all there, and reopening after a move is one more dup2: no writer needs
 * a lock or even knows. The console (the original fd 2) is kept to say
 * where a failed start was logged.
 *
 * Threads: dm__log_file_open on the main thread before other threads
 * start; dm__log_file_reopen on the loop thread (SIGHUP); the others
 * anywhere.
 */
#ifndef DM_LOG_FILE_H
#define DM_LOG_FILE_H

#include <dermaga/error.h>

/* Append fd 2 to path (created 0640 when missing). 0, or DM_EIO with the
 * reason in err (fd 2 unchanged). path is copied. */
int dm__log_file_open(const char *path, dm_err_t *err);

/* Open the path again and put it on fd 2, so lines written from now on go
 * to a file at the configured path (logrotate renamed the old one). 0;
 * DM_ENOTFOUND when no file is in use; DM_EIO with the reason in err (the
 * old file stays in use). */
int dm__log_file_reopen(dm_err_t *err);

/* The file in use, or NULL (logging to stderr). */
const char *dm__log_file_path(void);

/* The console: the fd 2 the process started with (a duplicate once a file
 * is in use). */
int dm__log_console_fd(void);

#endif

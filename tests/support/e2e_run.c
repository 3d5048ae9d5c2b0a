/*
 * e2e_run.c — see e2e_run.h. Output goes through a temporary file, so a
 * command that prints a lot never blocks on a full pipe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_run.h"

#define MAX_ARGS 30
#define MAX_ENV 16

const char *dm_e2e_binary(void)
{
    const char *b = getenv("DERMAGA_TEST_BIN");
    return b != NULL && b[0] != '\0' ? b : DM_BUILD_DIR "/dermaga";
}

/* In the child: the environment and argv, then exec. Never returns. */
static void exec_child(int fd, const char *const env[], const char *const args[])
{
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    char *envp[MAX_ENV + 3];
    int n = 0;
    envp[n++] = "PATH=/usr/bin:/bin";
    const char *asan = getenv("ASAN_OPTIONS");
    static char asan_env[512];
    if (asan != NULL) {
        snprintf(asan_env, sizeof asan_env, "ASAN_OPTIONS=%s", asan);
        envp[n++] = asan_env;
    }
    for (int i = 0; env != NULL && env[i] != NULL && i < MAX_ENV; i++)
        envp[n++] = (char *)env[i];
    envp[n] = NULL;
    char *argv[MAX_ARGS + 2];
    int a = 0;
    argv[a++] = (char *)dm_e2e_binary();
    for (int i = 0; args != NULL && args[i] != NULL && i < MAX_ARGS; i++)
        argv[a++] = (char *)args[i];
    argv[a] = NULL;
    execve(dm_e2e_binary(), argv, envp);
    _exit(127);
}

int dm_e2e_run(char **out, const char *const env[], const char *const args[])
{
    char path[] = "/tmp/dm-cli-out-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0)
        exec_child(fd, env, args);
    int status = 0;
    waitpid(pid, &status, 0);
    struct stat st;
    fstat(fd, &st);
    *out = calloc(1, (size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(*out);
    ssize_t got = pread(fd, *out, (size_t)st.st_size, 0);
    ck_assert_int_eq(got, st.st_size);
    close(fd);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

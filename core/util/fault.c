/*
 * fault.c — crash points for tests (fault.h); empty unless the build
 * defines DM_FAULTS.
 */
#include "util/fault.h"

#ifdef DM_FAULTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dm__fault_point(const char *name)
{
    const char *want = getenv("DM_TEST_FAULT");
    if (want != NULL && strcmp(want, name) == 0)
        kill(getpid(), SIGKILL);
}
#endif

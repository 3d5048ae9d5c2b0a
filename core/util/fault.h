/*
 * fault.h — named crash points for tests. A build with DERMAGA_FAULTS=ON
 * (scripts/test.sh makes one) kills the process with SIGKILL, as a power
 * cut would, when it reaches the point named by the environment variable
 * DM_TEST_FAULT; `dermaga` built without it has no such points at all.
 * Tests use them to show that work is either wholly done or not at all
 * whenever a node dies (docs/wallet.md, Idempotency-Key).
 *
 * Points: "idem.before_commit", "idem.after_commit" (http/idempotency.c).
 */
#ifndef DM_FAULT_H
#define DM_FAULT_H

#ifdef DM_FAULTS
/* Die here when DM_TEST_FAULT names this point. Any thread. */
void dm__fault_point(const char *name);
#else
static inline void dm__fault_point(const char *name)
{
    (void)name;
}
#endif

#endif

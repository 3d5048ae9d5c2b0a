/*
 * clock.h — time helpers. Monotonic for durations and timeouts; wall clock
 * only for timestamps shown to people.
 */
#ifndef DM_CLOCK_H
#define DM_CLOCK_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

uint64_t dm__clock_mono_ns(void);
/* The same in milliseconds: for deadlines a handler counts itself. */
int64_t  dm__clock_mono_ms(void);
int64_t  dm__clock_wall_ms(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-25T20:00:00.000Z. */
void     dm__clock_rfc3339(int64_t wall_ms, char *buf, size_t len);
/* The absolute time ms milliseconds from now on clock, for
 * pthread_cond_timedwait (whose condvar must use the same clock). */
void     dm__clock_deadline(clockid_t clock, int ms, struct timespec *out);
/* Fill buf with n bytes from the kernel CSPRNG; 0 or DM_EIO. */
int      dm__random_bytes(void *buf, size_t n);
/* A random RFC 4122 version-4 UUID in canonical form (37 bytes with NUL). */
int      dm__uuid_v4(char out[37]);

#endif

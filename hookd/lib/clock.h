/* The clocks hookd reads: CLOCK_MONOTONIC for deadlines and durations, CLOCK_REALTIME only for timestamps
 * shown to people. One place, so every deadline in the daemon, the hook and hookctl counts the same way. */
#pragma once

#include <time.h>

/* CLOCK_MONOTONIC in microseconds / milliseconds since an unspecified start (boot). */
unsigned long long monotonic_usec(void);
unsigned long long monotonic_ms(void);

/* CLOCK_REALTIME in microseconds since the epoch: when something happened, for status output. */
long long realtime_usec(void);

/* The CLOCK_MONOTONIC instant ms milliseconds from now, for pthread_cond_timedwait() on a condition variable
 * set to CLOCK_MONOTONIC. */
struct timespec monotonic_timespec_after_ms(unsigned ms);

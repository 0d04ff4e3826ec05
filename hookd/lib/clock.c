#include "clock.h"

/* clock_gettime() cannot fail for these clocks on Linux; the zero timespec is only a guard. */
static struct timespec clock_now(clockid_t id)
{
	struct timespec ts = { 0 };

	(void)clock_gettime(id, &ts);
	return ts;
}

unsigned long long monotonic_usec(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC);

	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

unsigned long long monotonic_ms(void)
{
	return monotonic_usec() / 1000ull;
}

long long realtime_usec(void)
{
	struct timespec ts = clock_now(CLOCK_REALTIME);

	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

struct timespec monotonic_timespec_after_ms(unsigned ms)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC);

	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

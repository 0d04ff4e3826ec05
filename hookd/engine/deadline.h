/* A blocking call on a thread of its own, waited for until a deadline (sysfs writes, module loads). */
#pragma once

/* Call FN(DATA, A, B) on a detached thread and wait at most TIMEOUT_MS for it to return. FN's result, or
 * -ETIMEDOUT: FN carries on, and its outcome must be read from the system later. A and B are copied; DATA
 * is the caller's, and RELEASE(DATA), when given, is called exactly once when nothing uses DATA any more
 * (after FN returned, or at once when no thread could be started: -ENOMEM or -errno of pthread_create). */
int call_with_deadline(int (*fn)(void *data, const char *a, const char *b), void (*release)(void *data), void *data,
		       const char *a, const char *b, unsigned timeout_ms);

/* A blocking call on a thread of its own, waited for until a deadline: the kernel can block a sysfs write
 * or a module load for as long as a driver likes, and hookd must answer libvirt meanwhile. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "deadline.h"

/* Shared by the caller and the writer thread; whichever lets go last frees it, because a timed-out caller
 * leaves the thread blocked in the kernel. */
struct deadline_job {
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
	int (*fn)(void *data, const char *a, const char *b);
	void (*release)(void *data);
	void *data;
	char *a;
	char *b;
};

static void job_unref(struct deadline_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j->a);
	free(j->b);
	free(j);
}

static void *run(void *arg)
{
	struct deadline_job *j = arg;
	int r = j->fn(j->data, j->a, j->b);

	if (j->release)
		j->release(j->data);

	pthread_mutex_lock(&j->lock);
	j->result = r;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return NULL;
}

int call_with_deadline(int (*fn)(void *data, const char *a, const char *b), void (*release)(void *data), void *data,
		       const char *a, const char *b, unsigned timeout_ms)
{
	struct deadline_job *j;
	pthread_condattr_t attr;
	pthread_attr_t tattr;
	pthread_t thread;
	struct timespec deadline;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j) {
		if (release)
			release(data);
		return -ENOMEM;
	}
	atomic_init(&j->refs, 2);
	j->fn = fn;
	j->release = release;
	j->data = data;
	j->a = strdup(a);
	j->b = strdup(b);
	if (!j->a || !j->b) {
		free(j->a);
		free(j->b);
		free(j);
		if (release)
			release(data);
		return -ENOMEM;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &attr);
	pthread_condattr_destroy(&attr);

	pthread_attr_init(&tattr);
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&tattr, 64 * 1024);
	r = -pthread_create(&thread, &tattr, run, j);
	pthread_attr_destroy(&tattr);
	if (r < 0) {
		atomic_store(&j->refs, 1);
		job_unref(j);
		if (release)
			release(data);
		return r;
	}

	deadline = monotonic_timespec_after_ms(timeout_ms);
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &deadline) == ETIMEDOUT)
			break;
	r = j->done ? j->result : -ETIMEDOUT;
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return r;
}

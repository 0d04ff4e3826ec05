#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pci.h"
#include "util.h"

/* Shared by the caller and the writer thread; whichever lets go last frees it, because a timed-out caller
 * leaves the thread blocked in the kernel. */
struct write_job {
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
	int (*fn)(void *data, const char *relpath, const char *value);
	void *data;
	char *relpath;
	char *value;
};

static void job_unref(struct write_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j->relpath);
	free(j->value);
	free(j);
}

/* PATH is whole: nothing the caller owns is used, as a timed-out writer outlives the caller. */
static int write_now(void *data, const char *path, const char *value)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	(void)data;
	/* O_TRUNC as the shell does: harmless on sysfs, and a fixture file then holds only the last write. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

static void *writer(void *arg)
{
	struct write_job *j = arg;
	int r = j->fn(j->data, j->relpath, j->value);

	pthread_mutex_lock(&j->lock);
	j->result = r;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return NULL;
}

/* Call FN(DATA, RELPATH, VALUE) on a thread of its own and wait at most TIMEOUT_MS for it to return: FN's
 * result, or -ETIMEDOUT (FN carries on; DATA must outlive it, RELPATH and VALUE are copied). */
static int call_with_deadline(int (*fn)(void *data, const char *relpath, const char *value), void *data,
			      const char *relpath, const char *value, unsigned timeout_ms)
{
	struct write_job *j;
	pthread_condattr_t attr;
	pthread_attr_t tattr;
	pthread_t thread;
	struct timespec deadline;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 2);
	j->fn = fn;
	j->data = data;
	j->relpath = strdup(relpath);
	j->value = strdup(value);
	if (!j->relpath || !j->value) {
		free(j->relpath);
		free(j->value);
		free(j);
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
	r = -pthread_create(&thread, &tattr, writer, j);
	pthread_attr_destroy(&tattr);
	if (r < 0) {
		atomic_store(&j->refs, 1);
		job_unref(j);
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

int sysfs_write(const char *sysfs_root, const char *relpath, const char *value, unsigned timeout_ms)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", sysfs_root, relpath) < 0)
		return -ENOMEM;
	return call_with_deadline(write_now, NULL, path, value, timeout_ms);
}

static int device_write(const struct kernel *k, const char *address, const char *attr, const char *value,
			unsigned timeout_ms)
{
	char rel[96];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/%s", address, attr);
	return kernel_write(k, rel, value, timeout_ms);
}

int pci_set_driver_override(const struct kernel *k, const char *address, const char *driver, unsigned timeout_ms)
{
	/* "\n" clears it: the kernel strips the newline and stores nothing. */
	return device_write(k, address, "driver_override", driver ? driver : "\n", timeout_ms);
}

int pci_unbind(const struct kernel *k, const char *address, unsigned timeout_ms)
{
	int r = device_write(k, address, "driver/unbind", address, timeout_ms);

	/* No driver link: nothing to unbind. */
	return r == -ENOENT ? 0 : r;
}

int pci_probe(const struct kernel *k, const char *address, unsigned timeout_ms)
{
	return kernel_write(k, "bus/pci/drivers_probe", address, timeout_ms);
}

int pci_set_reset_method(const struct kernel *k, const char *address, const char *method, unsigned timeout_ms)
{
	return device_write(k, address, "reset_method", method, timeout_ms);
}

/* A sysfs write in a child process, SIGKILLed at its deadline (stoppable-write.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "stoppable-write.h"
#include "util.h"

/* How long a killed writer may take to stop at least (its deadline, when longer): the kernel stops it at the
 * next page or compaction step, which under TCG and ASan can take tens of milliseconds. */
#define STOP_WAIT_MS 10000

/* Wait until PID exits or TIMEOUT_MS pass: through its pidfd when the kernel has them, else by polling.
 * 0 with *STATUS; -ETIMEDOUT; -errno of waitpid. */
static int wait_exit(pid_t pid, int pidfd, unsigned timeout_ms, int *status)
{
	unsigned long long until = monotonic_ms() + timeout_ms;

	for (;;) {
		unsigned long long now;
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		now = monotonic_ms();
		if (now >= until)
			return -ETIMEDOUT;
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			(void)poll(&pfd, 1, (int)(until - now));
		} else
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

static void *reap(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;

	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

/* A child that would not die within its wait (stuck in an uninterruptible sleep) is reaped when it does. */
static void reap_later(pid_t pid)
{
	pthread_attr_t attr;
	pthread_t thread;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, reap, (void *)(intptr_t)pid) != 0)
		(void)0; /* a zombie until hookd exits: harmless, and nothing better is possible */
	pthread_attr_destroy(&attr);
}

int sysfs_write_stoppable(const char *root, const char *relpath, const char *value, unsigned timeout_ms)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int pidfd = -EBADF;
	size_t len = strlen(value);
	int status, r;
	pid_t pid;

	if (asprintf(&path, "%s/%s", root, relpath) < 0)
		return -ENOMEM;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Only async-signal-safe calls from here: the parent has other threads. */
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			_exit(errno);
		n = write(fd, value, len);
		_exit(n < 0 ? errno : (size_t)n == len ? 0 : EIO);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r = wait_exit(pid, pidfd, timeout_ms, &status);
	if (r == -ETIMEDOUT) {
		/* Its outcome is final only once it has exited: a page in progress is still added after the
		 * signal (a 5 ms deadline in the ASan build's guest left one more page in the pool after the
		 * give-back, when the wait after the kill was as short as the deadline). */
		(void)kill(pid, SIGKILL);
		if (wait_exit(pid, pidfd, timeout_ms > STOP_WAIT_MS ? timeout_ms : STOP_WAIT_MS, &status) ==
		    -ETIMEDOUT) {
			reap_later(pid);
			return -EINPROGRESS;
		}
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? -WEXITSTATUS(status) : 0;
	return -EINTR; /* killed by someone else: what it did is read from the tree */
}

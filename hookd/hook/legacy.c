/* Runs a VM's legacy qemu.d scripts: each in its own process group with the XML on stdin, its output in memory
 * files (never libvirt's pipes), killed with its group at the deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clock.h"
#include "util.h"
#include "legacy.h"

extern char **environ;

static int memfd_with(const char *name, const char *data, size_t len, int *ret_fd)
{
	_cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Wait for pid until timeout_ms; past it, kill its whole process group. Returns the wait status, or -ETIMEDOUT
 * (the child is reaped either way). */
static int wait_with_deadline(pid_t pid, unsigned timeout_ms)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	unsigned long long deadline = monotonic_ms() + timeout_ms;
	bool timed_out = false;
	int status;

	while (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		unsigned long long now = monotonic_ms();
		int n;

		if (now >= deadline) {
			timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			break;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return timed_out ? -ETIMEDOUT : status;
}

/* Copy a captured stream to our stderr: the script's own words are part of the error a user reads. */
static void pass_through(int fd, int to)
{
	char buf[4096];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(to, buf, (size_t)n) < 0)
			return;
}

/* Run one script with the XML on stdin; stdout and stderr go to memory files, never to libvirt's pipes.
 * 0 on success with *ret_out (its stdout), 1 when it failed (reported on stderr), <0 on our own error. */
static int run_script(const struct hook_call *c, const char *path, const char *xml, size_t xml_len, char **ret_out,
		      size_t *ret_out_len)
{
	_cleanup_close_ int in = -1, out = -1, err = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char **argv = c->argv;
	pid_t pid;
	int r, status;

	r = memfd_with("hookd-xml", xml, xml_len, &in);
	if (r < 0)
		return r;
	out = memfd_create("hookd-stdout", MFD_CLOEXEC);
	err = memfd_create("hookd-stderr", MFD_CLOEXEC);
	if (out < 0 || err < 0)
		return -errno;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err, STDERR_FILENO);
	posix_spawnattr_init(&attr);
	/* Its own process group, so a timeout can kill whatever it started too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	argv[0] = (char *)path;
	r = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		fprintf(stderr, "hookd: VM %s: cannot run legacy hook %s: %s\n", c->vm, path, strerror(r));
		return 1;
	}

	status = wait_with_deadline(pid, c->timeout_ms);
	if (status == -ETIMEDOUT) {
		pass_through(err, STDERR_FILENO);
		fprintf(stderr, "hookd: VM %s: legacy hook %s did not finish within %u s and was killed\n", c->vm,
			path, (c->timeout_ms + 999) / 1000);
		return 1;
	}
	if (status < 0)
		return status;
	pass_through(err, STDERR_FILENO);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "hookd: VM %s: legacy hook %s was killed by signal %d\n", c->vm, path,
			WTERMSIG(status));
		return 1;
	}
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "hookd: VM %s: legacy hook %s failed with exit status %d\n", c->vm, path,
			WEXITSTATUS(status));
		return 1;
	}
	if (lseek(out, 0, SEEK_SET) < 0)
		return -errno;
	return read_all(out, HOOKD_XML_MAX, ret_out, ret_out_len);
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scripts for this event in strcmp order: the executables in the directory, or the one file. */
static int list_scripts(const char *where, char ***ret, size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **list = NULL;
	size_t n = 0;
	struct stat st;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	if (stat(where, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (!S_ISDIR(st.st_mode)) {
		if (!is_executable_file(where))
			return 0;
		list = calloc(1, sizeof(char *));
		if (!list || !(list[0] = strdup(where))) {
			free(list);
			return -ENOMEM;
		}
		*ret = list;
		*ret_n = 1;
		return 0;
	}
	d = opendir(where);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *path, **grown;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&path, "%s/%s", where, de->d_name) < 0)
			goto oom;
		if (!is_executable_file(path)) {
			free(path);
			continue;
		}
		grown = realloc(list, (n + 1) * sizeof(char *));
		if (!grown) {
			free(path);
			goto oom;
		}
		list = grown;
		list[n++] = path;
	}
	qsort(list, n, sizeof(char *), cmp_strings);
	*ret = list;
	*ret_n = n;
	return 0;
oom:
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return -ENOMEM;
}

int run_legacy(struct hook_call *c, const char *hooks_dir)
{
	bool chain = c->op == HOOK_OP_MIGRATE || c->op == HOOK_OP_RESTORE;
	bool end_phase = op_is_end_phase(c->op);
	_cleanup_free_ char *where = NULL, *xml = NULL;
	size_t xml_len = c->xml_len;
	bool changed = false;
	char **scripts;
	size_t n;
	int r, result = 0;

	if (asprintf(&where, "%s/qemu.d/%s/%s/%s", hooks_dir, c->vm, c->op_name, c->subop) < 0)
		return -ENOMEM;
	r = list_scripts(where, &scripts, &n);
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: cannot read legacy hooks in %s: %s\n", c->vm, where, strerror(-r));
		return end_phase ? 0 : 1;
	}
	xml = strdup(c->xml);
	if (!xml)
		r = -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *out = NULL;
		size_t out_len = 0;

		r = run_script(c, scripts[i], xml, xml_len, &out, &out_len);
		if (r < 0) {
			fprintf(stderr, "hookd: VM %s: legacy hook %s: %s\n", c->vm, scripts[i], strerror(-r));
			r = 1;
		}
		if (r == 1) {
			result = 1;
			if (end_phase) {
				r = 0;
				continue;
			}
			break;
		}
		if (chain && out_len > 0) {
			free(xml);
			xml = TAKE_PTR(out);
			xml_len = out_len;
			changed = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(scripts[i]);
	free(scripts);
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: %s\n", c->vm, strerror(-r));
		return 1;
	}
	if (result == 0 && changed && fwrite(xml, 1, xml_len, stdout) != xml_len)
		return 1;
	return end_phase ? 0 : result;
}


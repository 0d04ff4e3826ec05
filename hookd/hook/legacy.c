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
#include "fileio.h"
#include "legacy.h"
#include "strv.h"
#include "util.h"

extern char **environ;

static int memfd_with(const char *name, const char *data, size_t len, int *ret_fd)
{
	_cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = write_full(fd, data, len);
	if (r < 0)
		return r;
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
	return read_full_fd(out, HOOKD_XML_MAX, ret_out, ret_out_len);
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* strv_from_dir()'s filter: executables of the directory USERDATA. */
static bool is_executable_entry(const char *name, void *userdata)
{
	_cleanup_free_ char *path = NULL;

	return asprintf(&path, "%s/%s", (const char *)userdata, name) >= 0 && is_executable_file(path);
}

/* The scripts for this event (their paths) in strcmp order: the executables in the directory, or the one
 * file. None when WHERE does not exist. */
static int list_scripts(const char *where, char ***ret)
{
	_cleanup_strv_free_ char **names = NULL, **paths = NULL;
	struct stat st;
	size_t n = 0;
	int r;

	paths = calloc(1, sizeof(char *));
	if (!paths)
		return -ENOMEM;
	if (stat(where, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
	} else if (!S_ISDIR(st.st_mode)) {
		if (is_executable_file(where) && strv_push(&paths, &n, where) < 0)
			return -ENOMEM;
	} else {
		r = strv_from_dir(where, NULL, is_executable_entry, (void *)where, &names);
		if (r < 0)
			return r;
		for (char **name = names; *name; name++) {
			_cleanup_free_ char *path = NULL;

			if (asprintf(&path, "%s/%s", where, *name) < 0 || strv_push(&paths, &n, path) < 0)
				return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(paths);
	return 0;
}

int run_legacy(struct hook_call *c, const char *hooks_dir)
{
	bool chain = c->op == HOOK_OP_MIGRATE || c->op == HOOK_OP_RESTORE;
	bool end_phase = op_is_end_phase(c->op);
	_cleanup_free_ char *where = NULL, *xml = NULL;
	size_t xml_len = c->xml_len;
	_cleanup_strv_free_ char **scripts = NULL;
	bool changed = false;
	int r, result = 0;

	if (asprintf(&where, "%s/qemu.d/%s/%s/%s", hooks_dir, c->vm, c->op_name, c->subop) < 0)
		return -ENOMEM;
	r = list_scripts(where, &scripts);
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: cannot read legacy hooks in %s: %s\n", c->vm, where, strerror(-r));
		return end_phase ? 0 : 1;
	}
	xml = strdup(c->xml);
	if (!xml)
		r = -ENOMEM;
	for (size_t i = 0; scripts[i] && r >= 0; i++) {
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
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: %s\n", c->vm, strerror(-r));
		return 1;
	}
	if (result == 0 && changed && fwrite(xml, 1, xml_len, stdout) != xml_len)
		return 1;
	return end_phase ? 0 : result;
}


/* Runs a VM's legacy qemu.d scripts: each in its own process group with the XML on stdin, its output in memory
 * files or /dev/null (never libvirt's pipes), killed with its group at the deadline. Says which scripts will
 * not run, and refuses those root did not write (trust.h), as run-parts would not tell and sshd would. */
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
#include "strv.h"
#include "trust.h"
#include "util.h"
#include "legacy.h"

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

/* Run one script with the XML on stdin. Its stderr goes to a memory file (passed on to ours when it fails),
 * its stdout to /dev/null, or, when ret_out is given (migrate, restore: libvirt reads the hook's stdout), to a
 * memory file read back up to HOOKD_XML_MAX bytes. Never to libvirt's pipes.
 * 0 on success with *ret_out, 1 when it failed (reported on stderr), <0 on our own error. */
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
	out = ret_out ? memfd_create("hookd-stdout", MFD_CLOEXEC) : open("/dev/null", O_WRONLY | O_CLOEXEC);
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
		fprintf(stderr, "hookd: VM %s: legacy hook %s did not finish within %u s and was killed\n", c->vm, path,
			(c->timeout_ms + 999) / 1000);
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
	if (!ret_out)
		return 0;
	if (lseek(out, 0, SEEK_SET) < 0)
		return -errno;
	r = read_full_fd(out, HOOKD_XML_MAX, ret_out, ret_out_len);
	if (r == -EFBIG) {
		fprintf(stderr, "hookd: VM %s: legacy hook %s wrote more than %u bytes of XML to stdout: refused\n",
			c->vm, path, HOOKD_XML_MAX);
		return 1;
	}
	return r;
}

/* ---- which scripts run, and which will not ---- */

enum script_verdict {
	SCRIPT_RUNS,
	SCRIPT_HIDDEN,	/* a dot file: skipped without a word, as run-parts does */
	SCRIPT_NOT_RUN, /* reported: not executable, not a regular file */
	SCRIPT_REFUSED, /* reported: not root's alone (trust.h) */
};

/* The verdict on qemu.d/.../name at path; *ret_why (caller frees) says why it will not run. */
static enum script_verdict judge_script(const char *hooks_dir, const char *path, const char *name, char **ret_why)
{
	struct stat st;
	int r;

	*ret_why = NULL;
	if (name[0] == '.')
		return SCRIPT_HIDDEN;
	/* As libvirt and run-parts do, a link to a script is the script. */
	if (stat(path, &st) < 0) {
		r = negative_errno();
		return asprintf(ret_why, "legacy hook %s cannot be examined: %s", path, strerror(-r)) < 0
			       ? SCRIPT_HIDDEN
			       : SCRIPT_NOT_RUN;
	}
	if (!S_ISREG(st.st_mode))
		return asprintf(ret_why, "legacy hook %s is not a regular file, so it will not run", path) < 0
			       ? SCRIPT_HIDDEN
			       : SCRIPT_NOT_RUN;
	r = trust_check(hooks_dir, path, &st, ret_why);
	if (r == -ENOMEM)
		return SCRIPT_HIDDEN;
	if (r < 0) {
		char *prefixed;

		if (asprintf(&prefixed, "legacy hook: %s", *ret_why) >= 0) {
			free(*ret_why);
			*ret_why = prefixed;
		}
		return SCRIPT_REFUSED;
	}
	if (access(path, X_OK) < 0)
		return asprintf(ret_why,
				"legacy hook %s is not executable (mode %04o), so it will not run; fix: chmod +x %s",
				path, (unsigned)(st.st_mode & 07777), path) < 0
			       ? SCRIPT_HIDDEN
			       : SCRIPT_NOT_RUN;
	return SCRIPT_RUNS;
}

/* Called for each script candidate under a directory: path, its name, and whether it belongs to this event. */
typedef int (*script_fn)(struct hook_call *c, const char *path, const char *name, bool this_event, void *user);

/* The names in dir (strcmp order, hidden ones left out: run-parts skips them too); none when dir is not
 * there or not a directory. */
static int list_names(const char *dir, char ***ret)
{
	int r = strv_from_dir(dir, NULL, NULL, NULL, ret);

	if (r == -ENOENT || r == -ENOTDIR) {
		*ret = calloc(1, sizeof(char *));
		return *ret ? 0 : -ENOMEM;
	}
	return r;
}

/* The scripts of qemu.d/<vm>/<op>/<subop>: the entries of that directory, or the one file. In strcmp order. */
static int walk_subop(struct hook_call *c, const char *op, const char *subop_path, const char *subop, script_fn fn,
		      void *user)
{
	bool this_event = streq(op, c->op_name) && streq(subop, c->subop);
	_cleanup_strv_free_ char **names = NULL;
	struct stat st;
	int r;

	if (stat(subop_path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISDIR(st.st_mode))
		return fn(c, subop_path, subop, this_event, user);
	r = list_names(subop_path, &names);
	for (size_t i = 0; r >= 0 && names[i]; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", subop_path, names[i]) < 0)
			return -ENOMEM;
		r = fn(c, path, names[i], this_event, user);
	}
	return r;
}

static int survey_script(struct hook_call *c, const char *path, const char *name, bool this_event, void *user)
{
	_cleanup_free_ char *why = NULL;
	bool *blocked = user;

	switch (judge_script(c->hooks_dir, path, name, &why)) {
	case SCRIPT_REFUSED:
		if (this_event)
			*blocked = true;
		__attribute__((fallthrough));
	case SCRIPT_NOT_RUN:
		/* A directory at fault is named once, not once per script below it. */
		for (size_t i = 0; i < c->warnings.n; i++)
			if (streq(c->warnings.lines[i], why))
				return 0;
		diag_add(&c->warnings, "%s", why);
		break;
	default:
		break;
	}
	return 0;
}

/* Executables directly in qemu.d/ run for every VM and event, by libvirt 6.5 and later, not by us. */
static int survey_top_level(struct hook_call *c, const char *qemu_d)
{
	_cleanup_strv_free_ char **names = NULL;
	int r = list_names(qemu_d, &names);

	for (size_t i = 0; r >= 0 && names[i]; i++) {
		_cleanup_free_ char *path = NULL;
		struct stat st;

		if (asprintf(&path, "%s/%s", qemu_d, names[i]) < 0)
			return -ENOMEM;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
			diag_add(&c->warnings,
				 "%s is run by libvirt itself (6.5 and later) for every VM and every event, not by "
				 "hookd; if it is meant for one VM, move it to qemu.d/<vm>/<op>/<subop>/",
				 path);
	}
	return r;
}

int legacy_survey(struct hook_call *c, bool *ret_blocked)
{
	_cleanup_free_ char *qemu_d = NULL, *vm_dir = NULL;
	_cleanup_strv_free_ char **ops = NULL;
	int r, k;

	*ret_blocked = false;
	if (asprintf(&qemu_d, "%s/qemu.d", c->hooks_dir) < 0 || asprintf(&vm_dir, "%s/%s", qemu_d, c->vm) < 0)
		return -ENOMEM;
	r = survey_top_level(c, qemu_d);
	k = list_names(vm_dir, &ops);
	if (k < 0)
		return k;
	for (size_t i = 0; ops[i]; i++) {
		_cleanup_free_ char *op_dir = NULL;
		_cleanup_strv_free_ char **subops = NULL;

		if (asprintf(&op_dir, "%s/%s", vm_dir, ops[i]) < 0)
			return -ENOMEM;
		k = list_names(op_dir, &subops);
		for (size_t j = 0; k >= 0 && subops[j]; j++) {
			_cleanup_free_ char *subop_path = NULL;

			if (asprintf(&subop_path, "%s/%s", op_dir, subops[j]) < 0)
				return -ENOMEM;
			k = walk_subop(c, ops[i], subop_path, subops[j], survey_script, ret_blocked);
		}
		if (k < 0 && r >= 0)
			r = k;
	}
	return r;
}

struct script_list {
	char **paths; /* a strv */
	size_t n;
};

static int collect_runnable(struct hook_call *c, const char *path, const char *name, bool this_event, void *user)
{
	_cleanup_free_ char *why = NULL;
	struct script_list *l = user;

	/* What will not run was reported by legacy_survey(). */
	if (judge_script(c->hooks_dir, path, name, &why) != SCRIPT_RUNS)
		return 0;
	return strv_push(&l->paths, &l->n, path);
}

int run_legacy(struct hook_call *c)
{
	bool chain = c->op == HOOK_OP_MIGRATE || c->op == HOOK_OP_RESTORE;
	bool end_phase = op_is_end_phase(c->op);
	_cleanup_free_ char *where = NULL, *xml = NULL;
	struct script_list scripts = { 0 };
	size_t xml_len = c->xml_len;
	bool changed = false;
	int r, result = 0;

	if (asprintf(&where, "%s/qemu.d/%s/%s/%s", c->hooks_dir, c->vm, c->op_name, c->subop) < 0)
		return -ENOMEM;
	r = walk_subop(c, c->op_name, where, c->subop, collect_runnable, &scripts);
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: cannot read legacy hooks in %s: %s\n", c->vm, where, strerror(-r));
		result = 1;
	}
	/* The XML is c->xml_len bytes: copied by length, as it is passed on by length. */
	xml = malloc(xml_len + 1);
	if (!xml)
		r = -ENOMEM;
	else {
		memcpy(xml, c->xml, xml_len);
		xml[xml_len] = '\0';
	}
	for (size_t i = 0; i < scripts.n && r >= 0; i++) {
		_cleanup_free_ char *out = NULL;
		size_t out_len = 0;

		r = run_script(c, scripts.paths[i], xml, xml_len, chain ? &out : NULL, &out_len);
		if (r < 0) {
			fprintf(stderr, "hookd: VM %s: legacy hook %s: %s\n", c->vm, scripts.paths[i], strerror(-r));
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
	strv_free(scripts.paths);
	if (r < 0) {
		fprintf(stderr, "hookd: VM %s: %s\n", c->vm, strerror(-r));
		return end_phase ? 0 : 1;
	}
	if (result == 0 && changed && fwrite(xml, 1, xml_len, stdout) != xml_len)
		return 1;
	return end_phase ? 0 : result;
}

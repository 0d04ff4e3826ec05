/* The executable libvirt runs as /etc/libvirt/hooks/qemu: argv "qemu VM OP SUBOP EXTRA", the domain XML on
 * stdin. It asks hookd to act (one round trip), runs the VM's legacy qemu.d/<vm>/<op>/<subop>/ scripts, and
 * turns the outcome into what libvirt understands: an exit status and one line on stderr.
 * It never calls libvirt, and no child it starts keeps libvirt's stdout or stderr open. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hookd-config.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "proto.h"
#include "util.h"
#include "vmname.h"

extern char **environ;

struct hook_call {
	char **argv;         /* as libvirt gave it, passed on to legacy scripts */
	const char *vm;
	const char *op_name;
	const char *subop;
	const char *extra;
	int op;              /* enum hook_op, or -EINVAL for an op hookd does not know */
	bool configured;     /* CONF_DIR/vms/<vm>.ini exists */
	unsigned timeout_ms; /* [hook] timeout: for the daemon and for each legacy script */
	char *xml;
	size_t xml_len;
};

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* stopped and release are "end" phases: libvirt ignores their status, legacy scripts run before hookd. */
static bool op_is_end_phase(int op)
{
	return op == HOOK_OP_STOPPED || op == HOOK_OP_RELEASE;
}

static bool op_can_fail(int op)
{
	return op < 0 || hook_op_can_fail(op);
}

static int read_all(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *grown;

			if (ncap > max + 2)
				ncap = max + 2;
			grown = realloc(buf, ncap);
			if (!grown)
				return -ENOMEM;
			buf = grown;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* ---- the daemon round trip ---- */

/* 0 when hookd agreed (or need not be asked); 1 when the event must fail, with the line printed. */
static int ask_daemon(const struct hook_call *c)
{
	struct proto_reply reply = { 0 };
	_cleanup_close_ int fd = -1;
	json_object *params;
	int r;

	r = client_connect(client_socket_path(), &fd);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		/* A VM without configuration is never held back by hookd being down. */
		if (!c->configured)
			return 0;
		fprintf(stderr,
			"hookd: VM %s is configured for hookd but the daemon is not running "
			"(start it with: systemctl start hookd.socket)\n",
			c->vm);
		return 1;
	}
	if (r < 0) {
		if (!c->configured)
			return 0;
		fprintf(stderr, "hookd: VM %s: cannot connect to hookd at %s: %s\n", c->vm, client_socket_path(),
			strerror(-r));
		return 1;
	}

	params = proto_build_event_params(c->vm, c->op_name, c->subop, c->extra, c->xml, c->xml_len);
	if (!params) {
		fprintf(stderr, "hookd: VM %s: out of memory\n", c->vm);
		return 1;
	}
	r = client_call(fd, HOOKD_METHOD_EVENT, params, c->timeout_ms, &reply);
	if (r < 0) {
		if (!c->configured)
			return 0;
		if (r == -ETIMEDOUT)
			fprintf(stderr,
				"hookd: no answer from hookd within %u s for VM %s %s %s "
				"(see: journalctl -u hookd)\n",
				(c->timeout_ms + 999) / 1000, c->vm, c->op_name, c->subop);
		else
			fprintf(stderr, "hookd: VM %s: lost the connection to hookd during %s: %s\n", c->vm,
				c->op_name, strerror(-r));
		return 1;
	}
	r = 0;
	if (reply.error && c->configured) {
		if (reply.message && *reply.message)
			fprintf(stderr, "hookd: %s\n", reply.message);
		else
			fprintf(stderr, "hookd: VM %s: %s %s failed (%s)\n", c->vm, c->op_name, c->subop,
				reply.error);
		r = 1;
	}
	proto_reply_clear(&reply);
	return r;
}

/* ---- legacy PassthroughPOST scripts: qemu.d/<vm>/<op>/<subop>/ ---- */

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

/* Run the legacy scripts in order. For a begin phase the first failure stops them and returns 1. For migrate
 * and restore each script's stdout (when not empty) is the next one's XML, and the final XML is printed. */
static int run_legacy(struct hook_call *c, const char *hooks_dir)
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

static unsigned hook_timeout_ms(const char *conf_dir)
{
	_cleanup_(hookd_config_freep) struct hookd_config *cfg = NULL;
	struct diag diag = { 0 };
	unsigned t = HOOKD_DEFAULT_HOOK_TIMEOUT_MS;

	/* A broken hookd.conf is the daemon's to report (it refuses to load it); the hook keeps the default. */
	if (hookd_config_load_global(conf_dir, &cfg, &diag) >= 0 && cfg && cfg->hook_timeout_ms > 0)
		t = cfg->hook_timeout_ms;
	diag_clear(&diag);
	return t;
}

int main(int argc, char **argv)
{
	const char *conf_dir = env_or("HOOKD_CONF_DIR", HOOKD_CONF_DIR);
	const char *hooks_dir = env_or("HOOKD_HOOKS_DIR", HOOKD_LIBVIRT_HOOKS_DIR);
	_cleanup_free_ char *ini = NULL, *legacy_dir = NULL;
	struct hook_call c = { .argv = argv };
	bool legacy;
	const char *why;
	int r, status;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "hookd: usage: %s VM OP [SUBOP [EXTRA]] (run by libvirt as its qemu hook)\n",
			argv[0]);
		return 2;
	}
	c.vm = argv[1];
	c.op_name = argv[2];
	c.subop = argc > 3 ? argv[3] : "-";
	c.extra = argc > 4 ? argv[4] : "-";
	c.op = hook_op_from_string(c.op_name);

	if (vm_name_validate(c.vm, &why) < 0) {
		fprintf(stderr, "hookd: refusing hook call for VM '%s': %s\n", c.vm, why);
		return op_can_fail(c.op) ? 1 : 0;
	}

	/* The fast path: a VM hookd does not manage and without legacy scripts costs two stat calls. libvirt
	 * ignores EPIPE when a hook leaves its XML unread (virCommandProcessIO), so stdin needs no draining. */
	if (asprintf(&ini, "%s/vms/%s.ini", conf_dir, c.vm) < 0 ||
	    asprintf(&legacy_dir, "%s/qemu.d/%s", hooks_dir, c.vm) < 0)
		return 1;
	c.configured = path_exists(ini);
	legacy = path_exists(legacy_dir);
	if (!c.configured && !legacy)
		return 0;

	if (c.op < 0) {
		if (!c.configured)
			return 0;
		fprintf(stderr, "hookd: VM %s: unknown hook operation '%s'\n", c.vm, c.op_name);
		return 1;
	}
	r = read_all(STDIN_FILENO, HOOKD_XML_MAX, &c.xml, &c.xml_len);
	if (r < 0) {
		if (r == -EFBIG)
			fprintf(stderr, "hookd: VM %s: the domain XML on stdin is larger than %u bytes; refusing it\n",
				c.vm, HOOKD_XML_MAX);
		else
			fprintf(stderr, "hookd: VM %s: cannot read the domain XML on stdin: %s\n", c.vm,
				strerror(-r));
		return op_can_fail(c.op) ? 1 : 0;
	}
	c.timeout_ms = hook_timeout_ms(conf_dir);

	if (op_is_end_phase(c.op)) {
		/* Legacy scripts first, then hookd gives the devices back; libvirt ignores the status. */
		if (legacy)
			(void)run_legacy(&c, hooks_dir);
		(void)ask_daemon(&c);
		free(c.xml);
		return 0;
	}

	status = ask_daemon(&c);
	if (status == 0 && legacy)
		status = run_legacy(&c, hooks_dir);
	free(c.xml);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}

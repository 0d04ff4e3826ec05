/* The executable libvirt runs as /etc/libvirt/hooks/qemu: argv "qemu VM OP SUBOP EXTRA", the domain XML on
 * stdin. It asks hookd to act (one round trip), runs the VM's legacy qemu.d/<vm>/<op>/<subop>/ scripts, and
 * turns the outcome into what libvirt understands: an exit status and one line on stderr.
 * It never calls libvirt, and no child it starts keeps libvirt's stdout or stderr open. The scripts are
 * legacy.c's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/file.h>

#include "hookd-config.h"
#include "clock.h"
#include "client.h"
#include "config.h"
#include "fileio.h"
#include "instance-lock.h"
#include "journal-path.h"
#include "proto.h"
#include "util.h"
#include "vmname.h"
#include "hook.h"
#include "legacy.h"

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool op_can_fail(int op)
{
	return op < 0 || hook_op_can_fail(op);
}

/* ---- the daemon round trip ---- */

/* The event's parameters, with the legacy scripts' warnings when there are any. */
static json_object *event_params(const struct hook_call *c)
{
	json_object *params = proto_build_event_params(c->vm, c->op_name, c->subop, c->extra, c->xml, c->xml_len);
	json_object *warnings;

	if (!params || c->warnings.n == 0)
		return params;
	warnings = json_object_new_array();
	if (!warnings) {
		json_object_put(params);
		return NULL;
	}
	for (size_t i = 0; i < c->warnings.n && i < HOOKD_WARNINGS_MAX; i++) {
		char line[HOOKD_WARNING_MAX + 1];

		/* A path can be long; the line is cut rather than the event refused. */
		snprintf(line, sizeof(line), "%s", c->warnings.lines[i]);
		json_object_array_add(warnings, json_object_new_string(line));
	}
	json_object_object_add(params, "warnings", warnings);
	return params;
}

/* True when a hookd holds RUN_DIR/hookd.lock (it takes it before it binds its socket): a daemon is starting,
 * as opposed to none running, where the hook must fail at once. */
static bool daemon_starting(const char *run_dir)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/" DAEMON_LOCK_NAME, run_dir) < 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return false; /* nobody holds it: the last hookd is gone */
	return errno == EWOULDBLOCK;
}

/* 0 when hookd agreed (or need not be asked); 1 when the event must fail, with the line printed.
 * hookd's answer matters for a VM it is configured for or still holds devices for; for any other VM (one
 * with legacy scripts only) hookd merely records the event, and hookd being away changes nothing. */
static int ask_daemon(const struct hook_call *c)
{
	unsigned long long deadline = monotonic_ms() + c->timeout_ms;
	bool matters = c->configured || c->held, starting = false;
	struct proto_reply reply = { 0 };
	_cleanup_close_ int fd = -1;
	json_object *params;
	int r;

	r = client_connect_wait(client_socket_path(), c->timeout_ms, &fd);
	if ((r == -ENOENT || r == -ECONNREFUSED) && matters && daemon_starting(c->run_dir)) {
		/* hookd holds its lock but has no socket yet: it is starting (a restart by hand, not through
		 * hookd.socket). Wait for it, bounded, so a release sent now is not lost. */
		unsigned long long now = monotonic_ms();
		unsigned left = deadline > now ? (unsigned)(deadline - now) : 0;

		starting = true;
		r = client_connect_restarting(client_socket_path(),
					      left < CLIENT_RESTART_WAIT_MS ? left : CLIENT_RESTART_WAIT_MS, left, &fd);
	}
	if (r == -ENOENT || r == -ECONNREFUSED) {
		if (!matters)
			return 0;
		if (starting) {
			fprintf(stderr,
				"hookd: VM %s: hookd is starting but opened no socket within %u s "
				"(see: journalctl -u hookd)\n",
				c->vm, CLIENT_RESTART_WAIT_MS / 1000);
			return 1;
		}
		fprintf(stderr,
			"hookd: VM %s %s but the daemon is not running (start it with: systemctl start hookd.socket)\n",
			c->vm, c->configured ? "is configured for hookd" : "still has devices held by hookd");
		return 1;
	}
	if (r == -EAGAIN) {
		if (!matters)
			return 0;
		fprintf(stderr,
			"hookd: VM %s: hookd is busy: it accepted no connection within %u s "
			"(see: journalctl -u hookd)\n",
			c->vm, (c->timeout_ms + 999) / 1000);
		return 1;
	}
	if (r < 0) {
		if (!matters)
			return 0;
		fprintf(stderr, "hookd: VM %s: cannot connect to hookd at %s: %s\n", c->vm, client_socket_path(),
			strerror(-r));
		return 1;
	}

	params = event_params(c);
	if (!params) {
		fprintf(stderr, "hookd: VM %s: out of memory\n", c->vm);
		return 1;
	}
	{
		unsigned long long now = monotonic_ms();

		r = client_call(fd, HOOKD_METHOD_EVENT, params, now < deadline ? (unsigned)(deadline - now) : 0,
				&reply);
	}
	if (r < 0) {
		if (!matters)
			return 0;
		if (r == -ETIMEDOUT)
			fprintf(stderr,
				"hookd: no answer from hookd within %u s for VM %s %s %s "
				"(see: journalctl -u hookd)\n",
				(c->timeout_ms + 999) / 1000, c->vm, c->op_name, c->subop);
		else
			fprintf(stderr, "hookd: VM %s: lost the connection to hookd during %s: %s\n", c->vm, c->op_name,
				strerror(-r));
		return 1;
	}
	r = 0;
	if (reply.error && matters) {
		if (reply.message && *reply.message)
			fprintf(stderr, "hookd: %s\n", reply.message);
		else
			fprintf(stderr, "hookd: VM %s: %s %s failed (%s)\n", c->vm, c->op_name, c->subop, reply.error);
		r = 1;
	}
	proto_reply_clear(&reply);
	return r;
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

/* True when hookd's journal has a record for vm: hookd still holds devices for it. */
static bool journal_exists(const char *run_dir, const char *vm)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/" JOURNAL_DIR_NAME "/%s" JOURNAL_SUFFIX, run_dir, vm) < 0)
		return true; /* cannot tell: let hookd decide */
	return path_exists(path);
}

/* A name hookd cannot use has no configuration, so hookd leaves its VM alone. Only qemu.d scripts under such
 * a name would be lost silently: say so, when the name can name a directory at all. */
static void note_unusable_name(const char *hooks_dir, const char *vm, const char *why)
{
	_cleanup_free_ char *dir = NULL;

	if (strchr(vm, '/') || streq(vm, ".") || streq(vm, "..") || strlen(vm) > NAME_MAX)
		return;
	if (asprintf(&dir, "%s/qemu.d/%s", hooks_dir, vm) < 0 || !path_exists(dir))
		return;
	/* The name goes to libvirt's log: control characters are shown as '?'. */
	for (char *p = dir; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "hookd: legacy hooks in %s are not run: %s\n", dir, why);
}

int main(int argc, char **argv)
{
	const char *conf_dir = env_or("HOOKD_CONF_DIR", HOOKD_CONF_DIR);
	const char *hooks_dir = env_or("HOOKD_HOOKS_DIR", HOOKD_LIBVIRT_HOOKS_DIR);
	const char *run_dir = env_or("HOOKD_RUN_DIR", HOOKD_RUN_DIR);
	_cleanup_free_ char *ini = NULL, *legacy_dir = NULL;
	struct hook_call c = { .argv = argv, .hooks_dir = hooks_dir, .run_dir = run_dir };
	bool legacy, blocked = false;
	const char *why;
	int r, status;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "hookd: usage: %s VM OP [SUBOP [EXTRA]] (run by libvirt as its qemu hook)\n", argv[0]);
		return 2;
	}
	/* qemu:///session: a user's libvirtd runs this same hook as that user. hookd serves the system instance
	 * alone, and nothing of root's (its configuration, its qemu.d scripts) runs for a user's VM. */
	if (getuid() != 0 || geteuid() != 0)
		return 0;
	c.vm = argv[1];
	c.op_name = argv[2];
	c.subop = argc > 3 ? argv[3] : "-";
	c.extra = argc > 4 ? argv[4] : "-";
	c.op = hook_op_from_string(c.op_name);

	/* A name that cannot have a configuration file is a VM hookd does not manage. */
	if (vm_name_validate(c.vm, &why) < 0) {
		note_unusable_name(hooks_dir, c.vm, why);
		return 0;
	}

	/* The fast path: a VM hookd does not manage, holds nothing for and that has no legacy scripts costs two
	 * or three stat calls. libvirt ignores EPIPE when a hook leaves its XML unread (virCommandProcessIO), so
	 * stdin needs no draining. */
	if (asprintf(&ini, "%s/vms/%s.ini", conf_dir, c.vm) < 0 ||
	    asprintf(&legacy_dir, "%s/qemu.d/%s", hooks_dir, c.vm) < 0)
		return 1;
	c.configured = path_exists(ini);
	legacy = path_exists(legacy_dir);
	/* Its file may be gone (removed, renamed) while hookd still holds its devices: the release must reach
	 * hookd all the same. */
	c.held = op_is_end_phase(c.op) && journal_exists(run_dir, c.vm);
	if (!c.configured && !legacy && !c.held)
		return 0;

	if (c.op < 0) {
		if (!c.configured)
			return 0;
		fprintf(stderr, "hookd: VM %s: unknown hook operation '%s'\n", c.vm, c.op_name);
		return 1;
	}
	r = read_full_fd(STDIN_FILENO, HOOKD_XML_MAX, &c.xml, &c.xml_len);
	if (r < 0) {
		if (r == -EFBIG)
			fprintf(stderr, "hookd: VM %s: the domain XML on stdin is larger than %u bytes; refusing it\n",
				c.vm, HOOKD_XML_MAX);
		else
			fprintf(stderr, "hookd: VM %s: cannot read the domain XML on stdin: %s\n", c.vm, strerror(-r));
		return op_can_fail(c.op) ? 1 : 0;
	}
	/* XML holds no NUL byte; whatever does is not libvirt's domain XML. hookd releases from its journal, so an
	 * end phase goes on without it. */
	if (memchr(c.xml, '\0', c.xml_len)) {
		fprintf(stderr, "hookd: VM %s: the domain XML on stdin contains a NUL byte; %s\n", c.vm,
			op_can_fail(c.op) ? "refusing it" : "going on without it");
		if (op_can_fail(c.op)) {
			free(c.xml);
			return 1;
		}
		c.xml[0] = '\0';
		c.xml_len = 0;
	}
	c.timeout_ms = hook_timeout_ms(conf_dir);

	/* Scripts that will not run are said before anything runs; one root did not write stops a begin phase. */
	r = legacy_survey(&c, &blocked);
	if (r < 0)
		fprintf(stderr, "hookd: VM %s: cannot look at the legacy hooks: %s\n", c.vm, strerror(-r));
	for (size_t i = 0; i < c.warnings.n; i++)
		fprintf(stderr, "hookd: VM %s: %s\n", c.vm, c.warnings.lines[i]);
	if (blocked && !op_is_end_phase(c.op)) {
		fprintf(stderr, "hookd: VM %s: %s %s refused: a legacy hook for it is not root's alone (see above)\n",
			c.vm, c.op_name, c.subop);
		diag_clear(&c.warnings);
		free(c.xml);
		return 1;
	}

	if (op_is_end_phase(c.op)) {
		/* Legacy scripts first, then hookd gives the devices back; libvirt ignores the status. */
		if (legacy)
			(void)run_legacy(&c);
		(void)ask_daemon(&c);
		diag_clear(&c.warnings);
		free(c.xml);
		return 0;
	}

	status = ask_daemon(&c);
	if (status == 0 && legacy)
		status = run_legacy(&c);
	diag_clear(&c.warnings);
	free(c.xml);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}

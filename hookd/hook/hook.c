/* The executable libvirt runs as /etc/libvirt/hooks/qemu: argv "qemu VM OP SUBOP EXTRA", the domain XML on
 * stdin. It asks hookd to act (one round trip), runs the VM's legacy qemu.d/<vm>/<op>/<subop>/ scripts, and
 * turns the outcome into what libvirt understands: an exit status and one line on stderr.
 * It never calls libvirt, and no child it starts keeps libvirt's stdout or stderr open. The scripts are
 * legacy.c's. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "hookd-config.h"
#include "client.h"
#include "config.h"
#include "fileio.h"
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
	r = read_full_fd(STDIN_FILENO, HOOKD_XML_MAX, &c.xml, &c.xml_len);
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

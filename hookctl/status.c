/* hookctl status [VM]: the daemon, each configured VM's libvirt state, its devices and its last event.
 * Device facts come from io.hookd.Status when hookd runs, else from the topology alone (and it says so).
 * Exit statuses as systemctl status: 0 fine, 1 a VM in an error state or a stuck device, 3 hookd not
 * running, 4 no such VM. Also prepare/release by hand, for recovery. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claims.h"
#include "daemon.h"
#include "output.h"
#include "util.h"
#include "virt.h"
#include "vmfile.h"

/* Devices of one VM from the topology: what hookd would report if it ran, minus what only it knows. */
static json_object *devices_from_topology(const struct topology *t, const struct claims *c, const char *vm)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < c->n; i++) {
		const struct claim *cl = &c->items[i];
		struct pci_function f = { 0 };
		json_object *d;
		bool present;

		if (!streq(cl->vm, vm))
			continue;
		present = topology_function(t, cl->address, &f) >= 0;
		d = json_object_new_object();
		json_object_object_add(d, "address", json_object_new_string(cl->address));
		json_object_object_add(d, "name", json_object_new_string(cl->device));
		json_object_object_add(d, "driver", f.driver ? json_object_new_string(f.driver) : NULL);
		json_object_object_add(d, "original_driver", NULL);
		json_object_object_add(d, "iommu_group", json_object_new_int(present ? f.iommu_group : -1));
		json_object_object_add(d, "state", json_object_new_string(!present ? "missing" :
			f.driver && streq(f.driver, "vfio-pci") ? "on-vfio" : "on-host"));
		json_object_array_add(list, d);
		pci_function_clear(&f);
	}
	return list;
}

static json_object *find_daemon_vm(json_object *daemon_vms, const char *name)
{
	for (size_t i = 0; daemon_vms && i < json_object_array_length(daemon_vms); i++) {
		json_object *v = json_object_array_get_idx(daemon_vms, i);

		if (streq_ptr(json_get_str(v, "name"), name))
			return v;
	}
	return NULL;
}

/* One VM's JSON: the daemon's object (or a minimal one), plus libvirt_state, devices and source. */
static json_object *vm_json(const char *name, json_object *daemon_vm, virConnectPtr conn, const struct topology *t,
			    const struct claims *c, bool configured)
{
	json_object *o, *engine = NULL, *devices = NULL;
	const char *state = NULL;

	if (daemon_vm) {
		o = json_object_get(daemon_vm);
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "configured", json_object_new_boolean(configured));
		json_object_object_add(o, "last_events", json_object_new_array());
		json_object_object_add(o, "engine", NULL);
	}
	if (conn && virt_domain_state(conn, name, &state) == -ENOENT)
		state = "no such domain";
	json_object_object_add(o, "libvirt_state", state ? json_object_new_string(state) : NULL);
	if (json_object_object_get_ex(o, "engine", &engine) && engine &&
	    json_object_object_get_ex(engine, "devices", &devices) && devices) {
		json_object_object_add(o, "devices", json_object_get(devices));
		json_object_object_add(o, "source", json_object_new_string("daemon"));
	} else {
		json_object_object_add(o, "devices", devices_from_topology(t, c, name));
		json_object_object_add(o, "source", json_object_new_string("topology"));
	}
	return o;
}

static bool vm_in_trouble(json_object *vm)
{
	json_object *engine = NULL, *devices = NULL;
	const char *state;

	if (json_object_object_get_ex(vm, "engine", &engine) && engine) {
		state = json_get_str(engine, "state");
		if (json_get_str(engine, "error") || streq_ptr(state, "stuck") || streq_ptr(state, "partial"))
			return true;
	}
	if (json_object_object_get_ex(vm, "devices", &devices))
		for (size_t i = 0; i < json_object_array_length(devices); i++)
			if (streq_ptr(json_get_str(json_object_array_get_idx(devices, i), "state"), "stuck"))
				return true;
	return false;
}

static void format_time(long long usec, char out[32])
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, 32, "?");
}

static void print_vm(const struct hookctl *ctx, json_object *vm)
{
	json_object *engine = NULL, *devices = NULL, *events = NULL;
	const char *lv = json_get_str(vm, "libvirt_state");
	const char *state = NULL, *err = NULL;

	if (json_object_object_get_ex(vm, "engine", &engine) && engine) {
		state = json_get_str(engine, "state");
		err = json_get_str(engine, "error");
	}
	printf("\n%s%s%s: libvirt %s", color(ctx, COLOR_BOLD), json_get_str(vm, "name"), color(ctx, COLOR_RESET),
	       lv ? lv : "unknown");
	if (state)
		printf(", hookd %s", state);
	if (!json_get_bool(vm, "configured"))
		printf(" (not configured)");
	putchar('\n');
	if (json_object_object_get_ex(vm, "devices", &devices))
		for (size_t i = 0; i < json_object_array_length(devices); i++) {
			json_object *d = json_object_array_get_idx(devices, i);
			const char *drv = json_get_str(d, "driver"), *orig = json_get_str(d, "original_driver");
			const char *s = json_get_str(d, "state");
			enum color col = streq_ptr(s, "stuck") || streq_ptr(s, "missing") || streq_ptr(s, "no-driver") ? COLOR_RED :
					 streq_ptr(s, "on-vfio") ? COLOR_GREEN : COLOR_RESET;
			char label[48], group[16];

			snprintf(label, sizeof(label), "%s (%s)", json_get_str(d, "address"), json_get_str(d, "name"));
			snprintf(group, sizeof(group), "group %d", json_get_int(d, "iommu_group", -1));
			printf("  %-28s %-14s", label, drv ? drv : "(no driver)");
			if (orig)
				printf(" was %-13s", orig);
			printf(" %-9s %s%s%s\n", group, color(ctx, col), s ? s : "?", color(ctx, COLOR_RESET));
		}
	if (json_object_object_get_ex(vm, "last_events", &events) && json_object_array_length(events) > 0) {
		json_object *ev = json_object_array_get_idx(events, json_object_array_length(events) - 1);
		json_object *t;
		char when[32] = "?";

		if (json_object_object_get_ex(ev, "time_usec", &t))
			format_time(json_object_get_int64(t), when);
		printf("  last event: %s %s at %s: %s", json_get_str(ev, "op"), json_get_str(ev, "subop"), when,
		       json_get_str(ev, "result"));
		if (json_get_str(ev, "message"))
			printf(" (%s)", json_get_str(ev, "message"));
		putchar('\n');
	}
	if (err)
		printf("  %serror: %s%s\n", color(ctx, COLOR_RED), err, color(ctx, COLOR_RESET));
}

int cmd_status(struct hookctl *ctx, int argc, char **argv)
{
	struct topology t = { .sysfs_root = ctx->sysfs_root, .proc_root = ctx->proc_root };
	const char *only = argc > 0 ? argv[0] : NULL;
	_cleanup_virt_ virConnectPtr conn = NULL;
	_cleanup_free_ char *virt_error = NULL;
	struct proto_reply reply = { 0 };
	json_object *daemon_vms = NULL, *root, *vms, *daemon, *libvirt;
	struct claims c = { 0 };
	bool running, trouble = false;
	int r;

	if (only) {
		_cleanup_free_ char *path = NULL;

		r = vmfile_path(ctx, only, &path);
		if (r < 0)
			return r;
	}
	/* Ask for every VM and filter here: an unknown VM is then handled in one place. */
	r = daemon_call(ctx, HOOKD_METHOD_STATUS, NULL, 10000, &reply);
	running = r >= 0 && !reply.error;
	if (r < 0 && !daemon_not_running(r))
		hookctl_note("warning: hookd's socket %s did not answer: %s", ctx->socket_path, strerror(-r));
	else if (r >= 0 && reply.error)
		hookctl_note("warning: hookd answered: %s", reply.message ? reply.message : reply.error);
	if (running)
		json_object_object_get_ex(reply.params, "vms", &daemon_vms);

	r = claims_load(ctx, &t, &c);
	if (r < 0) {
		proto_reply_clear(&reply);
		return r;
	}
	if (virt_open(ctx->connect_uri, &conn, &virt_error) < 0)
		conn = NULL;

	root = json_object_new_object();
	daemon = json_object_new_object();
	json_object_object_add(daemon, "running", json_object_new_boolean(running));
	json_object_object_add(daemon, "socket", json_object_new_string(ctx->socket_path));
	if (running) {
		json_object *v;

		if (json_object_object_get_ex(reply.params, "version", &v))
			json_object_object_add(daemon, "version", json_object_get(v));
		if (json_object_object_get_ex(reply.params, "protocol", &v))
			json_object_object_add(daemon, "protocol", json_object_get(v));
	}
	json_object_object_add(root, "daemon", daemon);
	libvirt = json_object_new_object();
	json_object_object_add(libvirt, "uri", json_object_new_string(ctx->connect_uri));
	json_object_object_add(libvirt, "reachable", json_object_new_boolean(conn != NULL));
	json_object_object_add(libvirt, "error", virt_error ? json_object_new_string(virt_error) : NULL);
	json_object_object_add(root, "libvirt", libvirt);

	vms = json_object_new_array();
	for (size_t i = 0; c.cfg && i < c.cfg->n_vms; i++) {
		const char *name = c.cfg->vms[i]->name;

		if (only && !streq(only, name))
			continue;
		json_object_array_add(vms, vm_json(name, find_daemon_vm(daemon_vms, name), conn, &t, &c, true));
	}
	/* VMs hookd knows that the configuration no longer has (a journal left behind, say). */
	for (size_t i = 0; daemon_vms && i < json_object_array_length(daemon_vms); i++) {
		json_object *v = json_object_array_get_idx(daemon_vms, i);
		const char *name = json_get_str(v, "name");

		if (!name || (c.cfg && hookd_config_find_vm(c.cfg, name)) || (only && !streq(only, name)))
			continue;
		json_object_array_add(vms, vm_json(name, v, conn, &t, &c, false));
	}
	json_object_object_add(root, "vms", vms);
	{
		json_object *problems = json_object_new_array();

		for (size_t i = 0; i < c.problems.n; i++)
			json_object_array_add(problems, json_object_new_string(c.problems.lines[i]));
		json_object_object_add(root, "problems", problems);
	}
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		trouble |= vm_in_trouble(json_object_array_get_idx(vms, i));

	if (only && json_object_array_length(vms) == 0) {
		hookctl_error("no such VM '%s': it has no configuration in %s/vms and hookd does not know it.", only,
			      ctx->conf_dir);
		r = HOOKCTL_EXIT_NO_SUCH_VM;
	} else if (ctx->json) {
		print_json(root);
	} else {
		if (running)
			printf("hookd: %srunning%s (version %s, protocol %d) on %s\n", color(ctx, COLOR_GREEN),
			       color(ctx, COLOR_RESET), json_get_str(daemon, "version"),
			       json_get_int(daemon, "protocol", 0), ctx->socket_path);
		else
			printf("hookd: %snot running%s (no answer on %s); devices shown from sysfs\n",
			       color(ctx, COLOR_RED), color(ctx, COLOR_RESET), ctx->socket_path);
		if (conn)
			printf("libvirt: %s\n", ctx->connect_uri);
		else
			printf("libvirt: %s unreachable: %s\n", ctx->connect_uri, virt_error ? virt_error : "?");
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			print_vm(ctx, json_object_array_get_idx(vms, i));
		if (json_object_array_length(vms) == 0)
			printf("\nNo VM is configured in %s/vms.\n", ctx->conf_dir);
		if (c.problems.n > 0) {
			printf("\nConfiguration problems:\n");
			for (size_t i = 0; i < c.problems.n; i++)
				printf("  %s\n", c.problems.lines[i]);
		}
	}
	if (r != HOOKCTL_EXIT_NO_SUCH_VM)
		r = !running ? HOOKCTL_EXIT_NOT_RUNNING : trouble ? HOOKCTL_EXIT_FAILURE : 0;
	json_object_put(root);
	claims_clear(&c);
	proto_reply_clear(&reply);
	return r;
}

static int by_hand(struct hookctl *ctx, const char *method, const char *vm, const char *done)
{
	_cleanup_free_ char *path = NULL;
	struct proto_reply reply = { 0 };
	json_object *params;
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	params = json_object_new_object();
	json_object_object_add(params, "vm", json_object_new_string(vm));
	/* hookd bounds the operation itself (operation-timeout); wait a little longer than its default. */
	r = daemon_call(ctx, method, params, 3 * 60 * 1000, &reply);
	if (daemon_not_running(r)) {
		hookctl_error("hookd is not running (no answer on %s): start it first (systemctl start hookd).",
			      ctx->socket_path);
		return HOOKCTL_EXIT_NOT_RUNNING;
	}
	if (r < 0) {
		hookctl_error("talking to hookd on %s: %s", ctx->socket_path, strerror(-r));
		return r;
	}
	if (reply.error) {
		bool no_vm = streq(reply.error, HOOKD_ERROR_NO_SUCH_VM);

		hookctl_error("%s", reply.message ? reply.message : reply.error);
		proto_reply_clear(&reply);
		return no_vm ? HOOKCTL_EXIT_NO_SUCH_VM : -EIO;
	}
	proto_reply_clear(&reply);
	printf("VM %s: %s\n", vm, done);
	return 0;
}

int cmd_prepare(struct hookctl *ctx, int argc, char **argv)
{
	return by_hand(ctx, HOOKD_METHOD_PREPARE, argv[0], "devices are on vfio-pci.");
}

int cmd_release(struct hookctl *ctx, int argc, char **argv)
{
	return by_hand(ctx, HOOKD_METHOD_RELEASE, argv[0], "devices are back on the host.");
}

/* hookctl status [VM]: the daemon, each configured VM's libvirt state, its devices and its last event.
 * Device facts come from io.hookd.Status when hookd runs, else from the topology alone (and it says so).
 * Exit statuses as systemctl status: 0 fine, 1 a VM in an error state or a stuck device, 3 hookd not
 * running, 4 no such VM. Also prepare/release by hand, for recovery. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "claims.h"
#include "daemon.h"
#include "output.h"
#include "reply-decode.h"
#include "status-view.h"
#include "util.h"
#include "virt.h"
#include "vmfile.h"

/* How long status looks for one device's holders (a scan takes milliseconds). */
#define STATUS_HOLDERS_TIMEOUT_MS 1000u

/* The other VM whose devices, as hookd reports them, hold ADDRESS away from the host; NULL when none. */
static const char *holder_of(json_object *daemon_vms, const char *address, const char *vm)
{
	for (size_t i = 0; daemon_vms && i < json_object_array_length(daemon_vms); i++) {
		json_object *v = json_object_array_get_idx(daemon_vms, i), *engine = NULL, *devices = NULL;
		const char *name = json_get_str(v, "name");

		if (!name || streq(name, vm) || !json_object_object_get_ex(v, "engine", &engine) || !engine ||
		    !json_object_object_get_ex(engine, "devices", &devices) || !devices)
			continue;
		for (size_t k = 0; k < json_object_array_length(devices); k++) {
			json_object *d = json_object_array_get_idx(devices, k);
			const char *state = json_get_str(d, "state");

			if (streq_ptr(json_get_str(d, "address"), address) && state && !streq(state, "on-host"))
				return name;
		}
	}
	return NULL;
}

/* Devices of one VM from the topology: what hookd would report if it ran, minus what only it knows, plus
 * which other VM hookd says holds a device. */
static json_object *devices_from_topology(const struct topology *t, const struct claims *c, const char *vm,
					  json_object *daemon_vms)
{
	json_object *list = json_object_new_array();
	_cleanup_free_ struct status_holders_query *queries = calloc(c->n ? c->n : 1, sizeof(*queries));
	size_t n_queries = 0;

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
		json_object_object_add(d, "state",
				       json_object_new_string(device_state_to_string(
					       device_state_of(NULL, NULL, present ? &f : NULL, false))));
		if (holder_of(daemon_vms, cl->address, vm))
			json_object_object_add(d, "held_by",
					       json_object_new_string(holder_of(daemon_vms, cl->address, vm)));
		else if (present && !streq_ptr(f.driver, "vfio-pci") && queries)
			queries[n_queries++] = (struct status_holders_query){ cl->address, f.iommu_group, d };
		json_object_array_add(list, d);
		pci_function_clear(&f);
	}
	/* On the host: who holds them now, in one pass over /proc, bounded so status never hangs. */
	status_add_holders(t, queries, n_queries, STATUS_HOLDERS_TIMEOUT_MS);
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
static json_object *vm_json(const char *name, json_object *daemon_vm, json_object *daemon_vms, virConnectPtr conn,
			    const struct topology *t, const struct claims *c, bool configured)
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
	if (claims_xml_source(c, name)) {
		/* Its <hostdev> devices are in the domain XML, not in its file. */
		json_object_object_add(o, "devices_from_xml", json_object_new_boolean(true));
		json_object_object_add(o, "domain_xml", json_object_new_string(claims_xml_source(c, name)));
	}
	if (json_object_object_get_ex(o, "engine", &engine) && engine &&
	    json_object_object_get_ex(engine, "devices", &devices) && devices) {
		json_object_object_add(o, "devices", json_object_get(devices));
		json_object_object_add(o, "source", json_object_new_string("daemon"));
	} else {
		json_object_object_add(o, "devices", devices_from_topology(t, c, name, daemon_vms));
		json_object_object_add(o, "source", json_object_new_string("topology"));
	}
	return o;
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
	_cleanup_free_ char *why = NULL;
	bool running, trouble = false, broken_reply = false;
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
	if (r < 0 && !daemon_not_running(r)) {
		why = strdup(daemon_call_problem(ctx, r));
		hookctl_note("warning: %s", why ? why : "hookd did not answer");
		broken_reply = true;
	} else if (r >= 0 && reply.error) {
		hookctl_note("warning: hookd answered: %s", reply.message ? reply.message : reply.error);
	}
	if (running) {
		r = reply_decode_status(reply.params, &why);
		if (r == -ENOMEM) {
			proto_reply_clear(&reply);
			return r;
		}
		if (r < 0) {
			hookctl_note(
				"warning: hookd's answer to Status cannot be used (%s); devices are shown from sysfs.",
				why);
			running = false;
			broken_reply = true;
		} else {
			json_object *view, *outdated;

			json_object_object_get_ex(reply.params, "vms", &daemon_vms);
			/* hookd could not read the devices again since a prepare or release finished: say so rather
			 * than show that VM as it was before. */
			if (json_object_object_get_ex(reply.params, "device_view", &view) &&
			    json_object_object_get_ex(view, "outdated", &outdated) && json_object_get_boolean(outdated))
				hookctl_note(
					"warning: hookd's view of the devices was read before its last prepare or "
					"release finished (reading them again is taking long); it may show a VM as "
					"it was before");
		}
	}

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
	if (broken_reply)
		json_object_object_add(daemon, "error", json_object_new_string(why ? why : "no usable answer"));
	if (running) {
		json_object *v;

		if (json_object_object_get_ex(reply.params, "version", &v))
			json_object_object_add(daemon, "version", json_object_get(v));
		if (json_object_object_get_ex(reply.params, "protocol", &v))
			json_object_object_add(daemon, "protocol", json_object_get(v));
		if (json_object_object_get_ex(reply.params, "device_view", &v))
			json_object_object_add(daemon, "device_view", json_object_get(v));
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
		json_object_array_add(vms,
				      vm_json(name, find_daemon_vm(daemon_vms, name), daemon_vms, conn, &t, &c, true));
	}
	/* VMs hookd knows that the configuration no longer has (a journal left behind, say). */
	for (size_t i = 0; daemon_vms && i < json_object_array_length(daemon_vms); i++) {
		json_object *v = json_object_array_get_idx(daemon_vms, i);
		const char *name = json_get_str(v, "name");

		if (!name || (c.cfg && hookd_config_find_vm(c.cfg, name)) || (only && !streq(only, name)))
			continue;
		json_object_array_add(vms, vm_json(name, v, daemon_vms, conn, &t, &c, false));
	}
	json_object_object_add(root, "vms", vms);
	{
		json_object *problems = json_object_new_array();

		for (size_t i = 0; i < c.problems.n; i++)
			json_object_array_add(problems, json_object_new_string(c.problems.lines[i]));
		json_object_object_add(root, "problems", problems);
	}
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		trouble |= status_vm_in_trouble(json_object_array_get_idx(vms, i));

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
		else if (broken_reply)
			printf("hookd: %sno usable answer%s on %s; devices shown from sysfs\n", color(ctx, COLOR_RED),
			       color(ctx, COLOR_RESET), ctx->socket_path);
		else
			printf("hookd: %snot running%s (no answer on %s); devices shown from sysfs\n",
			       color(ctx, COLOR_RED), color(ctx, COLOR_RESET), ctx->socket_path);
		if (conn)
			printf("libvirt: %s\n", ctx->connect_uri);
		else
			printf("libvirt: %s unreachable: %s\n", ctx->connect_uri, virt_error ? virt_error : "?");
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			status_print_vm(ctx, json_object_array_get_idx(vms, i));
		if (json_object_array_length(vms) == 0)
			printf("\nNo VM is configured in %s/vms.\n", ctx->conf_dir);
		if (c.problems.n > 0) {
			printf("\nConfiguration problems:\n");
			for (size_t i = 0; i < c.problems.n; i++)
				printf("  %s\n", c.problems.lines[i]);
		}
	}
	if (r != HOOKCTL_EXIT_NO_SUCH_VM)
		r = broken_reply ? HOOKCTL_EXIT_FAILURE
		    : !running	 ? HOOKCTL_EXIT_NOT_RUNNING
		    : trouble	 ? HOOKCTL_EXIT_FAILURE
				 : 0;
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
		hookctl_error("%s", daemon_call_problem(ctx, r));
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

/* hookctl check VM: the plan prepare would carry out, from the engine's own engine_check (the same plan code
 * hookd runs), without touching anything; every reason it would refuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "hookd-config.h"
#include "host-changes-view.h"
#include "output.h"
#include "reply-decode.h"
#include "util.h"
#include "virt.h"
#include "vmcpus.h"
#include "vmfile.h"

static void print_plan(const struct hookctl *ctx, json_object *result)
{
	json_object *plan = NULL, *list;
	bool ok = json_get_bool(result, "ok");
	const char *vm = json_get_str(result, "vm");

	json_object_object_get_ex(result, "plan", &plan);
	if (ok)
		printf("VM %s: prepare would do this (nothing has been changed):\n", vm);
	else
		printf("VM %s: prepare %swould refuse%s:\n", vm, color(ctx, COLOR_RED), color(ctx, COLOR_RESET));
	if (!ok && json_object_object_get_ex(result, "problems", &list))
		for (size_t i = 0; i < json_object_array_length(list); i++)
			printf("  - %s\n", json_object_get_string(json_object_array_get_idx(list, i)));
	/* Every process (and kernel user) holding a device, with what it holds: the refusal names the first. */
	if (json_object_object_get_ex(result, "holders", &list) && list && json_object_array_length(list) > 0) {
		printf("  Holders:\n");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			printf("    %s\n", json_object_get_string(json_object_array_get_idx(list, i)));
	}
	/* Group members the host uses: taken if the user goes ahead, so said before anything else. */
	if (json_object_object_get_ex(result, "warnings", &list))
		for (size_t i = 0; i < json_object_array_length(list); i++)
			printf("  %swarning:%s %s\n", color(ctx, COLOR_YELLOW), color(ctx, COLOR_RESET),
			       json_object_get_string(json_object_array_get_idx(list, i)));
	if (!plan)
		return;
	if (!ok)
		printf("The plan as far as it could be made:\n");

	if (json_object_object_get_ex(plan, "modules", &list) && json_object_array_length(list) > 0) {
		printf("  unload modules:");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			printf(" %s", json_get_str(json_object_array_get_idx(list, i), "name"));
		printf("\n");
	}
	if (json_get_bool(plan, "release_console")) {
		json_object *fbs = NULL;

		printf("  release the console:");
		if (json_object_object_get_ex(plan, "vtconsoles", &list))
			for (size_t i = 0; i < json_object_array_length(list); i++)
				printf(" %s", json_object_get_string(json_object_array_get_idx(list, i)));
		if (json_object_object_get_ex(plan, "firmware_framebuffers", &fbs))
			for (size_t i = 0; i < json_object_array_length(fbs); i++)
				printf(" %s", json_object_get_string(json_object_array_get_idx(fbs, i)));
		printf("\n");
	}
	if (json_object_object_get_ex(result, "host_changes", &list))
		host_changes_print(ctx, list, HOST_CHANGES_PLANNED);
	if (json_object_object_get_ex(plan, "devices", &list))
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *d = json_object_array_get_idx(list, i);
			const char *from = json_get_str(d, "original_driver");
			const char *reset = json_get_str(d, "reset_method");
			char label[48];

			snprintf(label, sizeof(label), "%s (%s)", json_get_str(d, "address"), json_get_str(d, "name"));
			if (streq_ptr(from, "vfio-pci"))
				printf("  %2zu. %-28s already on vfio-pci, left alone  group %d\n", i + 1, label,
				       json_get_int(d, "iommu_group", -1));
			else
				printf("  %2zu. %-28s %-14s -> vfio-pci  group %d%s%s%s\n", i + 1, label,
				       from ? from : "(no driver)", json_get_int(d, "iommu_group", -1),
				       json_get_bool(d, "boot_vga") ? ", boot VGA" : "", reset ? ", reset " : "",
				       reset ? reset : "");
		}
}

/* hookd's own check, for a user who may not read the VM's file or the journals (a member of the socket's
 * group): io.hookd.Check, decoded like every reply. */
static int check_by_daemon(struct hookctl *ctx, const char *vm, json_object **ret)
{
	_cleanup_free_ char *why = NULL;
	struct proto_reply reply = { 0 };
	json_object *params = json_object_new_object(), *result;
	int r;

	json_object_object_add(params, "vm", json_object_new_string(vm));
	r = daemon_call(ctx, HOOKD_METHOD_CHECK, params, 60000, &reply);
	if (r < 0) {
		hookctl_error("VM '%s' cannot be checked here (permission denied) and hookd cannot be asked: %s", vm,
			      daemon_call_problem(ctx, r));
		return daemon_not_running(r) ? HOOKCTL_EXIT_NOT_RUNNING : r;
	}
	if (reply.error) {
		bool no_vm = streq(reply.error, HOOKD_ERROR_NO_SUCH_VM);

		hookctl_error("%s", reply.message);
		proto_reply_clear(&reply);
		return no_vm ? HOOKCTL_EXIT_NO_SUCH_VM : -EIO;
	}
	r = reply_decode_check(reply.params, &result, &why);
	if (r < 0) {
		if (r == -EBADMSG)
			hookctl_error("hookd's answer to Check cannot be used (%s).", why);
		proto_reply_clear(&reply);
		return r;
	}
	*ret = json_object_get(result);
	proto_reply_clear(&reply);
	hookctl_note("note: the plan is hookd's own check (this user may not read everything it reads).");
	return 0;
}

/* Whether VM's plan reads the domain XML: its <hostdev> devices (devices-from-xml), its CPUs from <cputune>
 * (vm-cpus = auto, or unset, for isolate-cpus, steer-irqs or a governor), its pages from <memoryBacking>
 * (hugepages = auto). hookd's prepare always has the XML; check must fetch it for every one of these. */
static bool plan_reads_domain_xml(const struct vm_config *vm)
{
	bool cpus_auto = !vm->vm_cpus || streq(vm->vm_cpus, VM_CPUS_AUTO);
	bool governor = vm->vm_cpus && (vm->cpu_governor || vm->energy_performance_preference);

	return vm->devices_from_xml || (cpus_auto && (vm->isolate_cpus || vm->steer_irqs || governor)) ||
	       vm->hugepages.mode == HUGEPAGES_AUTO;
}

/* The domain XML the plan reads (plan_reads_domain_xml): --xml FILE, else the domain's XML from libvirt.
 * NULL with a note when neither has it. */
static int domain_xml_for_check(const struct hookctl *ctx, const struct vm_config *vm, char **ret)
{
	_cleanup_virt_ virConnectPtr conn = NULL;
	_cleanup_free_ char *err = NULL, *why = NULL;
	int r;

	*ret = NULL;
	if (ctx->xml_file) {
		r = hookctl_read_file(ctx->xml_file, HOOKD_XML_MAX, ret);
		if (r < 0)
			hookctl_error("cannot read %s: %s", ctx->xml_file, hookctl_read_error(r));
		if (r >= 0 && !plan_reads_domain_xml(vm))
			hookctl_note("note: VM '%s' does not set devices-from-xml; the XML of %s is not used.",
				     vm->name, ctx->xml_file);
		return r;
	}
	if (!plan_reads_domain_xml(vm))
		return 0;
	if (virt_open(ctx->connect_uri, &conn, &err) < 0) {
		if (asprintf(&why, "libvirt (%s) cannot be reached", ctx->connect_uri) < 0)
			return -ENOMEM;
	} else if (virt_domain_xml(conn, vm->name, ret) < 0) {
		if (asprintf(&why, "libvirt has no domain '%s'", vm->name) < 0)
			return -ENOMEM;
	} else
		return 0;
	/* Without the XML the check goes on with what the VM's file says, and says what is left out. */
	if (vm->devices_from_xml)
		hookctl_note("note: VM '%s' takes its devices from the domain XML, and %s: its <hostdev> devices are "
			     "not in this plan (give the XML with --xml FILE).",
			     vm->name, why);
	else
		hookctl_note("note: %s: the domain XML of VM '%s' is not read (give it with --xml FILE).", why,
			     vm->name);
	return 0;
}

static bool permission_denied(int r)
{
	return r == -EACCES || r == -EPERM;
}

int cmd_check(struct hookctl *ctx, int argc, char **argv)
{
	const char *run_dir = getenv("HOOKCTL_RUN_DIR");
	struct engine_options opts = {
		.sysfs_root = ctx->sysfs_root,
		.proc_root = ctx->proc_root,
		.run_dir = run_dir && *run_dir ? run_dir : HOOKD_RUN_DIR,
	};
	_cleanup_(vm_config_freep) struct vm_config *vm = NULL;
	_cleanup_free_ char *xml = NULL, *path = NULL, *why = NULL;
	struct diag diag = { 0 };
	struct vm_config without_xml;
	struct engine *e = NULL;
	json_object *result = NULL;
	int r;

	r = vmfile_path(ctx, argv[0], &path);
	if (r < 0)
		return r;
	r = vm_config_load(ctx->conf_dir, argv[0], &vm, &diag);
	if (permission_denied(r)) {
		diag_clear(&diag);
		if (ctx->xml_file)
			hookctl_note("note: hookd checks with the domain XML libvirt gives it; --xml is not used.");
		r = check_by_daemon(ctx, argv[0], &result);
		if (r != 0)
			return r;
		goto print;
	}
	if (r == -ENOENT) {
		diag_clear(&diag);
		hookctl_error("VM '%s' has no configuration (%s).", argv[0], path);
		return HOOKCTL_EXIT_NO_SUCH_VM;
	}
	if (r < 0) {
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		hookctl_error("%s is not valid.", path);
		return r;
	}
	r = domain_xml_for_check(ctx, vm, &xml);
	if (r < 0)
		return r;
	if (vm->devices_from_xml && !xml) {
		/* Its hostdevs are unknown here, which is no fault of its file: check the rest. */
		if (vm->n_devices == 0) {
			hookctl_error("VM '%s' takes all its devices from the domain XML: nothing to check without it.",
				      vm->name);
			return HOOKCTL_EXIT_FAILURE;
		}
		without_xml = *vm;
		without_xml.devices_from_xml = false;
	}
	r = engine_new_read_only(&opts, &e);
	if (r < 0)
		return r;
	r = engine_check(e, vm->devices_from_xml && !xml ? &without_xml : vm, xml, &result);
	engine_free(e);
	if (permission_denied(r)) {
		r = check_by_daemon(ctx, vm->name, &result);
		if (r != 0)
			return r;
	} else if (r < 0) {
		hookctl_error("cannot check VM '%s': %s", vm->name, strerror(-r));
		return r;
	}
print:
	/* The engine's result and hookd's answer go through the same decoding before they are read. */
	r = reply_decode_check_result(result, &why);
	if (r < 0) {
		if (r == -EBADMSG)
			hookctl_error("the check result cannot be used (%s).", why);
		json_object_put(result);
		return r;
	}
	if (ctx->json)
		print_json(result);
	else
		print_plan(ctx, result);
	r = json_get_bool(result, "ok") ? 0 : HOOKCTL_EXIT_FAILURE;
	json_object_put(result);
	return r;
}

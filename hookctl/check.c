/* hookctl check VM: the plan prepare would carry out, from the engine's own engine_check (the same plan code
 * hookd runs), without touching anything; every reason it would refuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "hookd-config.h"
#include "output.h"
#include "util.h"
#include "virt.h"
#include "vmfile.h"

/* The VM's config, or a printed error: HOOKCTL_EXIT_NO_SUCH_VM when it has none. Shared with prepare. */
int load_vm_config(const struct hookctl *ctx, const char *vm, struct vm_config **ret);

int load_vm_config(const struct hookctl *ctx, const char *vm, struct vm_config **ret)
{
	_cleanup_free_ char *path = NULL;
	struct diag diag = { 0 };
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	r = vm_config_load(ctx->conf_dir, vm, ret, &diag);
	if (r == -ENOENT) {
		hookctl_error("VM '%s' has no configuration (%s).", vm, path);
		return HOOKCTL_EXIT_NO_SUCH_VM;
	}
	if (r < 0) {
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		hookctl_error("%s is not valid.", path);
		return r;
	}
	return 0;
}

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
	if (json_object_object_get_ex(plan, "devices", &list))
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *d = json_object_array_get_idx(list, i);
			const char *from = json_get_str(d, "original_driver");
			const char *reset = json_get_str(d, "reset_method");
			char label[48];

			snprintf(label, sizeof(label), "%s (%s)", json_get_str(d, "address"), json_get_str(d, "name"));
			printf("  %2zu. %-28s %-14s -> vfio-pci  group %d%s%s%s\n", i + 1, label,
			       from ? from : "(no driver)", json_get_int(d, "iommu_group", -1),
			       json_get_bool(d, "boot_vga") ? ", boot VGA" : "", reset ? ", reset " : "", reset ? reset : "");
		}
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
	_cleanup_free_ char *xml = NULL;
	struct engine *e = NULL;
	json_object *result = NULL;
	int r;

	r = load_vm_config(ctx, argv[0], &vm);
	if (r != 0)
		return r;
	if (vm->devices_from_xml) {
		_cleanup_virt_ virConnectPtr conn = NULL;
		_cleanup_free_ char *err = NULL;

		if (virt_open(ctx->connect_uri, &conn, &err) < 0 || virt_domain_xml(conn, vm->name, &xml) < 0)
			hookctl_note("note: devices-from-xml is set but the domain XML could not be read from %s%s%s; "
				     "its <hostdev> devices are not in this plan.",
				     ctx->connect_uri, err ? ": " : "", err ? err : "");
	}
	r = engine_new(&opts, &e);
	if (r < 0)
		return r;
	r = engine_check(e, vm, xml, &result);
	engine_free(e);
	if (r < 0) {
		hookctl_error("cannot check VM '%s': %s", vm->name, strerror(-r));
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

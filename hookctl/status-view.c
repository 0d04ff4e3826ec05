/* How hookctl status shows one VM: its line, its devices, its last event, its legacy scripts' warnings and
 * its error. Reads only VM objects that reply_decode_status() accepted (or that status.c built), so every
 * field has the type it expects. */
#include <stdio.h>
#include <time.h>

#include "host-changes-view.h"
#include "output.h"
#include "status-view.h"
#include "util.h"

bool status_vm_in_trouble(json_object *vm)
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

/* Who holds a device on the host (status_add_holders), one line each, below the device's line. */
static void print_holders(const struct hookctl *ctx, json_object *d)
{
	json_object *holders = NULL;

	if (json_object_object_get_ex(d, "holders", &holders) && holders)
		for (size_t i = 0; i < json_object_array_length(holders); i++)
			printf("    %sin use by%s %s\n", color(ctx, COLOR_YELLOW), color(ctx, COLOR_RESET),
			       json_object_get_string(json_object_array_get_idx(holders, i)));
	if (json_get_str(d, "holders_error"))
		printf("    holders unknown: %s\n", json_get_str(d, "holders_error"));
}

void status_print_vm(const struct hookctl *ctx, json_object *vm)
{
	json_object *engine = NULL, *devices = NULL, *events = NULL, *warnings = NULL, *changes = NULL;
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
	if (json_get_bool(vm, "devices_from_xml")) {
		const char *source = json_get_str(vm, "domain_xml");

		if (streq_ptr(source, "libvirt"))
			printf("  devices from the domain XML (<hostdev>), as libvirt has it now\n");
		else
			printf("  devices from the domain XML (<hostdev>), given by libvirt at start; not shown: %s\n",
			       source ? source : "no XML");
	}
	if (json_object_object_get_ex(vm, "devices", &devices))
		for (size_t i = 0; i < json_object_array_length(devices); i++) {
			json_object *d = json_object_array_get_idx(devices, i);
			const char *drv = json_get_str(d, "driver"), *orig = json_get_str(d, "original_driver");
			const char *s = json_get_str(d, "state");
			enum color col = streq_ptr(s, "stuck") || streq_ptr(s, "missing") || streq_ptr(s, "no-driver")
						 ? COLOR_RED
					 : streq_ptr(s, "on-vfio") ? COLOR_GREEN
								   : COLOR_RESET;
			char label[48], group[16];

			snprintf(label, sizeof(label), "%s (%s)", json_get_str(d, "address"), json_get_str(d, "name"));
			snprintf(group, sizeof(group), "group %d", json_get_int(d, "iommu_group", -1));
			printf("  %-28s %-14s", label, drv ? drv : "(no driver)");
			if (orig)
				printf(" was %-13s", orig);
			printf(" %-9s %s%s%s", group, color(ctx, col), s ? s : "?", color(ctx, COLOR_RESET));
			/* A device another VM holds: say which, so nobody wonders why it is not on the host. */
			if (json_get_str(d, "held_by") && !streq(json_get_str(d, "held_by"), json_get_str(vm, "name")))
				printf(", held by VM %s", json_get_str(d, "held_by"));
			putchar('\n');
			print_holders(ctx, d);
		}
	if (engine && json_object_object_get_ex(engine, "host_changes", &changes))
		host_changes_print(ctx, changes, HOST_CHANGES_HELD);
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
	/* Legacy qemu.d scripts that will not run, as the hook reported them with the last event. */
	if (json_object_object_get_ex(vm, "legacy_warnings", &warnings) && warnings)
		for (size_t i = 0; i < json_object_array_length(warnings); i++)
			printf("  %swarning: %s%s\n", color(ctx, COLOR_YELLOW),
			       json_object_get_string(json_object_array_get_idx(warnings, i)), color(ctx, COLOR_RESET));
	if (err)
		printf("  %serror: %s%s\n", color(ctx, COLOR_RED), err, color(ctx, COLOR_RESET));
}

/* engine_status: what the journals say was done, compared with what sysfs shows now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "engine.h"
#include "engine-internal.h"
#include "host-changes.h"
#include "journal.h"
#include "plan.h"
#include "util.h"
#include "vmname.h"

/* How long status waits for a driver_override the kernel shows under the device lock: an unbind in
 * progress holds it, and then the device is moving anyway. */
#define OVERRIDE_READ_TIMEOUT_MS 200
/* How long status looks for the holders of one device on the host (a scan takes milliseconds). */
#define HOLDERS_TIMEOUT_MS 1000

void engine_note_journal(struct engine *e, const char *vm, int r)
{
	struct diag kept = { 0 };
	size_t len = strlen(vm);

	pthread_mutex_lock(&e->journal_failures_lock);
	for (size_t i = 0; i < e->journal_failures.n; i++) {
		const char *line = e->journal_failures.lines[i];

		if (!(strncmp(line, vm, len) == 0 && line[len] == ':'))
			diag_add(&kept, "%s", line);
	}
	if (r < 0)
		diag_add(&kept, "%s: %s", vm, strerror(-r));
	diag_clear(&e->journal_failures);
	e->journal_failures = kept;
	pthread_mutex_unlock(&e->journal_failures_lock);
}

/* The last failed journal write for VM, as a status error line, or NULL. */
static char *journal_failure(struct engine *e, const char *vm)
{
	size_t len = strlen(vm);
	char *out = NULL;

	pthread_mutex_lock(&e->journal_failures_lock);
	for (size_t i = 0; i < e->journal_failures.n && !out; i++) {
		const char *line = e->journal_failures.lines[i];

		if (strncmp(line, vm, len) == 0 && line[len] == ':' &&
		    asprintf(&out, "the journal could not be written (%s), so this state may be out of date",
			     line + len + 2) < 0)
			out = NULL;
	}
	pthread_mutex_unlock(&e->journal_failures_lock);
	return out;
}

static json_object *vm_status(struct engine *e, const struct plan *p)
{
	json_object *vm = json_object_new_object(), *devices = json_object_new_array(),
		    *modules = json_object_new_array();
	_cleanup_free_ char *unrecorded = journal_failure(e, p->vm), *no_driver = NULL;
	size_t on_vfio = 0, on_host = 0, stuck = 0, n_queries = 0;
	_cleanup_free_ struct status_holders_query *queries = calloc(p->n_devices, sizeof(*queries));
	const char *state;

	for (size_t i = 0; i < p->n_devices; i++) {
		const struct plan_device *d = &p->devices[i];
		json_object *j = json_object_new_object();
		_cleanup_free_ char *override = NULL;
		struct pci_function f;
		bool present = topology_function(&e->topo, d->address, &f) >= 0, override_set = false;
		enum device_state s;

		/* A stuck device's driver_override cannot be read until the kernel lets go of it; a device
		 * hookd never touched has none to show. Otherwise read it, bounded. */
		if (present && d->step != DEVICE_STUCK && d->step != DEVICE_PLANNED) {
			int r = topology_driver_override_within(&e->topo, d->address, OVERRIDE_READ_TIMEOUT_MS,
								&override);

			override_set = r == -ETIMEDOUT || (r >= 0 && override);
		}
		s = device_state_of(p, d, present ? &f : NULL, override_set);
		if (s == DEVICE_STATE_NO_DRIVER && !no_driver) {
			char label[96];

			/* Left without a driver: the error says how to give it one. */
			if (asprintf(&no_driver,
				     "VM %s: %s: it has no driver (it had %s); run: hookctl release %s, or: "
				     "echo %s > /sys/bus/pci/drivers_probe",
				     p->vm, plan_device_label(d, label), d->original_driver, p->vm, d->address) < 0)
				no_driver = NULL;
		}
		on_vfio += s == DEVICE_STATE_ON_VFIO;
		on_host += s == DEVICE_STATE_ON_HOST;
		stuck += s == DEVICE_STATE_STUCK;
		json_object_object_add(j, "address", json_object_new_string(d->address));
		json_object_object_add(j, "name", json_object_new_string(d->name));
		json_object_object_add(j, "driver", present && f.driver ? json_object_new_string(f.driver) : NULL);
		json_object_object_add(j, "driver_override", override ? json_object_new_string(override) : NULL);
		json_object_object_add(j, "original_driver",
				       d->original_driver ? json_object_new_string(d->original_driver) : NULL);
		json_object_object_add(j, "iommu_group", json_object_new_int(d->iommu_group));
		json_object_object_add(j, "state", json_object_new_string(device_state_to_string(s)));
		json_object_object_add(j, "held_by", json_object_new_string(p->vm));
		json_object_object_add(j, "journal_step", json_object_new_string(device_step_to_string(d->step)));
		if (s == DEVICE_STATE_ON_HOST && queries)
			queries[n_queries++] = (struct status_holders_query){ d->address, d->iommu_group, j };
		json_object_array_add(devices, j);
		if (present)
			pci_function_clear(&f);
	}
	/* Who holds those on the host: one pass over /proc for them all. */
	status_add_holders(&e->topo, queries, n_queries, HOLDERS_TIMEOUT_MS);
	for (size_t i = 0; i < p->n_modules; i++)
		if (p->modules[i].step == MODULE_UNLOADING || p->modules[i].step == MODULE_UNLOADED)
			json_object_array_add(modules, json_object_new_string(p->modules[i].name));

	if (stuck)
		state = "stuck";
	else if (p->phase == PHASE_PREPARING || p->phase == PHASE_RELEASING)
		state = plan_phase_to_string(p->phase);
	else if (p->phase == PHASE_PREPARED)
		state = on_vfio == p->n_devices ? "prepared" : "partial";
	else if (on_host == p->n_devices && json_object_array_length(modules) == 0 && p->console != CONSOLE_RELEASING)
		state = "on-host";
	else
		state = "partial";
	json_object_object_add(vm, "name", json_object_new_string(p->vm));
	json_object_object_add(vm, "state", json_object_new_string(state));
	json_object_object_add(vm, "devices", devices);
	json_object_object_add(vm, "modules_unloaded", modules);
	json_object_object_add(vm, "console_released", json_object_new_boolean(p->console == CONSOLE_RELEASING));
	{
		struct host_context ctx;

		engine_host_context(e, p->vm, OVERRIDE_READ_TIMEOUT_MS, &ctx);
		json_object_object_add(vm, "host_changes", host_changes_to_json(&ctx, p, false));
	}
	if (unrecorded || no_driver)
		json_object_object_add(vm, "error", json_object_new_string(unrecorded ? unrecorded : no_driver));
	else
		json_object_object_add(vm, "error", p->error ? json_object_new_string(p->error) : NULL);
	return vm;
}

int engine_status(struct engine *e, const char *vm_name, json_object **ret)
{
	_cleanup_strv_free_ char **names = NULL;
	json_object *o, *vms;
	int r;

	if (vm_name) {
		names = calloc(2, sizeof(char *));
		if (!names || !(names[0] = strdup(vm_name)))
			return -ENOMEM;
	} else {
		r = journal_list(e->run_dir, &names);
		if (r < 0)
			return r;
	}
	o = json_object_new_object();
	vms = json_object_new_array();
	json_object_object_add(o, "vms", vms);
	for (char **n = names; *n; n++) {
		_cleanup_(plan_freep) struct plan *p = NULL;
		const char *why;

		if (vm_name_validate(*n, &why) < 0)
			continue;
		r = journal_load(e->run_dir, *n, &p);
		if (r == -ENOENT) {
			/* No journal: hookd holds nothing for this VM. */
			p = plan_new(*n);
			if (!p) {
				json_object_put(o);
				return -ENOMEM;
			}
			p->phase = PHASE_FAILED;
		} else if (r < 0) {
			json_object *bad = json_object_new_object();

			json_object_object_add(bad, "name", json_object_new_string(*n));
			json_object_object_add(bad, "state", json_object_new_string("partial"));
			json_object_object_add(bad, "devices", json_object_new_array());
			json_object_object_add(bad, "error", json_object_new_string("its journal cannot be read"));
			json_object_array_add(vms, bad);
			continue;
		}
		json_object_array_add(vms, vm_status(e, p));
	}
	*ret = o;
	return 0;
}

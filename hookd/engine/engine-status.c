/* engine_status: what the journals say was done, compared with what sysfs shows now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine-internal.h"
#include "journal.h"
#include "plan.h"
#include "util.h"
#include "vmname.h"

static bool driver_is(const char *driver, const char *want)
{
	return streq_ptr(driver, want);
}

/* The live driver compared with the original one; the journal's step only says what hookd last did. */
static const char *device_state(const struct plan *p, const struct plan_device *d, const char *driver,
				bool override)
{
	bool working = p->phase == PHASE_PREPARING || p->phase == PHASE_RELEASING;

	if (d->step == DEVICE_STUCK)
		return "stuck";
	if (driver_is(driver, "vfio-pci"))
		return "on-vfio";
	if (driver_is(driver, d->original_driver) && !override)
		return "on-host";
	if (!driver && d->original_driver && !working)
		return "no-driver";
	return "moving";
}

static json_object *vm_status(struct engine *e, const struct plan *p)
{
	json_object *vm = json_object_new_object(), *devices = json_object_new_array(),
		    *modules = json_object_new_array();
	size_t on_vfio = 0, on_host = 0, stuck = 0;
	_cleanup_free_ char *no_driver = NULL;
	const char *state;

	for (size_t i = 0; i < p->n_devices; i++) {
		const struct plan_device *d = &p->devices[i];
		json_object *j = json_object_new_object();
		struct pci_function f;
		const char *s;
		/* A stuck device's driver_override cannot be read until the kernel lets go of it. */
		bool present = (d->step == DEVICE_STUCK ? topology_function_unlocked : topology_function)(
				       &e->topo, d->address, &f) >= 0;

		s = present ? device_state(p, d, f.driver, f.driver_override) : "missing";
		if (streq(s, "no-driver") && !no_driver) {
			char label[96];

			/* Left without a driver: the error says how to give it one. */
			if (asprintf(&no_driver, "VM %s: %s: it has no driver (it had %s); run: hookctl release %s, or: "
				     "echo %s > /sys/bus/pci/drivers_probe", p->vm, plan_device_label(d, label),
				     d->original_driver, p->vm, d->address) < 0)
				no_driver = NULL;
		}
		on_vfio += streq(s, "on-vfio");
		on_host += streq(s, "on-host");
		stuck += streq(s, "stuck");
		json_object_object_add(j, "address", json_object_new_string(d->address));
		json_object_object_add(j, "name", json_object_new_string(d->name));
		json_object_object_add(j, "driver", present && f.driver ? json_object_new_string(f.driver) : NULL);
		json_object_object_add(j, "driver_override",
				       present && f.driver_override ? json_object_new_string(f.driver_override) : NULL);
		json_object_object_add(j, "original_driver",
				       d->original_driver ? json_object_new_string(d->original_driver) : NULL);
		json_object_object_add(j, "iommu_group", json_object_new_int(d->iommu_group));
		json_object_object_add(j, "state", json_object_new_string(s));
		json_object_object_add(j, "journal_step", json_object_new_string(device_step_to_string(d->step)));
		json_object_array_add(devices, j);
		if (present)
			pci_function_clear(&f);
	}
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
	json_object_object_add(vm, "error", no_driver ? json_object_new_string(no_driver)
					    : p->error ? json_object_new_string(p->error) : NULL);
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

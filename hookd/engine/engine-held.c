/* engine_held_vms: what the journals say hookd holds, read from the journals alone (never from sysfs), so it
 * cannot block on a device's lock. The daemon uses it to show a VM whose devices are moving without reading
 * them, and to find journaled VMs that libvirt no longer runs. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine-internal.h"
#include "journal.h"
#include "plan.h"
#include "util.h"
#include "vmname.h"

static bool device_held(const struct plan_device *d)
{
	return d->step != DEVICE_PLANNED && d->step != DEVICE_RESTORED;
}

static int held_vm_fill(struct engine_held_vm *v, const struct plan *p)
{
	v->name = strdup(p->vm);
	v->phase = plan_phase_to_string(p->phase);
	v->devices = calloc(p->n_devices ? p->n_devices : 1, sizeof(*v->devices));
	v->iommu_groups = calloc(p->n_devices ? p->n_devices : 1, sizeof(*v->iommu_groups));
	if (!v->name || !v->devices || !v->iommu_groups)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_devices; i++) {
		const struct plan_device *d = &p->devices[i];
		struct engine_held_device *h = &v->devices[v->n_devices++];
		bool seen = false;

		memcpy(h->address, d->address, sizeof(h->address));
		h->name = strdup(d->name ? d->name : "");
		if (!h->name)
			return -ENOMEM;
		h->iommu_group = d->iommu_group;
		h->held = device_held(d);
		if (!h->held || d->iommu_group < 0)
			continue;
		for (size_t g = 0; g < v->n_groups; g++)
			seen |= v->iommu_groups[g] == d->iommu_group;
		if (!seen)
			v->iommu_groups[v->n_groups++] = d->iommu_group;
	}
	for (size_t i = 0; i < p->n_modules; i++)
		v->holds_modules |= p->modules[i].step == MODULE_UNLOADING || p->modules[i].step == MODULE_UNLOADED;
	v->holds_console = p->console == CONSOLE_RELEASING;
	for (size_t i = 0; i < p->n_host_changes; i++)
		v->holds_host_changes |= host_change_is_held(&p->host_changes[i]);
	return 0;
}

int engine_held_vms(struct engine *e, struct engine_held_vm **ret, size_t *ret_n)
{
	_cleanup_strv_free_ char **names = NULL;
	struct engine_held_vm *vms;
	size_t n = 0;
	int r;

	r = journal_list(e->run_dir, &names);
	if (r < 0)
		return r;
	vms = calloc(strv_length(names) + 1, sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	for (char **nm = names; *nm; nm++) {
		_cleanup_(plan_freep) struct plan *p = NULL;
		const char *why;

		if (vm_name_validate(*nm, &why) < 0 || journal_load(e->run_dir, *nm, &p) < 0)
			continue; /* an unreadable journal: status reports it; nothing to act on here */
		r = held_vm_fill(&vms[n++], p);
		if (r < 0) {
			engine_held_vms_free(vms, n);
			return r;
		}
	}
	*ret = vms;
	*ret_n = n;
	return 0;
}

void engine_held_vms_free(struct engine_held_vm *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		for (size_t d = 0; d < v[i].n_devices; d++)
			free(v[i].devices[d].name);
		free(v[i].devices);
		free(v[i].iommu_groups);
		free(v[i].name);
	}
	free(v);
}

/* The facts hookd decides by (group viability, the host's own devices, what the host loses, device state)
 * and the checks made on a plan before anything is touched. Read-only. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "domxml.h"
#include "holders.h"
#include "host-freeing.h"
#include "strv.h"
#include "util.h"

static bool driver_leaves_group_viable(const char *driver)
{
	return !driver || streq(driver, "vfio-pci") || streq(driver, "pci-stub");
}

bool group_member_in_the_way(const struct pci_function *f)
{
	return pci_class_role(f->class) != PCI_ROLE_BRIDGE && !driver_leaves_group_viable(f->driver);
}

void pci_functions_free(struct pci_function *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		pci_function_clear(&v[i]);
	free(v);
}

int group_blockers(const struct topology *t, int group, bool (*taken)(const char *address, void *userdata),
		   void *userdata, struct pci_function **ret, size_t *ret_n)
{
	_cleanup_strv_free_ char **members = NULL;
	struct pci_function *v;
	size_t n = 0;
	int r;

	r = topology_group_members(t, group, &members);
	if (r < 0)
		return r;
	v = calloc(strv_length(members) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (char **m = members; *m; m++) {
		if (taken && taken(*m, userdata))
			continue;
		if (topology_function(t, *m, &v[n]) < 0)
			continue;
		if (group_member_in_the_way(&v[n]))
			n++;
		else
			pci_function_clear(&v[n]);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

const char *host_own_reason(const struct pci_function *f, char buf[static 128])
{
	const char *driver = f->driver ? f->driver : "no driver";

	switch (pci_class_role(f->class)) {
	case PCI_ROLE_BRIDGE:
		snprintf(buf, 128,
			 "it is a PCI bridge or root port (class 0x%06x, %s): the host's own, it never goes "
			 "to a VM",
			 f->class, driver);
		return buf;
	case PCI_ROLE_HOST_BRIDGE:
		snprintf(buf, 128,
			 "it is a host or ISA bridge (class 0x%06x, %s): the host's own, it never goes to a VM",
			 f->class, driver);
		return buf;
	case PCI_ROLE_ENDPOINT:
		break;
	}
	return NULL;
}

bool same_slot(const char *a, const char *b)
{
	/* "DDDD:BB:SS.F": everything before the dot. */
	return strlen(a) == 12 && strlen(b) == 12 && strncmp(a, b, 10) == 0;
}

static char *resolved_path(const struct topology *t, const char *rel)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", t->sysfs_root, rel) < 0)
		return NULL;
	return realpath(p, NULL);
}

static bool path_below(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	return path && strncmp(path, dir, len) == 0 && path[len] == '/';
}

/* Append ", KIND NAME" to F for every entry of class directory CLASS_REL whose device lies below DEV.
 * LABEL_ATTR, when given, is read from the entry for a "(label)". SKIP filters entries out. */
static void list_below(const struct topology *t, FILE *f, const char *dev, const char *class_rel, const char *kind,
		       const char *label_attr,
		       bool (*skip)(const struct topology *t, const char *rel, const char *name))
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_strv_free_ char **names = NULL;

	if (asprintf(&dir, "%s/%s", t->sysfs_root, class_rel) < 0 || strv_from_dir(dir, NULL, NULL, NULL, &names) < 0)
		return;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *rel = NULL, *where = NULL, *label = NULL, *label_rel = NULL;

		if (asprintf(&rel, "%s/%s", class_rel, names[i]) < 0)
			return;
		where = resolved_path(t, rel);
		if (!path_below(where, dev) || (skip && skip(t, rel, names[i])))
			continue;
		if (label_attr && asprintf(&label_rel, "%s/%s", rel, label_attr) >= 0)
			(void)topology_read_attr(t, label_rel, &label);
		fprintf(f, ", %s %s%s%s%s", kind, names[i], label && *label ? " (" : "", label && *label ? label : "",
			label && *label ? ")" : "");
	}
}

static bool skip_partition(const struct topology *t, const char *rel, const char *name)
{
	_cleanup_free_ char *part = NULL, *value = NULL;

	(void)name;
	return asprintf(&part, "%s/partition", rel) < 0 || topology_read_attr(t, part, &value) >= 0;
}

static bool skip_not_input(const struct topology *t, const char *rel, const char *name)
{
	(void)t;
	(void)rel;
	return !startswith(name, "input");
}

/* USB devices, not their interfaces ("1-1:1.0") nor the root hubs ("usb1"). */
static bool skip_not_usb_device(const struct topology *t, const char *rel, const char *name)
{
	(void)t;
	(void)rel;
	return strchr(name, ':') || startswith(name, "usb");
}

int host_loses(const struct topology *t, const char *address, char **ret)
{
	_cleanup_free_ char *driver = NULL, *dev = NULL, *text = NULL;
	char rel[64];
	size_t len = 0;
	FILE *f;
	int r;

	*ret = NULL;
	r = topology_driver(t, address, &driver);
	if (r < 0)
		return r;
	if (driver_leaves_group_viable(driver))
		return 0;
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", address);
	dev = resolved_path(t, rel);
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%s", driver);
	if (dev) {
		long mark = ftell(f);

		list_below(t, f, dev, "class/net", "network interface", NULL, NULL);
		list_below(t, f, dev, "class/block", "disk", NULL, skip_partition);
		list_below(t, f, dev, "class/input", "input device", "name", skip_not_input);
		list_below(t, f, dev, "bus/usb/devices", "USB device", "product", skip_not_usb_device);
		fflush(f);
		if (ftell(f) > mark) {
			/* ", and below it X, Y": the first separator becomes the lead-in. */
			fclose(f);
			f = NULL;
			_cleanup_free_ char *head = strndup(text, (size_t)mark);
			char *joined;

			if (!head || asprintf(&joined, "%s, and below it %s", head, text + mark + 2) < 0)
				return -ENOMEM;
			free(text);
			text = joined;
		}
	}
	if (f && fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}

static const char *const device_states[_DEVICE_STATE_MAX] = {
	[DEVICE_STATE_ON_HOST] = "on-host", [DEVICE_STATE_ON_VFIO] = "on-vfio", [DEVICE_STATE_MOVING] = "moving",
	[DEVICE_STATE_STUCK] = "stuck",	    [DEVICE_STATE_MISSING] = "missing", [DEVICE_STATE_NO_DRIVER] = "no-driver",
};

const char *device_state_to_string(enum device_state s)
{
	return device_states[s];
}

enum device_state device_state_of(const struct plan *p, const struct plan_device *d, const struct pci_function *live,
				  bool override_set)
{
	const char *driver = live ? live->driver : NULL;
	bool working = p && (p->phase == PHASE_PREPARING || p->phase == PHASE_RELEASING);

	if (d && d->step == DEVICE_STUCK)
		return DEVICE_STATE_STUCK;
	if (!live)
		return DEVICE_STATE_MISSING;
	if (streq_ptr(driver, "vfio-pci"))
		return DEVICE_STATE_ON_VFIO;
	if (!d)
		return DEVICE_STATE_ON_HOST;
	if (streq_ptr(driver, d->original_driver) && !override_set)
		return DEVICE_STATE_ON_HOST;
	if (!driver && d->original_driver && !working)
		return DEVICE_STATE_NO_DRIVER;
	return DEVICE_STATE_MOVING;
}

static bool plan_takes(const char *address, void *userdata)
{
	return plan_find_device(userdata, address) != NULL;
}

/* VFIO refuses a group unless every member is taken, a bridge, or on vfio-pci, pci-stub or no driver. */
static int check_group(const struct topology *t, const struct plan *p, const struct plan_device *d, struct diag *diag)
{
	_cleanup_free_ char *missing = NULL, *own = NULL;
	struct pci_function *blockers = NULL;
	size_t n = 0, len = 0, own_len = 0;
	FILE *f, *g;
	char label[96], why[128];
	int r;

	r = group_blockers(t, d->iommu_group, plan_takes, (void *)p, &blockers, &n);
	if (r < 0) {
		diag_add(diag, "VM %s: %s: cannot read IOMMU group %d: %s", p->vm, plan_device_label(d, label),
			 d->iommu_group, strerror(-r));
		return 0;
	}
	f = open_memstream(&missing, &len);
	g = open_memstream(&own, &own_len);
	if (!f || !g) {
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		pci_functions_free(blockers, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pci_function *m = &blockers[i];

		if (host_own_reason(m, why)) {
			fprintf(g, "%s%s (%04x:%04x on %s)", own_len ? ", " : "", m->address, m->vendor, m->device,
				m->driver);
			fflush(g);
			continue;
		}
		fprintf(f, "%s%s (%04x:%04x on %s)", len ? ", " : "", m->address, m->vendor, m->device, m->driver);
		fflush(f);
	}
	fclose(f);
	fclose(g);
	pci_functions_free(blockers, n);
	plan_device_label(d, label);
	if (own_len)
		diag_add(diag,
			 "VM %s: %s: IOMMU group %d is not viable and cannot be made so: the host's own %s %s a driver "
			 "VFIO does not accept",
			 p->vm, label, d->iommu_group, own, strchr(own, ',') ? "have" : "has");
	if (len)
		diag_add(diag,
			 "VM %s: %s: IOMMU group %d is not viable, these members must go to the VM too: %s "
			 "(add them, or set whole-group = yes)",
			 p->vm, label, d->iommu_group, missing);
	return 0;
}

/* reset-method: the kernel must have the attribute (Linux 5.15 and later) and the device must offer the
 * method; "default" is always on offer. */
static void check_reset_method(const struct topology *t, const struct plan *p, const struct plan_device *d,
			       const char *label, struct diag *diag)
{
	_cleanup_free_ char *offered = NULL;
	char rel[96];
	bool found = false;

	if (!d->reset_method)
		return;
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/reset_method", d->address);
	if (topology_read_attr(t, rel, &offered) < 0) {
		diag_add(diag,
			 "VM %s: %s: reset-method = %s, but this kernel has no reset_method attribute for the "
			 "device (Linux 5.15 or later has it; vendor-reset needs it too)",
			 p->vm, label, d->reset_method);
		return;
	}
	if (streq(d->reset_method, "default"))
		return;
	for (char *save = NULL, *m = strtok_r(offered, " ", &save); m; m = strtok_r(NULL, " ", &save))
		found |= streq(m, d->reset_method);
	if (!found) {
		/* strtok_r cut the list; read it again for the message. */
		free(offered);
		offered = NULL;
		(void)topology_read_attr(t, rel, &offered);
		diag_add(diag, "VM %s: %s: reset-method = %s, but the device does not offer it (it offers: %s)", p->vm,
			 label, d->reset_method, offered && *offered ? offered : "nothing");
	}
}

/* Whole-group members in another slot than the device that brought them in are not part of that card:
 * say what the host loses with each. */
static int warn_host_use(const struct topology *t, const struct plan *p, const struct plan_device *d, const char *label,
			 struct diag *warnings)
{
	_cleanup_free_ char *loses = NULL;
	bool part_of_a_named_card = false;
	int r;

	if (!warnings || !strstr(d->name, "+group"))
		return 0;
	for (size_t i = 0; i < p->n_devices; i++)
		part_of_a_named_card |=
			!strstr(p->devices[i].name, "+group") && same_slot(p->devices[i].address, d->address);
	if (part_of_a_named_card)
		return 0;
	r = host_loses(t, d->address, &loses);
	if (r < 0 || !loses)
		return r == -ENODEV ? 0 : r;
	diag_add(warnings, "VM %s: %s: taken with its IOMMU group, the host loses it: %s", p->vm, label, loses);
	return 0;
}

/* check_holders' words for one device from a scan already made: R its result, *H what it found (cleared). */
static int report_holders(const struct topology *t, const struct plan *p, const struct plan_device *d,
			  const char *label, unsigned timeout_ms, int r, struct holders *hp, struct diag *diag,
			  struct diag *warnings, struct diag *all)
{
	struct holders h = *hp;
	size_t processes = 0;

	*hp = (struct holders){ 0 };
	if (r == -ETIMEDOUT) {
		holders_clear(&h);
		diag_add(diag,
			 "VM %s: %s: who holds it cannot be told: reading /proc did not finish within %u ms (a "
			 "process stuck in the kernel?)",
			 p->vm, label, timeout_ms);
		return 0;
	}
	if (r == -ENOMEM) {
		holders_clear(&h);
		return r;
	}
	if (r < 0) {
		diag_add(diag, "VM %s: %s: who holds it cannot be told: %s cannot be read: %s", p->vm, label,
			 t->proc_root, strerror(-r));
		holders_clear(&h);
		return 0;
	}
	for (size_t i = 0; i < h.n; i++)
		processes += h.v[i].kind == HOLDER_PROCESS;
	/* Freeing (stop-units, end-sessions) ends these processes' hold, and prepare waits for them to go:
	 * named, not refused. A kernel user is not freed that way. */
	if (processes > 0 && processes == h.n && plan_awaits_holders(p, d->address)) {
		_cleanup_free_ char *name = holder_name(&h.v[0]);

		if (!name) {
			holders_clear(&h);
			return -ENOMEM;
		}
		if (warnings)
			diag_add(warnings, "VM %s: %s is in use by %s%s: prepare frees it and waits for %s to go",
				 p->vm, label, name, processes > 1 ? " and others" : "", processes > 1 ? "them" : "it");
	} else if (h.n > 0) {
		/* One line: a kernel user (a mounted disk) first, as the host's own use; else the first process. */
		const struct holder *first = processes < h.n ? &h.v[processes] : &h.v[0];
		_cleanup_free_ char *name = holder_name(first), *more = NULL;

		if (!name ||
		    (h.n > 1 && asprintf(&more, " and %zu more (hookctl check %s lists them)", h.n - 1, p->vm) < 0)) {
			holders_clear(&h);
			return -ENOMEM;
		}
		if (first->kind == HOLDER_KERNEL)
			diag_add(diag, "VM %s: %s: in use by the host: %s%s", p->vm, label, name, more ? more : "");
		else
			diag_add(diag, "VM %s: %s is in use by %s%s", p->vm, label, name, more ? more : "");
	}
	for (size_t i = 0; all && i < h.n; i++) {
		_cleanup_free_ char *line = holder_describe(&h.v[i]);

		if (!line) {
			holders_clear(&h);
			return -ENOMEM;
		}
		diag_add(all, "VM %s: %s is in use by %s", p->vm, label, line);
	}
	if (h.n_unreadable > 0 && warnings)
		diag_add(warnings,
			 "VM %s: %s: %zu process%s could not be looked at (pid %d first; another user's): %s may "
			 "hold it too",
			 p->vm, label, h.n_unreadable, h.n_unreadable == 1 ? "" : "es", (int)h.first_unreadable,
			 h.n_unreadable == 1 ? "it" : "they");
	holders_clear(&h);
	return 0;
}

int check_holders(const struct topology *t, const struct plan *p, const struct plan_device *d, const char *label,
		  unsigned timeout_ms, struct diag *diag, struct diag *warnings, struct diag *all)
{
	struct holders h = { 0 };
	int r = holders_scan_within(&(struct holder_scan_ctx){ .topo = t }, d, timeout_ms, &h);

	return report_holders(t, p, d, label, timeout_ms, r, &h, diag, warnings, all);
}

/* Every holder of every device of P in one pass over /proc (holders_scan_devices_within; a pass per
 * HOLDERS_SCAN_MAX_SETS devices in a plan larger than that), RET[i] for P->devices[i]; *RET_R the scan's
 * result, reported per device as check_holders would. 0 or -ENOMEM. */
static int scan_plan_holders(const struct topology *t, const struct plan *p, struct holders **ret, int *ret_r)
{
	struct holders *found = calloc(p->n_devices ? p->n_devices : 1, sizeof(*found));

	if (!found)
		return -ENOMEM;
	*ret_r = 0;
	for (size_t i = 0; i < p->n_devices && *ret_r >= 0; i += HOLDERS_SCAN_MAX_SETS) {
		size_t n = p->n_devices - i < HOLDERS_SCAN_MAX_SETS ? p->n_devices - i : HOLDERS_SCAN_MAX_SETS;

		*ret_r = holders_scan_devices_within(&(struct holder_scan_ctx){ .topo = t }, p->devices + i, n,
						     HOLDER_SCAN_TIMEOUT_MS, found + i);
	}
	*ret = found;
	return 0;
}

static void plan_holders_free(struct holders *found, size_t n)
{
	for (size_t i = 0; found && i < n; i++)
		holders_clear(&found[i]);
	free(found);
}

static void status_add_holders_of(const struct holders *h, json_object *device)
{
	json_object *list;

	if (h->n == 0)
		return;
	list = json_object_new_array();
	for (size_t i = 0; i < h->n; i++) {
		_cleanup_free_ char *line = holder_describe(&h->v[i]);

		if (line)
			json_object_array_add(list, json_object_new_string(line));
	}
	json_object_object_add(device, "holders", list);
}

void status_add_holders(const struct topology *t, const struct status_holders_query *queries, size_t n,
			unsigned timeout_ms)
{
	/* Status never opens a disk: the exclusive-open probe (topology_storage_user) waits for a disk whose
	 * controller is being unbound, and a thread blocked there keeps the process from exiting. Its dev root
	 * is one that holds no node; mounts, swap and dm/md holders are still read. */
	struct topology no_probe = *t;

	no_probe.dev_root = "/nonexistent/hookd-status-opens-no-disk";
	for (size_t i = 0; i < n; i += HOLDERS_SCAN_MAX_SETS) {
		size_t k = n - i < HOLDERS_SCAN_MAX_SETS ? n - i : HOLDERS_SCAN_MAX_SETS;
		struct plan_device d[HOLDERS_SCAN_MAX_SETS] = { 0 };
		struct holders h[HOLDERS_SCAN_MAX_SETS] = { 0 };
		char *why = NULL;
		int r;

		for (size_t j = 0; j < k; j++) {
			snprintf(d[j].address, sizeof(d[j].address), "%s", queries[i + j].address);
			d[j].iommu_group = queries[i + j].iommu_group;
		}
		r = holders_scan_devices_within(&(struct holder_scan_ctx){ .topo = &no_probe }, d, k, timeout_ms, h);
		if (r < 0 && (r == -ETIMEDOUT ? asprintf(&why, "reading /proc did not finish within %u ms", timeout_ms)
					      : asprintf(&why, "cannot read %s: %s", t->proc_root, strerror(-r))) < 0)
			why = NULL;
		for (size_t j = 0; j < k; j++) {
			if (r < 0)
				json_object_object_add(queries[i + j].device, "holders_error",
						       json_object_new_string(why ? why : strerror(-r)));
			else
				status_add_holders_of(&h[j], queries[i + j].device);
			holders_clear(&h[j]);
		}
		free(why);
	}
}

static int check_each_device(const struct topology *t, const struct plan *p, char **vtcons, struct holders *found,
			     int scanned, struct diag *diag, struct diag *warnings, struct diag *holders)
{
	char label[96], why[128];
	int r;

	for (size_t i = 0; i < p->n_devices; i++) {
		const struct plan_device *d = &p->devices[i];
		struct pci_function f;
		bool group_seen = false;

		plan_device_label(d, label);
		if (topology_function(t, d->address, &f) < 0) {
			diag_add(diag, "VM %s: %s: no such PCI device", p->vm, label);
			continue;
		}
		if (host_own_reason(&f, why)) {
			diag_add(diag, "VM %s: %s: %s", p->vm, label, why);
			pci_function_clear(&f);
			continue;
		}
		pci_function_clear(&f);
		if (d->iommu_group < 0) {
			diag_add(diag, "VM %s: %s: the device has no IOMMU group", p->vm, label);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			group_seen |= p->devices[j].iommu_group == d->iommu_group;
		if (!group_seen) {
			r = check_group(t, p, d, diag);
			if (r < 0)
				return r;
		}
		r = report_holders(t, p, d, label, HOLDER_SCAN_TIMEOUT_MS, scanned, &found[i], diag, warnings, holders);
		if (r < 0)
			return r;
		if (d->boot_vga && vtcons[0] && !p->release_console)
			diag_add(diag,
				 "VM %s: %s: it is the boot GPU and the framebuffer console (%s) is bound to it; "
				 "set release-console = yes",
				 p->vm, label, vtcons[0]);
		check_reset_method(t, p, d, label, diag);
		r = warn_host_use(t, p, d, label, warnings);
		if (r < 0)
			return r;
	}
	return 0;
}

int plan_check_devices(const struct topology *t, const struct plan *p, struct diag *diag, struct diag *warnings,
		       struct diag *holders)
{
	_cleanup_strv_free_ char **vtcons = NULL;
	struct holders *found = NULL;
	size_t problems = diag->n;
	int r, scanned;

	if (!topology_iommu_enabled(t)) {
		diag_add(diag,
			 "VM %s: the IOMMU is off (no /sys/kernel/iommu_groups): boot with intel_iommu=on or "
			 "amd_iommu=on",
			 p->vm);
		return ENGINE_REFUSED;
	}
	r = topology_bound_fb_vtconsoles(t, &vtcons);
	if (r < 0)
		return r;
	/* One pass over /proc for all the devices (every process's fd/ and maps: the check's main cost), its
	 * holders then said per device in the loop, in the plan's order. */
	r = scan_plan_holders(t, p, &found, &scanned);
	if (r < 0)
		return r;
	r = check_each_device(t, p, vtcons, found, scanned, diag, warnings, holders);
	plan_holders_free(found, p->n_devices);
	if (r < 0)
		return r;
	return diag->n > problems ? ENGINE_REFUSED : 0;
}

int plan_check_managed_hostdevs(const struct plan *p, const char *xml, struct diag *diag)
{
	_cleanup_strv_free_ char **managed = NULL;
	_cleanup_free_ char *error = NULL;
	int r;

	r = domxml_managed_pci_hostdevs(xml, strlen(xml), &managed, &error);
	if (r == -EINVAL)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_devices; i++)
		if (strv_contains(managed, p->devices[i].address))
			diag_add(diag,
				 "VM %s: %s (%s) is a <hostdev managed='yes'> in the domain XML: libvirt would move it "
				 "too, and back before hookd; set managed='no' on it (virsh edit %s)",
				 p->vm, p->devices[i].address, p->devices[i].name, p->vm);
	return 0;
}

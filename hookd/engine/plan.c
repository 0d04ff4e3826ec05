#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-values.h"
#include "domxml.h"
#include "plan.h"
#include "util.h"
#include "vmname.h"

static const char *const device_steps[_DEVICE_STEP_MAX] = {
	[DEVICE_PLANNED] = "planned", [DEVICE_MOVING] = "moving",     [DEVICE_ON_VFIO] = "on-vfio",
	[DEVICE_STUCK] = "stuck",     [DEVICE_RESTORED] = "restored",
};

static const char *const module_steps[_MODULE_STEP_MAX] = {
	[MODULE_PLANNED] = "planned",
	[MODULE_UNLOADING] = "unloading",
	[MODULE_UNLOADED] = "unloaded",
	[MODULE_RELOADED] = "reloaded",
};

static const char *const console_steps[_CONSOLE_STEP_MAX] = {
	[CONSOLE_UNTOUCHED] = "untouched",
	[CONSOLE_RELEASING] = "releasing",
	[CONSOLE_RESTORED] = "restored",
};

static const char *const phases[_PHASE_MAX] = {
	[PHASE_PREPARING] = "preparing",
	[PHASE_PREPARED] = "prepared",
	[PHASE_FAILED] = "failed",
	[PHASE_RELEASING] = "releasing",
};

static int lookup(const char *const *table, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (streq(table[i], s))
			return i;
	return -EINVAL;
}

const char *device_step_to_string(enum device_step s)
{
	return device_steps[s];
}

const char *plan_phase_to_string(enum plan_phase s)
{
	return phases[s];
}

struct plan *plan_new(const char *vm)
{
	struct plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->vm = strdup(vm);
	p->vtconsoles = calloc(1, sizeof(char *));
	p->firmware_fbs = calloc(1, sizeof(char *));
	if (!p->vm || !p->vtconsoles || !p->firmware_fbs) {
		plan_free(p);
		return NULL;
	}
	return p;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_devices; i++) {
		free(p->devices[i].name);
		free(p->devices[i].original_driver);
		free(p->devices[i].original_module);
		free(p->devices[i].reset_method);
		free(p->devices[i].reset_method_before);
		free(p->devices[i].driver_override_before);
	}
	free(p->devices);
	for (size_t i = 0; i < p->n_modules; i++)
		free(p->modules[i].name);
	free(p->modules);
	for (size_t i = 0; i < p->n_host_changes; i++)
		plan_host_change_clear(&p->host_changes[i]);
	free(p->host_changes);
	strv_free(p->vtconsoles);
	strv_free(p->firmware_fbs);
	free(p->error);
	free(p->vm);
	free(p);
}

const char *plan_device_label(const struct plan_device *d, char buf[static 96])
{
	snprintf(buf, 96, "%s (%s)", d->address, d->name);
	return buf;
}

struct plan_device *plan_find_device(const struct plan *p, const char *address)
{
	for (size_t i = 0; i < p->n_devices; i++)
		if (streq(p->devices[i].address, address))
			return &p->devices[i];
	return NULL;
}

/* Append ADDRESS under NAME unless the plan has it already (the first reason to take a device names it). */
static int plan_add_device(const struct topology *t, struct plan *p, const char *name, const char *address,
			   const char *reset_method)
{
	struct pci_function f;
	struct plan_device *grown, *d;
	int r;

	if (plan_find_device(p, address))
		return 0;
	r = topology_function(t, address, &f);
	if (r < 0)
		return r;
	grown = realloc(p->devices, (p->n_devices + 1) * sizeof(*grown));
	if (!grown) {
		pci_function_clear(&f);
		return -ENOMEM;
	}
	p->devices = grown;
	d = &grown[p->n_devices];
	*d = (struct plan_device){
		.name = strdup(name),
		.original_driver = TAKE_PTR(f.driver),
		.reset_method = reset_method ? strdup(reset_method) : NULL,
		.iommu_group = f.iommu_group,
		.boot_vga = f.boot_vga,
	};
	memcpy(d->address, address, 13);
	pci_function_clear(&f);
	p->n_devices++;
	if (!d->name || (reset_method && !d->reset_method))
		return -ENOMEM;
	if (reset_method) {
		char rel[96];

		/* What to write back on release: the value found now, which a udev rule may have set. */
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/reset_method", address);
		r = topology_read_attr(t, rel, &d->reset_method_before);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (d->original_driver)
		return topology_driver_module(t, d->original_driver, &d->original_module);
	return 0;
}

/* Bridges, root ports and host bridges are the host's own: whole-group never takes them. */
static bool is_host_own(const struct topology *t, const char *address)
{
	struct pci_function f;
	bool own;

	if (topology_function(t, address, &f) < 0)
		return false;
	own = pci_class_role(f.class) != PCI_ROLE_ENDPOINT;
	pci_function_clear(&f);
	return own;
}

/* Every function whose vendor:device is the configured match, sorted by address. */
static int find_matches(const struct topology *t, const struct vm_device_config *dc, char ***ret)
{
	_cleanup_strv_free_ char **all = NULL;
	char **out;
	size_t n = 0;
	int r;

	r = topology_list_functions(t, &all);
	if (r < 0)
		return r;
	out = calloc(strv_length(all) + 1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	for (char **a = all; *a; a++) {
		struct pci_function f;

		if (topology_function(t, *a, &f) < 0)
			continue;
		if (f.vendor == dc->vendor && f.device == dc->device)
			out[n++] = strdup(*a);
		pci_function_clear(&f);
	}
	*ret = out;
	return 0;
}

static int add_group_members(const struct topology *t, struct plan *p, const char *name, const char *address)
{
	_cleanup_strv_free_ char **members = NULL;
	_cleanup_free_ char *member_name = NULL;
	struct plan_device *d = plan_find_device(p, address);

	if (!d || d->iommu_group < 0 || topology_group_members(t, d->iommu_group, &members) < 0)
		return 0; /* plan_check_devices reports the missing group */
	if (asprintf(&member_name, "%s+group", name) < 0)
		return -ENOMEM;
	for (char **m = members; *m; m++) {
		int r;

		if (streq(*m, address) || is_host_own(t, *m))
			continue;
		r = plan_add_device(t, p, member_name, *m, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int resolve_one(const struct topology *t, const struct vm_config *vm, const struct vm_device_config *dc,
		       struct plan *p, struct diag *diag)
{
	_cleanup_strv_free_ char **addresses = NULL;
	size_t n;
	int r;

	if (dc->address) {
		addresses = calloc(2, sizeof(char *));
		if (!addresses || !(addresses[0] = strdup(dc->address)))
			return -ENOMEM;
	} else {
		r = find_matches(t, dc, &addresses);
		if (r < 0)
			return r;
	}
	n = strv_length(addresses);
	if (n == 0 && !dc->address) {
		diag_add(diag, "VM %s: %s: no PCI device matches %04x:%04x", vm->name, dc->name, dc->vendor,
			 dc->device);
		return 0;
	}
	if (n > 1 && !dc->match_many) {
		_cleanup_free_ char *list = NULL;
		struct diag tmp = { .lines = addresses, .n = n };

		list = diag_join(&tmp, ", ");
		diag_add(diag,
			 "VM %s: %s: match %04x:%04x is ambiguous, it finds %s (set match-many = yes to take all)",
			 vm->name, dc->name, dc->vendor, dc->device, list ? list : "several devices");
		return 0;
	}
	for (char **a = addresses; *a; a++) {
		r = plan_add_device(t, p, dc->name, *a, dc->reset_method);
		if (r == -ENODEV) {
			diag_add(diag, "VM %s: %s (%s): no such PCI device", vm->name, *a, dc->name);
			continue;
		}
		if (r < 0)
			return r;
		if (dc->whole_group) { /* config.c folds the [vm] default in */
			r = add_group_members(t, p, dc->name, *a);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int resolve_xml(const struct topology *t, const struct vm_config *vm, const char *xml, struct plan *p,
		       struct diag *diag)
{
	_cleanup_strv_free_ char **hostdevs = NULL;
	_cleanup_free_ char *error = NULL;
	int r;

	if (!xml) {
		diag_add(diag, "VM %s: devices-from-xml is set but no domain XML was given", vm->name);
		return 0;
	}
	r = domxml_pci_hostdevs(xml, strlen(xml), &hostdevs, &error);
	if (r == -EINVAL) {
		diag_add(diag, "VM %s: %s", vm->name, error ? error : "the domain XML is invalid");
		return 0;
	}
	if (r < 0)
		return r;
	for (char **a = hostdevs; *a; a++) {
		r = plan_add_device(t, p, "hostdev", *a, NULL);
		if (r == -ENODEV) {
			diag_add(diag, "VM %s: %s (hostdev): no such PCI device", vm->name, *a);
			continue;
		}
		if (r < 0)
			return r;
		if (vm->whole_group) {
			r = add_group_members(t, p, "hostdev", *a);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int plan_resolve(const struct topology *t, const struct vm_config *vm, const char *domain_xml, struct plan **ret,
		 struct diag *diag)
{
	_cleanup_(plan_freep) struct plan *p = plan_new(vm->name);
	size_t problems = diag->n;
	int r;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < vm->n_devices; i++) {
		r = resolve_one(t, vm, &vm->devices[i], p, diag);
		if (r < 0)
			return r;
	}
	if (vm->devices_from_xml) {
		r = resolve_xml(t, vm, domain_xml, p, diag);
		if (r < 0)
			return r;
	}
	/* A VM whose file asks only for host settings (hugepages) moves no device, and that is fine. */
	if (p->n_devices == 0 && diag->n == problems && (vm->n_devices > 0 || vm->devices_from_xml))
		diag_add(diag, "VM %s: no PCI device to pass through", vm->name);
	p->release_console = vm->release_console;
	p->modules = calloc(vm->n_unload_modules + 1, sizeof(*p->modules));
	if (!p->modules)
		return -ENOMEM;
	for (size_t i = 0; i < vm->n_unload_modules; i++) {
		p->modules[i].name = strdup(vm->unload_modules[i]);
		if (!p->modules[i].name)
			return -ENOMEM;
		p->n_modules++;
	}
	*ret = TAKE_PTR(p);
	return diag->n > problems ? -EINVAL : 0;
}

/* JSON helpers: a missing key is an empty/NULL value, never a crash. */
static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *json_strv(char *const *v)
{
	json_object *a = json_object_new_array();

	for (; v && *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static void json_add_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

json_object *plan_to_json(const struct plan *p)
{
	json_object *o = json_object_new_object(), *devices = json_object_new_array(),
		    *modules = json_object_new_array(), *host_changes = json_object_new_array();

	json_add_str(o, "vm", p->vm);
	json_add_str(o, "phase", phases[p->phase]);
	for (size_t i = 0; i < p->n_devices; i++) {
		const struct plan_device *d = &p->devices[i];
		json_object *j = json_object_new_object();

		json_add_str(j, "name", d->name);
		json_add_str(j, "address", d->address);
		json_add_str(j, "original_driver", d->original_driver);
		json_add_str(j, "original_module", d->original_module);
		json_add_str(j, "reset_method", d->reset_method);
		json_add_str(j, "reset_method_before", d->reset_method_before);
		json_add_str(j, "driver_override_before", d->driver_override_before);
		json_object_object_add(j, "iommu_group", json_object_new_int(d->iommu_group));
		json_object_object_add(j, "boot_vga", json_object_new_boolean(d->boot_vga));
		json_add_str(j, "step", device_steps[d->step]);
		json_object_array_add(devices, j);
	}
	json_object_object_add(o, "devices", devices);
	for (size_t i = 0; i < p->n_modules; i++) {
		json_object *j = json_object_new_object();

		json_add_str(j, "name", p->modules[i].name);
		json_add_str(j, "step", module_steps[p->modules[i].step]);
		json_object_array_add(modules, j);
	}
	json_object_object_add(o, "modules", modules);
	json_object_object_add(o, "host_changes", host_changes);
	for (size_t i = 0; i < p->n_host_changes; i++)
		json_object_array_add(host_changes, host_change_to_json(&p->host_changes[i]));
	json_object_object_add(o, "release_console", json_object_new_boolean(p->release_console));
	json_object_object_add(o, "vtconsoles", json_strv(p->vtconsoles));
	json_object_object_add(o, "firmware_framebuffers", json_strv(p->firmware_fbs));
	json_add_str(o, "console", console_steps[p->console]);
	json_add_str(o, "error", p->error);
	return o;
}

/* ---- reading a journal back: validated like any input, for it names paths and values hookd writes ---- */

#define JOURNAL_MAX_ITEMS 1024u
#define JOURNAL_MAX_TEXT 4096u

/* A driver, module-less device or section name as it appears in a sysfs path component: letters, digits
 * and "_.+-", not "." or "..". */
static bool path_word(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64 || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.+-", *c))
			return false;
	return true;
}

/* reset_method's value: space-separated method names ("device_specific flr bus"), or empty. */
static bool reset_methods(const char *s)
{
	if (strlen(s) > 256)
		return false;
	for (const char *c = s; *c; c++)
		if (!islower((unsigned char)*c) && *c != '_' && *c != ' ')
			return false;
	return true;
}

/* One line of text: no control characters, bounded. */
static bool one_line(const char *s)
{
	if (strlen(s) > JOURNAL_MAX_TEXT)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* KEY of O as a string: absent or null -> *ret NULL; present and not a string, or refused by VALID -> -EINVAL. */
static int optional_str(json_object *o, const char *key, bool (*valid)(const char *s), char **ret)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string) || (valid && !valid(json_object_get_string(v))))
		return -EINVAL;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static bool vtconsole_name(const char *s)
{
	if (!startswith(s, "vtcon") || !s[5] || strlen(s) > 16)
		return false;
	for (const char *c = s + 5; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return true;
}

/* "DRIVER/DEVICE", both path words: a firmware framebuffer's platform driver and device. */
static bool firmware_fb_name(const char *s)
{
	const char *slash = strchr(s, '/');
	char driver[72];

	if (!slash || (size_t)(slash - s) >= sizeof(driver))
		return false;
	memcpy(driver, s, (size_t)(slash - s));
	driver[slash - s] = '\0';
	return path_word(driver) && path_word(slash + 1);
}

static int strv_from_json(json_object *o, const char *key, bool (*valid)(const char *s), char ***ret)
{
	json_object *a;
	size_t n;
	char **v;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return -EINVAL;
	n = json_object_array_length(a);
	if (n > JOURNAL_MAX_ITEMS)
		return -EINVAL;
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);

		if (!json_object_is_type(s, json_type_string) || !valid(json_object_get_string(s))) {
			strv_free(v);
			return -EINVAL;
		}
		v[i] = strdup(json_object_get_string(s));
		if (!v[i]) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	strv_free(*ret);
	*ret = v;
	return 0;
}

static bool canonical_address(const char *s)
{
	char canon[13];

	return s && pci_address_canonical(s, canon) == 0 && streq(canon, s);
}

static bool module_name(const char *s)
{
	return s && module_name_valid(s) && strlen(s) <= 64;
}

static int device_from_json(json_object *j, struct plan *p, struct plan_device *d)
{
	const char *address = json_str(j, "address");
	json_object *v;
	int r;

	if (!json_object_is_type(j, json_type_object) || !canonical_address(address) || plan_find_device(p, address))
		return -EINVAL;
	memcpy(d->address, address, 13);
	if ((r = optional_str(j, "name", path_word, &d->name)) < 0 ||
	    (r = optional_str(j, "original_driver", path_word, &d->original_driver)) < 0 ||
	    (r = optional_str(j, "original_module", module_name, &d->original_module)) < 0 ||
	    (r = optional_str(j, "reset_method", reset_methods, &d->reset_method)) < 0 ||
	    (r = optional_str(j, "reset_method_before", reset_methods, &d->reset_method_before)) < 0 ||
	    (r = optional_str(j, "driver_override_before", path_word, &d->driver_override_before)) < 0)
		return r;
	if (!d->name)
		return -EINVAL;
	d->iommu_group = -1;
	if (json_object_object_get_ex(j, "iommu_group", &v)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < -1 ||
		    json_object_get_int64(v) > INT_MAX)
			return -EINVAL;
		d->iommu_group = (int)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(j, "boot_vga", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		d->boot_vga = json_object_get_boolean(v);
	}
	r = lookup(device_steps, _DEVICE_STEP_MAX, json_str(j, "step"));
	if (r < 0)
		return r;
	d->step = r;
	return 0;
}

int plan_from_json(json_object *o, struct plan **ret)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	json_object *devices, *modules, *v;
	const char *why;
	size_t n_devices, n_modules;
	int r;

	if (!json_object_is_type(o, json_type_object) || !json_str(o, "vm") ||
	    vm_name_validate(json_str(o, "vm"), &why) < 0)
		return -EINVAL;
	p = plan_new(json_str(o, "vm"));
	if (!p)
		return -ENOMEM;
	r = lookup(phases, _PHASE_MAX, json_str(o, "phase"));
	if (r < 0)
		return r;
	p->phase = r;
	if (!json_object_object_get_ex(o, "devices", &devices) || !json_object_is_type(devices, json_type_array) ||
	    !json_object_object_get_ex(o, "modules", &modules) || !json_object_is_type(modules, json_type_array))
		return -EINVAL;
	n_devices = json_object_array_length(devices);
	n_modules = json_object_array_length(modules);
	if (n_devices > JOURNAL_MAX_ITEMS || n_modules > JOURNAL_MAX_ITEMS)
		return -EINVAL;
	p->devices = calloc(n_devices + 1, sizeof(*p->devices));
	p->modules = calloc(n_modules + 1, sizeof(*p->modules));
	if (!p->devices || !p->modules)
		return -ENOMEM;
	for (size_t i = 0; i < n_devices; i++) {
		p->n_devices++; /* counted first, so plan_free frees what a failure leaves */
		r = device_from_json(json_object_array_get_idx(devices, i), p, &p->devices[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_modules; i++) {
		json_object *j = json_object_array_get_idx(modules, i);

		if (!module_name(json_str(j, "name")))
			return -EINVAL;
		p->n_modules++;
		p->modules[i].name = strdup(json_str(j, "name"));
		if (!p->modules[i].name)
			return -ENOMEM;
		r = lookup(module_steps, _MODULE_STEP_MAX, json_str(j, "step"));
		if (r < 0)
			return r;
		p->modules[i].step = r;
	}
	/* A journal written before host changes existed has none. */
	if (json_object_object_get_ex(o, "host_changes", &v)) {
		r = host_changes_from_json(v, &p->host_changes, &p->n_host_changes);
		if (r < 0)
			return r;
	}
	if (json_object_object_get_ex(o, "release_console", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		p->release_console = json_object_get_boolean(v);
	}
	r = strv_from_json(o, "vtconsoles", vtconsole_name, &p->vtconsoles);
	if (r >= 0)
		r = strv_from_json(o, "firmware_framebuffers", firmware_fb_name, &p->firmware_fbs);
	if (r < 0)
		return r;
	r = lookup(console_steps, _CONSOLE_STEP_MAX, json_str(o, "console"));
	if (r < 0)
		return r;
	p->console = r;
	r = optional_str(o, "error", one_line, &p->error);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

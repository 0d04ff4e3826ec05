/* The per-VM files: CONF_DIR/vms/<vm>.ini. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-values.h"
#include "config.h"
#include "inifile.h"
#include "strv.h"
#include "util.h"
#include "vmcpus.h"
#include "vmname.h"

enum vm_key {
	VM_UNLOAD_MODULES,
	VM_RELEASE_CONSOLE,
	VM_DEVICES_FROM_XML,
	VM_WHOLE_GROUP,
	VM_VM_CPUS,
	VM_HUGEPAGES,
	VM_HUGEPAGE_SIZE,
	VM_STOP_UNITS,
	VM_END_SESSIONS,
	VM_INHIBIT_SLEEP,
	VM_HOLDERS_TIMEOUT,
	VM_CPU_GOVERNOR,
	VM_EPP,
	VM_ISOLATE_CPUS,
	VM_STEER_IRQS,
	VM_KEY_COUNT
};
static const char *const vm_keys[VM_KEY_COUNT] = {
	[VM_UNLOAD_MODULES] = "unload-modules",
	[VM_RELEASE_CONSOLE] = "release-console",
	[VM_DEVICES_FROM_XML] = "devices-from-xml",
	[VM_WHOLE_GROUP] = "whole-group",
	[VM_VM_CPUS] = "vm-cpus",
	[VM_HUGEPAGES] = "hugepages",
	[VM_HUGEPAGE_SIZE] = "hugepage-size",
	[VM_STOP_UNITS] = "stop-units",
	[VM_END_SESSIONS] = "end-sessions",
	[VM_INHIBIT_SLEEP] = "inhibit-sleep",
	[VM_HOLDERS_TIMEOUT] = "holders-timeout",
	[VM_CPU_GOVERNOR] = "cpu-governor",
	[VM_EPP] = "energy-performance-preference",
	[VM_ISOLATE_CPUS] = "isolate-cpus",
	[VM_STEER_IRQS] = "steer-irqs",
};

enum device_key { DEV_ADDRESS, DEV_MATCH, DEV_MATCH_MANY, DEV_WHOLE_GROUP, DEV_RESET_METHOD, DEV_KEY_COUNT };
static const char *const device_keys[DEV_KEY_COUNT] = {
	[DEV_ADDRESS] = "address",	     [DEV_MATCH] = "match",
	[DEV_MATCH_MANY] = "match-many",     [DEV_WHOLE_GROUP] = "whole-group",
	[DEV_RESET_METHOD] = "reset-method",
};

/* Device section names end up in messages and in hookctl output: keep them plain and short. */
#define DEVICE_NAME_MAX 32

/* Parse-time facts about one device, parallel to vm_config.devices. */
struct device_lines {
	unsigned key_line[DEV_KEY_COUNT]; /* 0: key absent */
};

struct vm_parse {
	struct config_reporter rep;
	struct vm_config *c;
	struct device_lines *dev_lines;
	size_t n_device_sections; /* including refused ones: they were meant as devices */
	enum { SEC_NONE, SEC_VM, SEC_DEVICE, SEC_SKIP } sec;
	size_t dev;	  /* current device when sec == SEC_DEVICE */
	unsigned vm_line; /* line of [vm], 0 before it */
	unsigned vm_key_line[VM_KEY_COUNT];
	bool devices_from_xml_bad;
	int last_key; /* the key an indented line would continue, -1 for none or refused */
};

static int add_module(struct vm_parse *p, unsigned line, const char *name)
{
	struct vm_config *c = p->c;
	char **grown;

	if (!module_name_valid(name)) {
		config_problem(&p->rep, line,
			       "bad module name '%s' in unload-modules (letters, digits, '_' and '-', at most %d)%s",
			       name, MODULE_NAME_MAX, config_comment_hint(name));
		return 0;
	}
	for (size_t i = 0; i < c->n_unload_modules; i++)
		if (module_names_equal(c->unload_modules[i], name)) {
			config_problem(&p->rep, line, "module '%s' is listed twice in unload-modules", name);
			return 0;
		}
	grown = realloc(c->unload_modules, (c->n_unload_modules + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->unload_modules = grown;
	c->unload_modules[c->n_unload_modules] = strdup(name);
	if (!c->unload_modules[c->n_unload_modules])
		return -ENOMEM;
	c->n_unload_modules++;
	return 0;
}

/* Whitespace-separated module names, from the key's line or a continuation line. */
static int add_module_list(struct vm_parse *p, unsigned line, const char *value)
{
	_cleanup_free_ char *copy = strdup(value);
	char *save = NULL;
	int r;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		r = add_module(p, line, w);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whitespace-separated unit names, from stop-units' line or a continuation line. */
static int add_unit_list(struct vm_parse *p, unsigned line, const char *value)
{
	_cleanup_free_ char *copy = strdup(value);
	struct vm_config *c = p->c;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		const char *why;
		bool twice = false;

		if (unit_name_check(w, &why) < 0) {
			config_problem(&p->rep, line, "bad unit '%s' in stop-units: %s%s", w, why,
				       config_comment_hint(w));
			continue;
		}
		for (size_t i = 0; i < c->n_stop_units && !twice; i++)
			twice = streq(c->stop_units[i], w);
		if (twice) {
			config_problem(&p->rep, line, "unit '%s' is listed twice in stop-units", w);
			continue;
		}
		if (strv_push(&c->stop_units, &c->n_stop_units, w) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool parse_bool_value(struct vm_parse *p, unsigned line, const char *key, const char *value, bool *ret)
{
	if (config_parse_boolean(value, ret) == 0)
		return true;
	config_problem(&p->rep, line, "bad boolean '%s' for %s (use yes or no)%s", value, key,
		       config_comment_hint(value));
	return false;
}

/* vm-cpus = auto | CPULIST */
static int parse_vm_cpus(struct vm_parse *p, unsigned line, const char *value)
{
	const char *why = NULL;
	int r = vm_cpus_normalize(value, &p->c->vm_cpus, &why);

	if (r == -EINVAL)
		config_problem(&p->rep, line, "bad vm-cpus '%s': %s (use auto or a CPU list such as 2-5,8)%s", value,
			       why, config_comment_hint(value));
	return r == -ENOMEM ? r : 0;
}

/* cpu-governor / energy-performance-preference = NAME: a cpufreq name as sysfs spells it ("performance",
 * "balance_power"); whether the CPUs offer it is checked against the host when the VM starts. */
static int parse_cpufreq_name(struct vm_parse *p, unsigned line, const char *key, const char *value, char **ret)
{
	size_t n = strlen(value);

	for (const char *c = value; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' && *c != '-')
			n = 0;
	if (n == 0 || n > 32) {
		config_problem(&p->rep, line,
			       "bad %s '%s' (a name such as performance, as the CPU's cpufreq lists it)%s", key, value,
			       config_comment_hint(value));
		return 0;
	}
	*ret = strdup(value);
	return *ret ? 0 : -ENOMEM;
}

static int vm_key(struct vm_parse *p, const char *key, const char *value, unsigned line)
{
	int k = config_key_index(key, vm_keys, VM_KEY_COUNT);

	if (k < 0) {
		config_unknown_key(&p->rep, line, key, "vm", vm_keys, VM_KEY_COUNT);
		return 0;
	}
	if (p->vm_key_line[k]) {
		config_problem(&p->rep, line, "duplicate key '%s' in [vm] (first set on line %u)", key,
			       p->vm_key_line[k]);
		return 0;
	}
	p->vm_key_line[k] = line;
	p->last_key = k;
	switch ((enum vm_key)k) {
	case VM_UNLOAD_MODULES:
		return add_module_list(p, line, value);
	case VM_RELEASE_CONSOLE:
		parse_bool_value(p, line, key, value, &p->c->release_console);
		return 0;
	case VM_DEVICES_FROM_XML:
		p->devices_from_xml_bad = !parse_bool_value(p, line, key, value, &p->c->devices_from_xml);
		return 0;
	case VM_WHOLE_GROUP:
		parse_bool_value(p, line, key, value, &p->c->whole_group);
		return 0;
	case VM_VM_CPUS:
		return parse_vm_cpus(p, line, value);
	case VM_HUGEPAGES:
		if (hugepages_value_parse(value, &p->c->hugepages) < 0)
			config_problem(&p->rep, line,
				       "bad hugepages '%s' (auto, or a page count from 1 to %" PRIu64 ")%s", value,
				       HUGEPAGES_COUNT_MAX, config_comment_hint(value));
		return 0;
	case VM_HUGEPAGE_SIZE:
		if (hugepage_size_parse(value, &p->c->hugepages.size_kib) < 0)
			config_problem(&p->rep, line, "bad hugepage-size '%s' (a size such as 2M or 1G)%s", value,
				       config_comment_hint(value));
		return 0;
	case VM_STOP_UNITS:
		return add_unit_list(p, line, value);
	case VM_END_SESSIONS:
		parse_bool_value(p, line, key, value, &p->c->end_sessions);
		return 0;
	case VM_INHIBIT_SLEEP:
		parse_bool_value(p, line, key, value, &p->c->inhibit_sleep);
		return 0;
	case VM_HOLDERS_TIMEOUT:
		if (streq(value, "0"))
			p->c->holders_timeout_ms = 0;
		else if (parse_seconds_as_ms(value, VM_MAX_HOLDERS_TIMEOUT_MS, &p->c->holders_timeout_ms) < 0) {
			config_problem(&p->rep, line, "bad holders-timeout '%s' (seconds, 0 to %u)%s", value,
				       VM_MAX_HOLDERS_TIMEOUT_MS / 1000, config_comment_hint(value));
			return 0;
		}
		p->c->holders_timeout_set = true;
		return 0;
	case VM_CPU_GOVERNOR:
		return parse_cpufreq_name(p, line, key, value, &p->c->cpu_governor);
	case VM_EPP:
		return parse_cpufreq_name(p, line, key, value, &p->c->energy_performance_preference);
	case VM_ISOLATE_CPUS:
		parse_bool_value(p, line, key, value, &p->c->isolate_cpus);
		return 0;
	case VM_STEER_IRQS:
		parse_bool_value(p, line, key, value, &p->c->steer_irqs);
		return 0;
	case VM_KEY_COUNT:
		break;
	}
	return 0;
}

static int device_key(struct vm_parse *p, const char *key, const char *value, unsigned line)
{
	struct vm_device_config *d = &p->c->devices[p->dev];
	struct device_lines *dl = &p->dev_lines[p->dev];
	_cleanup_free_ char *section = NULL;
	const char *why = NULL;
	char canonical[13];
	int k = config_key_index(key, device_keys, DEV_KEY_COUNT);
	int r;

	if (asprintf(&section, "device.%s", d->name) < 0)
		return -ENOMEM;
	if (k < 0) {
		config_unknown_key(&p->rep, line, key, section, device_keys, DEV_KEY_COUNT);
		return 0;
	}
	if (dl->key_line[k]) {
		config_problem(&p->rep, line, "duplicate key '%s' in [%s] (first set on line %u)", key, section,
			       dl->key_line[k]);
		return 0;
	}
	dl->key_line[k] = line;
	p->last_key = VM_KEY_COUNT + k;
	switch ((enum device_key)k) {
	case DEV_ADDRESS:
		if (pci_address_canonical(value, canonical) < 0) {
			config_problem(&p->rep, line,
				       "bad PCI address '%s' (expected DDDD:BB:DD.F or BB:DD.F, like 0000:0a:00.0)%s",
				       value, config_comment_hint(value));
			return 0;
		}
		d->address = strdup(canonical);
		return d->address ? 0 : -ENOMEM;
	case DEV_MATCH:
		if (pci_id_parse(value, &d->vendor, &d->device) < 0) {
			config_problem(&p->rep, line,
				       "bad match '%s' (expected VENDOR:DEVICE in hex, like 1002:731f)%s", value,
				       config_comment_hint(value));
			return 0;
		}
		d->has_match = true;
		return 0;
	case DEV_MATCH_MANY:
		parse_bool_value(p, line, key, value, &d->match_many);
		return 0;
	case DEV_WHOLE_GROUP:
		parse_bool_value(p, line, key, value, &d->whole_group);
		return 0;
	case DEV_RESET_METHOD:
		r = reset_method_normalize(value, &d->reset_method, &why);
		if (r == -EINVAL)
			config_problem(&p->rep, line, "bad reset-method '%s': %s (the kernel's methods: %s)%s", value,
				       why, reset_methods_known, config_comment_hint(value));
		return r == -ENOMEM ? r : 0;
	case DEV_KEY_COUNT:
		break;
	}
	return 0;
}

static bool device_name_valid(const char *name)
{
	size_t len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return len > 0 && name[len] == '\0' && len <= DEVICE_NAME_MAX;
}

static int vm_section(struct vm_parse *p, const char *section, unsigned line)
{
	struct vm_config *c = p->c;
	const char *name;
	void *grown;

	p->sec = SEC_SKIP;
	p->last_key = -1;
	if (streq(section, "vm")) {
		if (p->vm_line) {
			config_problem(&p->rep, line, "duplicate section [vm] (first on line %u)", p->vm_line);
			return 0;
		}
		p->vm_line = line;
		p->sec = SEC_VM;
		return 0;
	}
	if (!startswith(section, "device.")) {
		config_problem(&p->rep, line, "unknown section [%s] (expected [vm] or [device.NAME])", section);
		return 0;
	}

	p->n_device_sections++;
	name = section + strlen("device.");
	if (!device_name_valid(name)) {
		config_problem(&p->rep, line, "bad device name in [%s] (letters, digits, '_' and '-', at most %d)",
			       section, DEVICE_NAME_MAX);
		return 0;
	}
	for (size_t i = 0; i < c->n_devices; i++)
		if (streq(c->devices[i].name, name)) {
			config_problem(&p->rep, line, "duplicate section [%s] (first on line %u)", section,
				       c->devices[i].line);
			return 0;
		}

	grown = realloc(c->devices, (c->n_devices + 1) * sizeof(*c->devices));
	if (!grown)
		return -ENOMEM;
	c->devices = grown;
	grown = realloc(p->dev_lines, (c->n_devices + 1) * sizeof(*p->dev_lines));
	if (!grown)
		return -ENOMEM;
	p->dev_lines = grown;
	c->devices[c->n_devices] = (struct vm_device_config){ .line = line, .name = strdup(name) };
	p->dev_lines[c->n_devices] = (struct device_lines){ 0 };
	if (!c->devices[c->n_devices].name)
		return -ENOMEM;
	p->dev = c->n_devices++;
	p->sec = SEC_DEVICE;
	return 0;
}

static int vm_event(void *user, enum ini_event event, const char *section, const char *key, const char *value,
		    unsigned line)
{
	struct vm_parse *p = user;

	switch (event) {
	case INI_EVENT_SECTION:
		return vm_section(p, section, line);
	case INI_EVENT_BAD_SECTION:
		p->sec = SEC_SKIP;
		p->n_device_sections++; /* it may well have been meant as one: no "does nothing" on top */
		return 0;
	case INI_EVENT_KEY:
		p->last_key = -1;
		if (p->sec == SEC_SKIP)
			return 0; /* the section header was already reported */
		if (key[0] == '\0') {
			config_problem(&p->rep, line, "missing key name before '='");
			return 0;
		}
		if (p->sec == SEC_NONE) {
			config_problem(&p->rep, line, "key '%s' outside a section (put it under [vm] or [device.NAME])",
				       key);
			return 0;
		}
		return p->sec == SEC_VM ? vm_key(p, key, value, line) : device_key(p, key, value, line);
	case INI_EVENT_CONTINUATION:
		if (p->sec == SEC_SKIP || p->last_key < 0)
			return 0; /* continues a line that was already reported */
		if (p->sec == SEC_VM && p->last_key == VM_UNLOAD_MODULES)
			return add_module_list(p, line, value);
		if (p->sec == SEC_VM && p->last_key == VM_STOP_UNITS)
			return add_unit_list(p, line, value);
		config_problem(&p->rep, line,
			       "indented line continues '%s'; only unload-modules and stop-units may span several "
			       "lines",
			       key);
		return 0;
	}
	return 0;
}

/* Checks that need the whole file: a device's keys together, devices against each other. */
static void vm_check(struct vm_parse *p)
{
	struct vm_config *c = p->c;

	for (size_t i = 0; i < c->n_devices; i++) {
		struct vm_device_config *d = &c->devices[i];
		const unsigned *kl = p->dev_lines[i].key_line;

		if (kl[DEV_ADDRESS] && kl[DEV_MATCH])
			config_problem(&p->rep, d->line,
				       "[device.%s] has both address (line %u) and match (line %u); use one", d->name,
				       kl[DEV_ADDRESS], kl[DEV_MATCH]);
		else if (!kl[DEV_ADDRESS] && !kl[DEV_MATCH])
			config_problem(&p->rep, d->line, "[device.%s] needs address or match", d->name);
		if (kl[DEV_MATCH_MANY] && !kl[DEV_MATCH])
			config_problem(&p->rep, kl[DEV_MATCH_MANY], "match-many is only meaningful with match");
		if (!kl[DEV_WHOLE_GROUP])
			d->whole_group = c->whole_group;

		for (size_t j = 0; j < i; j++) {
			const struct vm_device_config *e = &c->devices[j];

			if (d->address && streq_ptr(d->address, e->address))
				config_problem(&p->rep, kl[DEV_ADDRESS],
					       "address %s is already in [device.%s] (line %u)", d->address, e->name,
					       e->line);
			if (d->has_match && e->has_match && d->vendor == e->vendor && d->device == e->device)
				config_problem(&p->rep, kl[DEV_MATCH],
					       "match %04x:%04x is already in [device.%s] (line %u)", d->vendor,
					       d->device, e->name, e->line);
		}
	}
	if (p->vm_key_line[VM_HUGEPAGE_SIZE] && !p->vm_key_line[VM_HUGEPAGES])
		config_problem(&p->rep, p->vm_key_line[VM_HUGEPAGE_SIZE],
			       "hugepage-size is only meaningful with hugepages (auto or a count)");
	for (int k = VM_CPU_GOVERNOR; k <= VM_EPP; k++)
		if (p->vm_key_line[k] && !p->vm_key_line[VM_VM_CPUS])
			config_problem(&p->rep, p->vm_key_line[k],
				       "%s needs vm-cpus (auto, or the VM's host CPUs such as 2-7): the CPUs it is "
				       "set for",
				       vm_keys[k]);
	/* stop-units given, even with only bad names, has its own problems already. */
	if (c->holders_timeout_set && !p->vm_key_line[VM_STOP_UNITS] && !c->end_sessions)
		config_problem(&p->rep, p->vm_key_line[VM_HOLDERS_TIMEOUT],
			       "holders-timeout is only meaningful with stop-units or end-sessions (without them a "
			       "device in use is refused at once)");
	/* Host settings alone (hugepages for a VM without passed-through devices) are something to do. */
	if (p->n_device_sections == 0 && !c->devices_from_xml && !p->devices_from_xml_bad &&
	    !p->vm_key_line[VM_HUGEPAGES])
		config_problem(&p->rep, 0,
			       "this VM configuration does nothing: add a [device.NAME] section or set "
			       "devices-from-xml = yes");
}

int vm_config_parse_string(const char *vm_name, const char *text, const char *label, struct vm_config **ret,
			   struct diag *diag)
{
	_cleanup_(vm_config_freep) struct vm_config *c = NULL;
	_cleanup_free_ struct device_lines *dev_lines = NULL;
	const char *why;
	struct vm_parse p = {
		.rep = { .label = label ? label : "(config)", .diag = diag },
		.last_key = -1,
	};
	unsigned syntax_problems = 0;
	int r;

	if (!text || !ret)
		return -EINVAL;
	if (vm_name_validate(vm_name, &why) < 0)
		config_problem(&p.rep, 0, "invalid VM name: %s", why);

	c = calloc(1, sizeof(*c));
	if (!c || (vm_name && !(c->name = strdup(vm_name))))
		return -ENOMEM;
	c->holders_timeout_ms = VM_DEFAULT_HOLDERS_TIMEOUT_MS;
	p.c = c;
	r = ini_walk_string(text, p.rep.label, vm_event, &p, diag, &syntax_problems);
	dev_lines = p.dev_lines;
	if (r < 0)
		return r;
	if (p.rep.error < 0)
		return p.rep.error;
	vm_check(&p);
	if (p.rep.error < 0)
		return p.rep.error;
	if (p.rep.problems > 0 || syntax_problems > 0)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}

void vm_config_free(struct vm_config *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->path);
	for (size_t i = 0; i < c->n_unload_modules; i++)
		free(c->unload_modules[i]);
	free(c->unload_modules);
	strv_free(c->stop_units);
	for (size_t i = 0; i < c->n_devices; i++) {
		free(c->devices[i].name);
		free(c->devices[i].address);
		free(c->devices[i].reset_method);
	}
	free(c->devices);
	free(c->vm_cpus);
	free(c->cpu_governor);
	free(c->energy_performance_preference);
	free(c);
}

int vm_config_load(const char *conf_dir, const char *vm_name, struct vm_config **ret, struct diag *diag)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct config_stamp stamp;
	struct vm_config *c = NULL;
	const char *why;
	int r;

	/* Before any path is built: a name with '/' or '..' never reaches the filesystem. */
	if (vm_name_validate(vm_name, &why) < 0) {
		diag_add(diag, "invalid VM name: %s", why);
		return -EINVAL;
	}
	if (!conf_dir || !ret)
		return -EINVAL;
	if (asprintf(&path, "%s/vms/%s.ini", conf_dir, vm_name) < 0)
		return -ENOMEM;
	/* Before reading: a change made while we read shows as a different stamp next time. */
	r = config_stamp_get(path, &stamp);
	if (r < 0)
		return r;
	r = read_config_file(conf_dir, path, HOOKD_VM_CONFIG_MAX, &text, diag);
	if (r < 0)
		return r;
	r = vm_config_parse_string(vm_name, text, path, &c, diag);
	if (r < 0)
		return r;
	c->path = TAKE_PTR(path);
	c->stamp = stamp;
	*ret = c;
	return 0;
}

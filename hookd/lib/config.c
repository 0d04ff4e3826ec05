#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-values.h"
#include "config.h"
#include "inifile.h"
#include "util.h"
#include "vmname.h"

/* Whoever collects problems for one file. */
struct reporter {
	const char *label;
	struct diag *diag;
	unsigned problems;
	int error;  /* -ENOMEM: stop and fail */
};

/* "label:line: message", or "label: message" for the file as a whole (line 0). */
static void problem(struct reporter *rep, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct reporter *rep, unsigned line, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg) {
		rep->error = -ENOMEM;
		return;
	}
	if (line)
		diag_add(rep->diag, "%s:%u: %s", rep->label, line, msg);
	else
		diag_add(rep->diag, "%s: %s", rep->label, msg);
	rep->problems++;
}

/* A value that fails to parse and holds " #" almost always carries a comment inih did not strip. */
static const char *comment_hint(const char *value)
{
	return strstr(value, " #") || strstr(value, "\t#") ?
		       " ('#' starts a comment only at the start of a line; after a value use ' ;')" :
		       "";
}

static void unknown_key(struct reporter *rep, unsigned line, const char *key, const char *section,
			const char *const *keys, size_t n_keys)
{
	const char *guess = closest_choice(key, keys, n_keys);

	if (guess)
		problem(rep, line, "unknown key '%s' in [%s] (did you mean '%s'?)", key, section, guess);
	else
		problem(rep, line, "unknown key '%s' in [%s]", key, section);
}

static int key_index(const char *key, const char *const *keys, size_t n_keys)
{
	for (size_t i = 0; i < n_keys; i++)
		if (streq(key, keys[i]))
			return (int)i;
	return -1;
}

/* ---- per-VM files ---- */

enum vm_key { VM_UNLOAD_MODULES, VM_RELEASE_CONSOLE, VM_DEVICES_FROM_XML, VM_WHOLE_GROUP, VM_KEY_COUNT };
static const char *const vm_keys[VM_KEY_COUNT] = {
	[VM_UNLOAD_MODULES] = "unload-modules",
	[VM_RELEASE_CONSOLE] = "release-console",
	[VM_DEVICES_FROM_XML] = "devices-from-xml",
	[VM_WHOLE_GROUP] = "whole-group",
};

enum device_key { DEV_ADDRESS, DEV_MATCH, DEV_MATCH_MANY, DEV_WHOLE_GROUP, DEV_RESET_METHOD, DEV_KEY_COUNT };
static const char *const device_keys[DEV_KEY_COUNT] = {
	[DEV_ADDRESS] = "address",
	[DEV_MATCH] = "match",
	[DEV_MATCH_MANY] = "match-many",
	[DEV_WHOLE_GROUP] = "whole-group",
	[DEV_RESET_METHOD] = "reset-method",
};

/* Device section names end up in messages and in hookctl output: keep them plain and short. */
#define DEVICE_NAME_MAX 32

/* Parse-time facts about one device, parallel to vm_config.devices. */
struct device_lines {
	unsigned key_line[DEV_KEY_COUNT];  /* 0: key absent */
};

struct vm_parse {
	struct reporter rep;
	struct vm_config *c;
	struct device_lines *dev_lines;
	size_t n_device_sections;  /* including refused ones: they were meant as devices */
	enum { SEC_NONE, SEC_VM, SEC_DEVICE, SEC_SKIP } sec;
	size_t dev;                /* current device when sec == SEC_DEVICE */
	unsigned vm_line;          /* line of [vm], 0 before it */
	unsigned vm_key_line[VM_KEY_COUNT];
	bool devices_from_xml_bad;
	int last_key;              /* the key an indented line would continue, -1 for none or refused */
};

static int add_module(struct vm_parse *p, unsigned line, const char *name)
{
	struct vm_config *c = p->c;
	char **grown;

	if (!module_name_valid(name)) {
		problem(&p->rep, line, "bad module name '%s' in unload-modules (letters, digits, '_' and '-', at most %d)%s",
			name, MODULE_NAME_MAX, comment_hint(name));
		return 0;
	}
	for (size_t i = 0; i < c->n_unload_modules; i++)
		if (module_names_equal(c->unload_modules[i], name)) {
			problem(&p->rep, line, "module '%s' is listed twice in unload-modules", name);
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

static bool parse_bool_value(struct vm_parse *p, unsigned line, const char *key, const char *value, bool *ret)
{
	if (config_parse_boolean(value, ret) == 0)
		return true;
	problem(&p->rep, line, "bad boolean '%s' for %s (use yes or no)%s", value, key, comment_hint(value));
	return false;
}

static int vm_key(struct vm_parse *p, const char *key, const char *value, unsigned line)
{
	int k = key_index(key, vm_keys, VM_KEY_COUNT);

	if (k < 0) {
		unknown_key(&p->rep, line, key, "vm", vm_keys, VM_KEY_COUNT);
		return 0;
	}
	if (p->vm_key_line[k]) {
		problem(&p->rep, line, "duplicate key '%s' in [vm] (first set on line %u)", key, p->vm_key_line[k]);
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
	int k = key_index(key, device_keys, DEV_KEY_COUNT);
	int r;

	if (asprintf(&section, "device.%s", d->name) < 0)
		return -ENOMEM;
	if (k < 0) {
		unknown_key(&p->rep, line, key, section, device_keys, DEV_KEY_COUNT);
		return 0;
	}
	if (dl->key_line[k]) {
		problem(&p->rep, line, "duplicate key '%s' in [%s] (first set on line %u)", key, section,
			dl->key_line[k]);
		return 0;
	}
	dl->key_line[k] = line;
	p->last_key = VM_KEY_COUNT + k;
	switch ((enum device_key)k) {
	case DEV_ADDRESS:
		if (pci_address_canonical(value, canonical) < 0) {
			problem(&p->rep, line,
				"bad PCI address '%s' (expected DDDD:BB:DD.F or BB:DD.F, like 0000:0a:00.0)%s", value,
				comment_hint(value));
			return 0;
		}
		d->address = strdup(canonical);
		return d->address ? 0 : -ENOMEM;
	case DEV_MATCH:
		if (pci_id_parse(value, &d->vendor, &d->device) < 0) {
			problem(&p->rep, line, "bad match '%s' (expected VENDOR:DEVICE in hex, like 1002:731f)%s",
				value, comment_hint(value));
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
			problem(&p->rep, line, "bad reset-method '%s': %s (the kernel's methods: %s)%s", value, why,
				reset_methods_known, comment_hint(value));
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
			problem(&p->rep, line, "duplicate section [vm] (first on line %u)", p->vm_line);
			return 0;
		}
		p->vm_line = line;
		p->sec = SEC_VM;
		return 0;
	}
	if (!startswith(section, "device.")) {
		problem(&p->rep, line, "unknown section [%s] (expected [vm] or [device.NAME])", section);
		return 0;
	}

	p->n_device_sections++;
	name = section + strlen("device.");
	if (!device_name_valid(name)) {
		problem(&p->rep, line, "bad device name in [%s] (letters, digits, '_' and '-', at most %d)", section,
			DEVICE_NAME_MAX);
		return 0;
	}
	for (size_t i = 0; i < c->n_devices; i++)
		if (streq(c->devices[i].name, name)) {
			problem(&p->rep, line, "duplicate section [%s] (first on line %u)", section, c->devices[i].line);
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
		p->n_device_sections++;  /* it may well have been meant as one: no "does nothing" on top */
		return 0;
	case INI_EVENT_KEY:
		p->last_key = -1;
		if (p->sec == SEC_SKIP)
			return 0;  /* the section header was already reported */
		if (key[0] == '\0') {
			problem(&p->rep, line, "missing key name before '='");
			return 0;
		}
		if (p->sec == SEC_NONE) {
			problem(&p->rep, line, "key '%s' outside a section (put it under [vm] or [device.NAME])", key);
			return 0;
		}
		return p->sec == SEC_VM ? vm_key(p, key, value, line) : device_key(p, key, value, line);
	case INI_EVENT_CONTINUATION:
		if (p->sec == SEC_SKIP || p->last_key < 0)
			return 0;  /* continues a line that was already reported */
		if (p->sec == SEC_VM && p->last_key == VM_UNLOAD_MODULES)
			return add_module_list(p, line, value);
		problem(&p->rep, line, "indented line continues '%s'; only unload-modules may span several lines", key);
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
			problem(&p->rep, d->line, "[device.%s] has both address (line %u) and match (line %u); use one",
				d->name, kl[DEV_ADDRESS], kl[DEV_MATCH]);
		else if (!kl[DEV_ADDRESS] && !kl[DEV_MATCH])
			problem(&p->rep, d->line, "[device.%s] needs address or match", d->name);
		if (kl[DEV_MATCH_MANY] && !kl[DEV_MATCH])
			problem(&p->rep, kl[DEV_MATCH_MANY], "match-many is only meaningful with match");
		if (!kl[DEV_WHOLE_GROUP])
			d->whole_group = c->whole_group;

		for (size_t j = 0; j < i; j++) {
			const struct vm_device_config *e = &c->devices[j];

			if (d->address && streq_ptr(d->address, e->address))
				problem(&p->rep, kl[DEV_ADDRESS], "address %s is already in [device.%s] (line %u)",
					d->address, e->name, e->line);
			if (d->has_match && e->has_match && d->vendor == e->vendor && d->device == e->device)
				problem(&p->rep, kl[DEV_MATCH], "match %04x:%04x is already in [device.%s] (line %u)",
					d->vendor, d->device, e->name, e->line);
		}
	}
	if (p->n_device_sections == 0 && !c->devices_from_xml && !p->devices_from_xml_bad)
		problem(&p->rep, 0,
			"this VM configuration does nothing: add a [device.NAME] section or set devices-from-xml = yes");
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
		problem(&p.rep, 0, "invalid VM name: %s", why);

	c = calloc(1, sizeof(*c));
	if (!c || (vm_name && !(c->name = strdup(vm_name))))
		return -ENOMEM;
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
	for (size_t i = 0; i < c->n_devices; i++) {
		free(c->devices[i].name);
		free(c->devices[i].address);
		free(c->devices[i].reset_method);
	}
	free(c->devices);
	free(c);
}

/* ---- hookd.conf ---- */

/* Upper bound of every timeout: a day. Keeps milliseconds well inside an unsigned. */
#define TIMEOUT_MAX_MS (86400u * 1000u)

enum global_key { G_OPERATION_TIMEOUT, G_SYSFS_TIMEOUT, G_HOOK_TIMEOUT, G_KEY_COUNT };
static const struct {
	const char *section;
	const char *key;
} global_keys[G_KEY_COUNT] = {
	[G_OPERATION_TIMEOUT] = { "daemon", "operation-timeout" },
	[G_SYSFS_TIMEOUT] = { "daemon", "sysfs-timeout" },
	[G_HOOK_TIMEOUT] = { "hook", "timeout" },
};
static const char *const global_sections[] = { "daemon", "hook" };

struct global_parse {
	struct reporter rep;
	struct hookd_config *c;
	int sec;  /* index in global_sections, -1 none, -2 refused */
	unsigned section_line[ELEMENTSOF(global_sections)];
	unsigned key_line[G_KEY_COUNT];
};

static unsigned *global_field(struct hookd_config *c, enum global_key k)
{
	switch (k) {
	case G_OPERATION_TIMEOUT:
		return &c->operation_timeout_ms;
	case G_SYSFS_TIMEOUT:
		return &c->sysfs_timeout_ms;
	case G_HOOK_TIMEOUT:
	case G_KEY_COUNT:
		break;
	}
	return &c->hook_timeout_ms;
}

static void global_key(struct global_parse *p, const char *key, const char *value, unsigned line)
{
	const char *section = global_sections[p->sec];
	const char *keys[G_KEY_COUNT];
	size_t n_keys = 0;
	int k = -1;

	for (size_t i = 0; i < G_KEY_COUNT; i++) {
		if (!streq(global_keys[i].section, section))
			continue;
		keys[n_keys++] = global_keys[i].key;
		if (streq(global_keys[i].key, key))
			k = (int)i;
	}
	if (k < 0) {
		unknown_key(&p->rep, line, key, section, keys, n_keys);
		return;
	}
	if (p->key_line[k]) {
		problem(&p->rep, line, "duplicate key '%s' in [%s] (first set on line %u)", key, section, p->key_line[k]);
		return;
	}
	p->key_line[k] = line;
	if (parse_seconds_as_ms(value, TIMEOUT_MAX_MS, global_field(p->c, (enum global_key)k)) < 0)
		problem(&p->rep, line, "bad %s '%s' (seconds, more than 0 and at most %u, up to 3 decimals: 60, 0.5)%s",
			key, value, TIMEOUT_MAX_MS / 1000, comment_hint(value));
}

static int global_event(void *user, enum ini_event event, const char *section, const char *key, const char *value,
			unsigned line)
{
	struct global_parse *p = user;

	switch (event) {
	case INI_EVENT_SECTION:
		p->sec = -2;
		for (size_t i = 0; i < ELEMENTSOF(global_sections); i++) {
			if (!streq(section, global_sections[i]))
				continue;
			if (p->section_line[i])
				problem(&p->rep, line, "duplicate section [%s] (first on line %u)", section,
					p->section_line[i]);
			else {
				p->section_line[i] = line;
				p->sec = (int)i;
			}
			return 0;
		}
		problem(&p->rep, line, "unknown section [%s] (expected [daemon] or [hook])", section);
		return 0;
	case INI_EVENT_BAD_SECTION:
		p->sec = -2;
		return 0;
	case INI_EVENT_KEY:
		if (p->sec == -2)
			return 0;
		if (key[0] == '\0')
			problem(&p->rep, line, "missing key name before '='");
		else if (p->sec < 0)
			problem(&p->rep, line, "key '%s' outside a section (put it under [daemon] or [hook])", key);
		else
			global_key(p, key, value, line);
		return 0;
	case INI_EVENT_CONTINUATION:
		if (p->sec >= 0)
			problem(&p->rep, line, "indented line continues '%s'; values here fit on one line", key);
		return 0;
	}
	return 0;
}

static void global_check(struct global_parse *p)
{
	const struct hookd_config *c = p->c;
	unsigned op_line = p->key_line[G_OPERATION_TIMEOUT];

	/* Whichever of the two the user wrote is where the fix goes. */
	if (c->hook_timeout_ms <= c->operation_timeout_ms)
		problem(&p->rep, p->key_line[G_HOOK_TIMEOUT] ? p->key_line[G_HOOK_TIMEOUT] : op_line,
			"[hook] timeout (%gs) must be longer than [daemon] operation-timeout (%gs): the hook would give "
			"up while the daemon is still working",
			c->hook_timeout_ms / 1000.0, c->operation_timeout_ms / 1000.0);
	if (c->sysfs_timeout_ms > c->operation_timeout_ms)
		problem(&p->rep, p->key_line[G_SYSFS_TIMEOUT] ? p->key_line[G_SYSFS_TIMEOUT] : op_line,
			"[daemon] sysfs-timeout (%gs) may not exceed operation-timeout (%gs)",
			c->sysfs_timeout_ms / 1000.0, c->operation_timeout_ms / 1000.0);
}

static struct hookd_config *hookd_config_new(const char *conf_dir)
{
	struct hookd_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->operation_timeout_ms = HOOKD_DEFAULT_OPERATION_TIMEOUT_MS;
	c->sysfs_timeout_ms = HOOKD_DEFAULT_SYSFS_TIMEOUT_MS;
	c->hook_timeout_ms = HOOKD_DEFAULT_HOOK_TIMEOUT_MS;
	if (conf_dir && !(c->conf_dir = strdup(conf_dir))) {
		free(c);
		return NULL;
	}
	return c;
}

/* Parse hookd.conf text into c (which holds the defaults). 0, -EINVAL or -ENOMEM. */
static int global_parse_into(struct hookd_config *c, const char *text, const char *label, struct diag *diag)
{
	struct global_parse p = {
		.rep = { .label = label ? label : "hookd.conf", .diag = diag },
		.c = c,
		.sec = -1,
	};
	unsigned syntax_problems = 0;
	int r;

	r = ini_walk_string(text, p.rep.label, global_event, &p, diag, &syntax_problems);
	if (r < 0)
		return r;
	if (p.rep.error < 0)
		return p.rep.error;
	global_check(&p);
	if (p.rep.error < 0)
		return p.rep.error;
	return p.rep.problems > 0 || syntax_problems > 0 ? -EINVAL : 0;
}

int hookd_config_parse_global_string(const char *text, const char *label, struct hookd_config **ret,
				     struct diag *diag)
{
	_cleanup_(hookd_config_freep) struct hookd_config *c = NULL;
	int r;

	if (!text || !ret)
		return -EINVAL;
	c = hookd_config_new(NULL);
	if (!c)
		return -ENOMEM;
	r = global_parse_into(c, text, label, diag);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

/* ---- files ---- */

/* Read a config file, turning every failure except a missing file into one message. */
static int read_config_text(const char *path, char **ret, struct diag *diag)
{
	int r = read_text_file(path, HOOKD_VM_CONFIG_MAX, ret);

	switch (r) {
	case 0:
	case -ENOENT:
		return r;
	case -EFBIG:
		diag_add(diag, "%s: larger than %u bytes: refused", path, HOOKD_VM_CONFIG_MAX);
		return -EINVAL;
	case -EBADMSG:
		diag_add(diag, "%s: contains a NUL byte: not a text file", path);
		return -EINVAL;
	case -EISDIR:
	case -EINVAL:
		diag_add(diag, "%s: not a regular file", path);
		return -EINVAL;
	default:
		diag_add(diag, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
}

int vm_config_load(const char *conf_dir, const char *vm_name, struct vm_config **ret, struct diag *diag)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
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
	r = read_config_text(path, &text, diag);
	if (r < 0)
		return r;
	r = vm_config_parse_string(vm_name, text, path, &c, diag);
	if (r < 0)
		return r;
	c->path = TAKE_PTR(path);
	*ret = c;
	return 0;
}

static int global_load_into(struct hookd_config *c, const char *conf_dir, struct diag *diag)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r;

	if (asprintf(&path, "%s/hookd.conf", conf_dir) < 0)
		return -ENOMEM;
	r = read_config_text(path, &text, diag);
	if (r == -ENOENT)
		return 0;  /* optional: the defaults stand */
	if (r < 0)
		return r;
	return global_parse_into(c, text, path, diag);
}

int hookd_config_load_global(const char *conf_dir, struct hookd_config **ret, struct diag *diag)
{
	_cleanup_(hookd_config_freep) struct hookd_config *c = NULL;
	int r;

	if (!conf_dir || !ret)
		return -EINVAL;
	c = hookd_config_new(conf_dir);
	if (!c)
		return -ENOMEM;
	r = global_load_into(c, conf_dir, diag);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The VM names of CONF_DIR/vms/<name>.ini, sorted bytewise (not by locale). No directory: no VMs. */
static int list_vm_names(const char *conf_dir, char ***ret, size_t *ret_n, struct diag *diag)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_closedir_ DIR *dir = NULL;
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;

	if (asprintf(&path, "%s/vms", conf_dir) < 0)
		return -ENOMEM;
	dir = opendir(path);
	if (!dir) {
		int r = negative_errno();

		if (r == -ENOENT) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		diag_add(diag, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	for (errno = 0; (de = readdir(dir)); errno = 0) {
		size_t len = strlen(de->d_name);
		char **grown;

		/* Hidden files (editor swap files, ".ini" alone) and anything not *.ini (backups like x.ini~). */
		if (de->d_name[0] == '.' || len <= 4 || !streq(de->d_name + len - 4, ".ini"))
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (!grown || !(grown[n] = strndup(de->d_name, len - 4))) {
			strv_free(grown ? grown : names, n);
			return -ENOMEM;
		}
		names = grown;
		n++;
	}
	if (errno) {
		int r = negative_errno();

		diag_add(diag, "%s: cannot read: %s", path, strerror(-r));
		strv_free(names, n);
		return r;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), strcmp_ptr);
	*ret = names;
	*ret_n = n;
	return 0;
}

int hookd_config_load(const char *conf_dir, struct hookd_config **ret, struct diag *diag)
{
	_cleanup_(hookd_config_freep) struct hookd_config *c = NULL;
	char **names = NULL;
	size_t n_names = 0;
	int result, r;

	if (!conf_dir || !ret)
		return -EINVAL;
	c = hookd_config_new(conf_dir);
	if (!c)
		return -ENOMEM;

	/* Keep going after a failure so that one run shows every problem. */
	result = global_load_into(c, conf_dir, diag);
	if (result == -ENOMEM)
		return result;
	r = list_vm_names(conf_dir, &names, &n_names, diag);
	if (r < 0)
		return r;
	c->vms = calloc(n_names ? n_names : 1, sizeof(*c->vms));
	if (!c->vms) {
		strv_free(names, n_names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_names; i++) {
		struct vm_config *vm = NULL;
		const char *why;

		if (vm_name_validate(names[i], &why) < 0) {
			/* Control characters in a file name must not reach a terminal through the message. */
			for (char *ch = names[i]; *ch; ch++)
				if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
					*ch = '?';
			diag_add(diag, "%s/vms/%s.ini: the file name is not a usable VM name: %s", conf_dir, names[i],
				 why);
			result = result < 0 ? result : -EINVAL;
			continue;
		}
		r = vm_config_load(conf_dir, names[i], &vm, diag);
		if (r == -ENOENT)
			continue;  /* removed while we were reading the directory */
		if (r < 0) {
			if (result == 0 || r == -ENOMEM)
				result = r;
			continue;
		}
		c->vms[c->n_vms++] = vm;
	}
	strv_free(names, n_names);
	if (result < 0)
		return result;
	*ret = TAKE_PTR(c);
	return 0;
}

static int vm_compare_name(const void *key, const void *elem)
{
	return strcmp(key, (*(struct vm_config *const *)elem)->name);
}

const struct vm_config *hookd_config_find_vm(const struct hookd_config *c, const char *vm_name)
{
	struct vm_config **found;

	if (!c || !vm_name || c->n_vms == 0)
		return NULL;
	found = bsearch(vm_name, c->vms, c->n_vms, sizeof(*c->vms), vm_compare_name);
	return found ? *found : NULL;
}

void hookd_config_free(struct hookd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_vms; i++)
		vm_config_free(c->vms[i]);
	free(c->vms);
	free(c->conf_dir);
	free(c);
}

/* The configuration as a whole: hookd.conf, and the directory of per-VM files loaded all-or-nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-values.h"
#include "config.h"
#include "inifile.h"
#include "strv.h"
#include "util.h"
#include "vmname.h"

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
	struct config_reporter rep;
	struct hookd_config *c;
	int sec; /* index in global_sections, -1 none, -2 refused */
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
		config_unknown_key(&p->rep, line, key, section, keys, n_keys);
		return;
	}
	if (p->key_line[k]) {
		config_problem(&p->rep, line, "duplicate key '%s' in [%s] (first set on line %u)", key, section,
			       p->key_line[k]);
		return;
	}
	p->key_line[k] = line;
	if (parse_seconds_as_ms(value, TIMEOUT_MAX_MS, global_field(p->c, (enum global_key)k)) < 0)
		config_problem(&p->rep, line,
			       "bad %s '%s' (seconds, more than 0 and at most %u, up to 3 decimals: 60, 0.5)%s", key,
			       value, TIMEOUT_MAX_MS / 1000, config_comment_hint(value));
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
				config_problem(&p->rep, line, "duplicate section [%s] (first on line %u)", section,
					       p->section_line[i]);
			else {
				p->section_line[i] = line;
				p->sec = (int)i;
			}
			return 0;
		}
		config_problem(&p->rep, line, "unknown section [%s] (expected [daemon] or [hook])", section);
		return 0;
	case INI_EVENT_BAD_SECTION:
		p->sec = -2;
		return 0;
	case INI_EVENT_KEY:
		if (p->sec == -2)
			return 0;
		if (key[0] == '\0')
			config_problem(&p->rep, line, "missing key name before '='");
		else if (p->sec < 0)
			config_problem(&p->rep, line, "key '%s' outside a section (put it under [daemon] or [hook])",
				       key);
		else
			global_key(p, key, value, line);
		return 0;
	case INI_EVENT_CONTINUATION:
		if (p->sec >= 0)
			config_problem(&p->rep, line, "indented line continues '%s'; values here fit on one line", key);
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
		config_problem(&p->rep, p->key_line[G_HOOK_TIMEOUT] ? p->key_line[G_HOOK_TIMEOUT] : op_line,
			       "[hook] timeout (%gs) must be longer than [daemon] operation-timeout (%gs): the hook "
			       "would give "
			       "up while the daemon is still working",
			       c->hook_timeout_ms / 1000.0, c->operation_timeout_ms / 1000.0);
	if (c->sysfs_timeout_ms > c->operation_timeout_ms)
		config_problem(&p->rep, p->key_line[G_SYSFS_TIMEOUT] ? p->key_line[G_SYSFS_TIMEOUT] : op_line,
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

int hookd_config_parse_global_string(const char *text, const char *label, struct hookd_config **ret, struct diag *diag)
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

static int global_load_into(struct hookd_config *c, const char *conf_dir, struct diag *diag)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r;

	if (asprintf(&path, "%s/hookd.conf", conf_dir) < 0)
		return -ENOMEM;
	r = read_config_file(conf_dir, path, HOOKD_VM_CONFIG_MAX, &text, diag);
	if (r == -ENOENT)
		return 0; /* optional: the defaults stand */
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

/* The VM names of CONF_DIR/vms/<name>.ini, sorted bytewise (not by locale). No directory: no VMs. Hidden files
 * (editor swap files, ".ini" alone) and anything not *.ini (backups like x.ini~) are not VM files. */
static int list_vm_names(const char *conf_dir, char ***ret, struct diag *diag)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (asprintf(&path, "%s/vms", conf_dir) < 0)
		return -ENOMEM;
	r = strv_from_dir(path, ".ini", NULL, NULL, ret);
	if (r == -ENOENT) {
		*ret = calloc(1, sizeof(char *));
		return *ret ? 0 : -ENOMEM;
	}
	if (r < 0 && r != -ENOMEM)
		diag_add(diag, "%s: cannot read: %s", path, strerror(-r));
	return r;
}

int hookd_config_load(const char *conf_dir, struct hookd_config **ret, struct diag *diag)
{
	_cleanup_(hookd_config_freep) struct hookd_config *c = NULL;
	_cleanup_strv_free_ char **names = NULL;
	size_t n_names;
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
	r = list_vm_names(conf_dir, &names, diag);
	if (r < 0)
		return r;
	n_names = strv_length(names);
	c->vms = calloc(n_names ? n_names : 1, sizeof(*c->vms));
	if (!c->vms)
		return -ENOMEM;
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
			continue; /* removed while we were reading the directory */
		if (r < 0) {
			if (result == 0 || r == -ENOMEM)
				result = r;
			continue;
		}
		c->vms[c->n_vms++] = vm;
	}
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

int hookd_config_load_each(const char *conf_dir, struct hookd_config **ret)
{
	_cleanup_(hookd_config_freep) struct hookd_config *c = NULL;
	_cleanup_strv_free_ char **names = NULL;
	size_t n_names;
	int r;

	if (!conf_dir || !ret)
		return -EINVAL;
	c = hookd_config_new(conf_dir);
	if (!c)
		return -ENOMEM;
	r = global_load_into(c, conf_dir, &c->global_problems);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* Part of a broken hookd.conf may have been taken: all of its values go back to the defaults. */
		c->operation_timeout_ms = HOOKD_DEFAULT_OPERATION_TIMEOUT_MS;
		c->sysfs_timeout_ms = HOOKD_DEFAULT_SYSFS_TIMEOUT_MS;
		c->hook_timeout_ms = HOOKD_DEFAULT_HOOK_TIMEOUT_MS;
		if (c->global_problems.n == 0)
			diag_add(&c->global_problems, "%s/hookd.conf: %s", conf_dir, strerror(-r));
	}
	r = list_vm_names(conf_dir, &names, &c->global_problems);
	if (r == -ENOMEM)
		return r;
	n_names = strv_length(names);
	c->vms = calloc(n_names ? n_names : 1, sizeof(*c->vms));
	c->broken = calloc(n_names ? n_names : 1, sizeof(*c->broken));
	if (!c->vms || !c->broken)
		return -ENOMEM;
	for (size_t i = 0; i < n_names; i++) {
		struct vm_config_problem *b = &c->broken[c->n_broken];
		_cleanup_free_ char *path = NULL;
		struct vm_config *vm = NULL;
		const char *why;

		if (vm_name_validate(names[i], &why) < 0) {
			for (char *ch = names[i]; *ch; ch++)
				if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
					*ch = '?';
			diag_add(&c->global_problems, "%s/vms/%s.ini: the file name is not a usable VM name: %s",
				 conf_dir, names[i], why);
			continue;
		}
		r = vm_config_load(conf_dir, names[i], &vm, &b->diag);
		if (r == -ENOENT && b->diag.n == 0)
			continue; /* removed while we were reading the directory */
		if (r == -ENOMEM) {
			diag_clear(&b->diag);
			return r;
		}
		if (r >= 0) {
			c->vms[c->n_vms++] = vm;
			continue;
		}
		if (b->diag.n == 0)
			diag_add(&b->diag, "%s/vms/%s.ini: %s", conf_dir, names[i], strerror(-r));
		if (asprintf(&path, "%s/vms/%s.ini", conf_dir, names[i]) < 0 ||
		    config_stamp_get(path, &b->stamp) == -ENOMEM)
			b->stamp = (struct config_stamp){ 0 };
		b->name = strdup(names[i]);
		c->n_broken++;
		if (!b->name)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

void hookd_config_free(struct hookd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_vms; i++)
		vm_config_free(c->vms[i]);
	free(c->vms);
	for (size_t i = 0; i < c->n_broken; i++) {
		free(c->broken[i].name);
		diag_clear(&c->broken[i].diag);
	}
	free(c->broken);
	diag_clear(&c->global_problems);
	free(c->conf_dir);
	free(c);
}

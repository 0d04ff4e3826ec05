/* Host changes' names and lifetime (host-change.h); the read side, so hookctl and the journal reader have
 * them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "host-change.h"
#include "host-hugepages-size.h"
#include "util.h"

static const char *const kind_names[_HOST_CHANGE_KIND_MAX] = {
	[HOST_UNIT_STOPPED] = "unit-stopped",
	[HOST_SESSION_ENDED] = "session-ended",
	[HOST_SLEEP_INHIBITED] = "sleep-inhibited",
	[HOST_HOLDERS_GONE] = "holders-gone",
	[HOST_HUGEPAGES] = "hugepages",
	[HOST_ALLOWED_CPUS] = "allowed-cpus",
	[HOST_WORKQUEUE_CPUMASK] = "workqueue-cpumask",
	[HOST_CPU_GOVERNOR] = "cpu-governor",
	[HOST_CPU_EPP] = "cpu-epp",
	[HOST_IRQ_AFFINITY] = "irq-affinity",
};

static const char *const step_names[_HOST_CHANGE_STEP_MAX] = {
	[HOST_CHANGE_PLANNED] = "planned",
	[HOST_CHANGE_APPLYING] = "applying",
	[HOST_CHANGE_APPLIED] = "applied",
	[HOST_CHANGE_RESTORED] = "restored",
};

static int lookup(const char *const *names, int n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *host_change_kind_to_string(enum host_change_kind k)
{
	return k >= 0 && k < _HOST_CHANGE_KIND_MAX ? kind_names[k] : NULL;
}

int host_change_kind_from_string(const char *s)
{
	return lookup(kind_names, _HOST_CHANGE_KIND_MAX, s);
}

const char *host_change_step_to_string(enum host_change_step s)
{
	return s >= 0 && s < _HOST_CHANGE_STEP_MAX ? step_names[s] : NULL;
}

int host_change_step_from_string(const char *s)
{
	return lookup(step_names, _HOST_CHANGE_STEP_MAX, s);
}

void plan_host_change_clear(struct plan_host_change *c)
{
	if (!c)
		return;
	free(c->target);
	free(c->wanted);
	free(c->before);
	free(c->applied);
	*c = (struct plan_host_change){ 0 };
}

/* ---- the journal's JSON ---- */

/* One line of at most HOST_CHANGE_TEXT_MAX bytes, no control characters ("" is one). */
static bool one_line(const char *s)
{
	if (strlen(s) > HOST_CHANGE_TEXT_MAX)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A systemd unit name ([A-Za-z0-9:_.\\@-], at most 255) ending in one of SUFFIXES (NULL-terminated). */
static bool unit_name_with_suffix(const char *s, const char *const *suffixes)
{
	size_t len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.\\@-");

	if (len == 0 || s[len] != '\0' || len > 255)
		return false;
	for (; *suffixes; suffixes++)
		if (len > strlen(*suffixes) && streq(s + len - strlen(*suffixes), *suffixes))
			return true;
	return false;
}

bool host_change_target_valid(enum host_change_kind kind, const char *target)
{
	static const char *const stoppable[] = { ".service", ".socket", ".target", ".timer", ".path", NULL };
	static const char *const cpu_holders[] = { ".slice", ".scope", NULL };
	char address[13];
	unsigned node;
	uint64_t size;
	size_t n = target ? strlen(target) : 0;

	if (n == 0 || n > 256 || target[0] == '/')
		return false;
	for (const unsigned char *c = (const unsigned char *)target; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return false;
	/* No "." or ".." component: a target becomes part of a path. */
	for (const char *c = target; *c;) {
		size_t len = strcspn(c, "/");

		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.') || len == 0)
			return false;
		c += len;
		if (*c == '/' && !*++c)
			return false; /* a trailing '/' */
	}
	/* Each kind's own shape: a journal names only what its planner could have written, so a target from
	 * a damaged journal never reaches systemd or sysfs. */
	switch (kind) {
	case HOST_UNIT_STOPPED:
		return unit_name_with_suffix(target, stoppable);
	case HOST_ALLOWED_CPUS:
		return unit_name_with_suffix(target, cpu_holders);
	case HOST_SESSION_ENDED:
		return n <= 64 &&
		       strspn(target, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
	case HOST_SLEEP_INHIBITED:
		return streq(target, "sleep");
	case HOST_HOLDERS_GONE:
		return pci_address_canonical(target, address) == 0 && streq(address, target);
	case HOST_HUGEPAGES:
		return hugepages_target_parse(target, &node, &size) == 0;
	case HOST_WORKQUEUE_CPUMASK:
		return streq(target, "workqueue");
	case HOST_CPU_GOVERNOR:
	case HOST_CPU_EPP:
		return startswith(target, "cpu") && all_digits(target + 3);
	case HOST_IRQ_AFFINITY:
		return all_digits(target);
	default:
		return false;
	}
}

int host_change_why(char **ret_why, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_why, fmt, ap) < 0) {
		*ret_why = NULL;
		r = -ENOMEM;
	}
	va_end(ap);
	return r;
}

bool host_change_is_held(const struct plan_host_change *c)
{
	return c->step == HOST_CHANGE_APPLYING || c->step == HOST_CHANGE_APPLIED;
}

static void add_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

json_object *host_change_to_json(const struct plan_host_change *c)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_str(o, "kind", host_change_kind_to_string(c->kind));
	add_str(o, "target", c->target);
	add_str(o, "wanted", c->wanted);
	add_str(o, "before", c->before);
	add_str(o, "applied", c->applied);
	add_str(o, "step", host_change_step_to_string(c->step));
	return o;
}

/* KEY of O: absent or null -> NULL (unless REQUIRED); else a string that is one line. */
static int value_from_json(json_object *o, const char *key, bool required, char **ret)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return required ? -EINVAL : 0;
	if (!json_object_is_type(v, json_type_string) || !one_line(json_object_get_string(v)))
		return -EINVAL;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static const char *string_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static int change_from_json(json_object *j, struct plan_host_change *c)
{
	int kind, step, r;

	if (!json_object_is_type(j, json_type_object))
		return -EINVAL;
	kind = host_change_kind_from_string(string_of(j, "kind"));
	step = host_change_step_from_string(string_of(j, "step"));
	if (kind < 0 || step < 0)
		return -EINVAL;
	c->kind = kind;
	c->step = step;
	if ((r = value_from_json(j, "target", true, &c->target)) < 0 ||
	    (r = value_from_json(j, "wanted", true, &c->wanted)) < 0 ||
	    (r = value_from_json(j, "before", false, &c->before)) < 0 ||
	    (r = value_from_json(j, "applied", false, &c->applied)) < 0)
		return r;
	return host_change_target_valid(c->kind, c->target) ? 0 : -EINVAL;
}

static void changes_free(struct plan_host_change *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		plan_host_change_clear(&v[i]);
	free(v);
}

int host_changes_from_json(json_object *a, struct plan_host_change **ret, size_t *ret_n)
{
	struct plan_host_change *v;
	size_t n;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	n = json_object_array_length(a);
	if (n > HOST_CHANGES_MAX)
		return -EINVAL;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = change_from_json(json_object_array_get_idx(a, i), &v[i]);
		for (size_t j = 0; r >= 0 && j < i; j++)
			if (v[j].kind == v[i].kind && strcmp(v[j].target, v[i].target) == 0)
				r = -EINVAL;
	}
	if (r < 0) {
		changes_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

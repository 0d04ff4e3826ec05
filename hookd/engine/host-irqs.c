/* Interrupt steering, the read side (host-irqs.h): the planner, and the kind's read, check and combine. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-changes.h"
#include "host-irqs.h"
#include "util.h"
#include "vmcpus.h"

/* "on:CPUS" or "off:CPUS". */
static int wanted_parse(const char *wanted, bool *ret_on, struct cpuset *ret_cpus)
{
	const char *list;

	if (startswith(wanted, "on:"))
		*ret_on = true, list = wanted + 3;
	else if (startswith(wanted, "off:"))
		*ret_on = false, list = wanted + 4;
	else
		return -EINVAL;
	if (cpuset_parse_list(list, 0, ret_cpus, NULL) < 0 || cpuset_is_empty(ret_cpus))
		return -EINVAL;
	return 0;
}

static int affinity_path(const char *irq, char **ret)
{
	return asprintf(ret, "irq/%s/smp_affinity_list", irq) < 0 ? -ENOMEM : 0;
}

static int irq_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	_cleanup_free_ char *path = NULL;
	int r = affinity_path(c->target, &path);

	return r < 0 ? r : host_read_proc(ctx, path, ret_value);
}

static int irq_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	_cleanup_free_ char *now = NULL;
	struct cpuset cpus, online;
	bool on;
	int r;

	*ret_why = NULL;
	if (wanted_parse(c->wanted, &on, &cpus) < 0)
		return host_change_why(ret_why, -EINVAL, "'%s' is not on:CPUS or off:CPUS", c->wanted);
	r = cpuset_read_online(ctx->sysfs_root, &online);
	if (r < 0)
		return host_change_why(ret_why, r, "cannot read the host's online CPUs: %s", strerror(-r));
	if (!cpuset_is_subset(&cpus, &online))
		return vm_cpus_check_online(&cpus, &online, ret_why);
	r = irq_read(ctx, c, &now);
	if (r < 0)
		return host_change_why(ret_why, r, "cannot read its smp_affinity_list: %s", strerror(-r));
	return 0;
}

static int irq_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	struct cpuset onto, away, value;
	bool any_on = false;

	*ret_why = NULL;
	cpuset_clear(&onto);
	cpuset_clear(&away);
	for (char *const *w = wanted; *w; w++) {
		struct cpuset cpus;
		bool on;

		if (wanted_parse(*w, &on, &cpus) < 0)
			return host_change_why(ret_why, -EINVAL, "'%s' is not on:CPUS or off:CPUS", *w);
		cpuset_union(on ? &onto : &away, &cpus);
		any_on |= on;
	}
	if (any_on)
		return cpuset_format_list(&onto, ret_value);
	if (cpuset_parse_list(before, 0, &value, NULL) < 0)
		return host_change_why(ret_why, -EINVAL, "the previous affinity '%s' is not a CPU list", before);
	cpuset_difference(&value, &away);
	if (cpuset_is_empty(&value)) /* only on the VMs' CPUs: nowhere else to go */
		return (*ret_value = strdup(before)) ? 0 : -ENOMEM;
	return cpuset_format_list(&value, ret_value);
}

const struct host_change_reader host_irq_affinity_reader = {
	.kind = HOST_IRQ_AFFINITY,
	.shared = true,
	.read = irq_read,
	.check = irq_check,
	.combine = irq_combine,
};

/* ---- the planner ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A device's IRQ numbers. */
struct irq_list {
	unsigned *v;
	size_t n;
};

static int irq_list_add(struct irq_list *l, const char *text)
{
	unsigned long n;
	unsigned *grown;
	char *end;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || end == text || *end || n == 0 || n > UINT_MAX)
		return 0; /* 0 is no legacy line */
	grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->v = grown;
	l->v[l->n++] = (unsigned)n;
	return 0;
}

static bool irq_list_has(const struct irq_list *l, unsigned irq)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == irq)
			return true;
	return false;
}

/* The IRQs of the device at ADDRESS: its legacy line (irq; 0 is none) and its MSI vectors (msi_irqs/). */
static int device_irqs(struct host_context *ctx, const char *address, struct irq_list *irqs)
{
	_cleanup_free_ char *rel = NULL, *line = NULL, *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (asprintf(&rel, "bus/pci/devices/%s/irq", address) < 0)
		return -ENOMEM;
	if (host_read_sysfs(ctx, rel, &line) >= 0 && (r = irq_list_add(irqs, line)) < 0)
		return r;
	if (asprintf(&dir, "%s/bus/pci/devices/%s/msi_irqs", ctx->sysfs_root, address) < 0)
		return -ENOMEM;
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (all_digits(de->d_name) && (r = irq_list_add(irqs, de->d_name)) < 0)
			return r;
	return 0;
}

static int compare_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The IRQ numbers under PROC_ROOT/irq, ascending (so the plan's order does not depend on readdir's). */
static int proc_irqs(struct host_context *ctx, unsigned **ret, size_t *ret_n)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ unsigned *v = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;

	if (asprintf(&dir, "%s/irq", ctx->proc_root) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		unsigned long irq;
		unsigned *grown;

		if (!all_digits(de->d_name) || strlen(de->d_name) > 9)
			continue;
		irq = strtoul(de->d_name, NULL, 10);
		grown = realloc(v, (n + 1) * sizeof(*v));
		if (!grown)
			return -ENOMEM;
		v = grown;
		v[n++] = (unsigned)irq;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), compare_unsigned);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int host_irqs_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag)
{
	_cleanup_free_ char *why = NULL, *list = NULL, *on = NULL, *off = NULL;
	_cleanup_free_ unsigned *irqs = NULL;
	struct irq_list device_set = { 0 };
	struct cpuset cpus, online;
	size_t n_irqs = 0;
	int r;

	if (!vm->steer_irqs)
		return 0;
	r = vm_cpus_resolve(vm->vm_cpus, domain_xml, domain_xml ? strlen(domain_xml) : 0, &cpus, &why);
	if (r == -ENOMEM)
		return r;
	if (r >= 0) {
		r = cpuset_read_online(ctx->sysfs_root, &online);
		if (r < 0 && asprintf(&why, "cannot read the host's online CPUs: %s", strerror(-r)) < 0)
			return -ENOMEM;
	}
	if (r >= 0 && (r = vm_cpus_check_online(&cpus, &online, &why)) == -ENOMEM)
		return r;
	if (r < 0) {
		diag_add(diag, "VM %s: steer-irqs: %s", p->vm, why);
		return 0;
	}
	if (cpuset_format_list(&cpus, &list) < 0 || asprintf(&on, "on:%s", list) < 0 ||
	    asprintf(&off, "off:%s", list) < 0)
		return -ENOMEM;

	for (size_t i = 0; i < p->n_devices; i++)
		if ((r = device_irqs(ctx, p->devices[i].address, &device_set)) < 0)
			goto out;

	r = proc_irqs(ctx, &irqs, &n_irqs);
	if (r < 0) {
		if (r != -ENOMEM)
			diag_add(diag, "VM %s: steer-irqs: cannot list %s/irq: %s", p->vm, ctx->proc_root,
				 strerror(-r));
		r = r == -ENOMEM ? r : 0;
		goto out;
	}
	for (size_t i = 0; i < n_irqs; i++) {
		_cleanup_free_ char *rel = NULL, *now = NULL;
		struct cpuset affinity, elsewhere;
		char name[16];

		snprintf(name, sizeof(name), "%u", irqs[i]);
		if (asprintf(&rel, "irq/%s/smp_affinity_list", name) < 0) {
			r = -ENOMEM;
			goto out;
		}
		if (host_read_proc(ctx, rel, &now) < 0 || cpuset_parse_list(now, 0, &affinity, NULL) < 0)
			continue; /* no affinity to steer (IRQ 0 on some machines) */
		if (irq_list_has(&device_set, irqs[i])) {
			if (!cpuset_equal(&affinity, &cpus) &&
			    (r = plan_add_host_change(p, HOST_IRQ_AFFINITY, name, on)) < 0)
				goto out;
			continue;
		}
		elsewhere = affinity;
		cpuset_difference(&elsewhere, &cpus);
		cpuset_intersect(&affinity, &cpus);
		/* Only IRQs that may run on a VM CPU and have somewhere else to go. */
		if (!cpuset_is_empty(&affinity) && !cpuset_is_empty(&elsewhere) &&
		    (r = plan_add_host_change(p, HOST_IRQ_AFFINITY, name, off)) < 0)
			goto out;
	}
	r = 0;
out:
	free(device_set.v);
	return r;
}

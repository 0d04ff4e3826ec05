/* CPU isolation, the read side (host-cpus.h): the planner, and each kind's read, check and combine. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-changes.h"
#include "host-cpus.h"
#include "util.h"
#include "vmcpus.h"

/* The VM's CPUs as planned (C->wanted) and the host's online CPUs. */
static int wanted_and_online(const struct host_context *ctx, const struct plan_host_change *c, struct cpuset *wanted,
			     struct cpuset *online, char **ret_why)
{
	_cleanup_free_ char *list = NULL;
	int r;

	if (cpuset_parse_list(c->wanted, 0, wanted, NULL) < 0 || cpuset_is_empty(wanted))
		return host_change_why(ret_why, -EINVAL, "'%s' is not a CPU list", c->wanted);
	r = cpuset_read_online(ctx->sysfs_root, online);
	if (r < 0)
		return host_change_why(ret_why, r, "cannot read the host's online CPUs: %s", strerror(-r));
	if (!cpuset_is_subset(wanted, online))
		return vm_cpus_check_online(wanted, online, ret_why);
	return 0;
}

/* The host keeps at least one CPU of HAS once WANTED is taken; else the one line saying so. */
static int host_keeps_a_cpu(const char *what, const struct cpuset *has, const struct cpuset *wanted, char **ret_why)
{
	_cleanup_free_ char *has_text = NULL, *wanted_text = NULL;
	struct cpuset left = *has;

	cpuset_difference(&left, wanted);
	if (!cpuset_is_empty(&left))
		return 0;
	if (cpuset_format_list(has, &has_text) < 0 || cpuset_format_list(wanted, &wanted_text) < 0)
		return -ENOMEM;
	return host_change_why(ret_why, -EBUSY, "taking CPUs %s would leave %s no CPU (it has %s)", wanted_text, what,
			       has_text);
}

/* The union of every holder's CPUs. */
static int union_of_wanted(char *const *wanted, struct cpuset *ret, char **ret_why)
{
	cpuset_clear(ret);
	for (char *const *w = wanted; *w; w++) {
		struct cpuset s;

		if (cpuset_parse_list(*w, 0, &s, NULL) < 0)
			return host_change_why(ret_why, -EINVAL, "'%s' is not a CPU list", *w);
		cpuset_union(ret, &s);
	}
	return 0;
}

/* ---- allowed-cpus: a slice's AllowedCPUs ---- */

static int allowed_cpus_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	_cleanup_free_ char *why = NULL;

	if (!ctx->bus)
		return -EOPNOTSUPP;
	return ctx->bus->ops->get_allowed_cpus(ctx->bus->data, c->target, ret_value, &why);
}

static int allowed_cpus_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	_cleanup_free_ char *now = NULL;
	struct cpuset wanted, online, has;
	int r;

	*ret_why = NULL;
	r = wanted_and_online(ctx, c, &wanted, &online, ret_why);
	if (r < 0 || !ctx->bus)
		return r; /* without a bus (hookctl), the slice is checked when prepare runs */
	r = ctx->bus->ops->get_allowed_cpus(ctx->bus->data, c->target, &now, ret_why);
	if (r == -EOPNOTSUPP)
		return 0; /* a reader's bus (hookd on a fixture tree): likewise left to prepare */
	if (r < 0)
		return r;
	/* What the slice has now (another VM may hold some already): unset is every online CPU. */
	if (!*now)
		has = online;
	else if (cpuset_parse_list(now, 0, &has, NULL) < 0)
		return host_change_why(ret_why, -EINVAL, "systemd gives its AllowedCPUs as '%s'", now);
	else
		cpuset_intersect(&has, &online);
	return host_keeps_a_cpu(c->target, &has, &wanted, ret_why);
}

/* BEFORE minus every holder's CPUs. An unset BEFORE ("") stands for every CPU: the writer keeps the online
 * ones, which combine cannot know. */
static int allowed_cpus_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	struct cpuset left, taken;
	int r;

	*ret_why = NULL;
	if (!*before) {
		cpuset_clear(&left);
		for (unsigned cpu = 0; cpu < CPUSET_MAX; cpu++)
			(void)cpuset_add(&left, cpu);
	} else if (cpuset_parse_list(before, 0, &left, NULL) < 0) {
		return host_change_why(ret_why, -EINVAL, "the previous AllowedCPUs '%s' is not a CPU list", before);
	}
	r = union_of_wanted(wanted, &taken, ret_why);
	if (r < 0)
		return r;
	r = host_keeps_a_cpu("the host", &left, &taken, ret_why);
	if (r < 0)
		return r;
	cpuset_difference(&left, &taken);
	return cpuset_format_list(&left, ret_value);
}

const struct host_change_reader host_allowed_cpus_reader = {
	.kind = HOST_ALLOWED_CPUS,
	.shared = true,
	.read = allowed_cpus_read,
	.check = allowed_cpus_check,
	.combine = allowed_cpus_combine,
};

/* ---- workqueue-cpumask: the unbound workqueues' CPUs ---- */

static int workqueue_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	(void)c;
	return host_read_sysfs(ctx, HOST_WORKQUEUE_CPUMASK_PATH, ret_value);
}

static int workqueue_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	_cleanup_free_ char *now = NULL;
	struct cpuset wanted, online, has;
	int r;

	*ret_why = NULL;
	r = wanted_and_online(ctx, c, &wanted, &online, ret_why);
	if (r < 0)
		return r;
	r = host_read_sysfs(ctx, HOST_WORKQUEUE_CPUMASK_PATH, &now);
	if (r < 0)
		return host_change_why(ret_why, r, "cannot read %s: %s", HOST_WORKQUEUE_CPUMASK_PATH, strerror(-r));
	if (cpuset_parse_mask(now, &has, NULL) < 0)
		return host_change_why(ret_why, -EINVAL, "%s reads '%s', not a CPU mask", HOST_WORKQUEUE_CPUMASK_PATH,
				       now);
	cpuset_intersect(&has, &online);
	return host_keeps_a_cpu("the unbound workqueues", &has, &wanted, ret_why);
}

static int workqueue_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	struct cpuset left, taken;
	int r;

	*ret_why = NULL;
	if (cpuset_parse_mask(before, &left, NULL) < 0)
		return host_change_why(ret_why, -EINVAL, "the previous workqueue cpumask '%s' is not a CPU mask",
				       before);
	r = union_of_wanted(wanted, &taken, ret_why);
	if (r < 0)
		return r;
	r = host_keeps_a_cpu("the unbound workqueues", &left, &taken, ret_why);
	if (r < 0)
		return r;
	cpuset_difference(&left, &taken);
	return cpuset_format_mask(&left, ret_value);
}

const struct host_change_reader host_workqueue_cpumask_reader = {
	.kind = HOST_WORKQUEUE_CPUMASK,
	.shared = true,
	.read = workqueue_read,
	.check = workqueue_check,
	.combine = workqueue_combine,
};

/* ---- the planner ---- */

/* Whether the host has TARGET as an active unit; without a bus, assume so (the dry run shows them all). */
static int slice_active(struct host_context *ctx, const char *unit, bool *ret, char **ret_why)
{
	_cleanup_free_ char *state = NULL;
	int r;

	*ret = true;
	if (!ctx->bus)
		return 0;
	r = ctx->bus->ops->unit_state(ctx->bus->data, unit, &state, ret_why);
	if (r == -ENOENT) {
		*ret = false;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = streq(state, "active");
	return 0;
}

int host_cpus_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag)
{
	static const char *const slices[] = { HOST_CPUS_SLICES };
	_cleanup_free_ char *why = NULL, *wanted = NULL;
	struct cpuset cpus, online;
	int r;

	if (!vm->isolate_cpus)
		return 0;
	r = vm_cpus_resolve(vm->vm_cpus, domain_xml, domain_xml ? strlen(domain_xml) : 0, &cpus, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		diag_add(diag, "VM %s: isolate-cpus: %s", p->vm, why);
		return 0;
	}
	r = cpuset_read_online(ctx->sysfs_root, &online);
	if (r < 0) {
		diag_add(diag, "VM %s: isolate-cpus: cannot read the host's online CPUs: %s", p->vm, strerror(-r));
		return 0;
	}
	r = vm_cpus_check_online(&cpus, &online, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		diag_add(diag, "VM %s: isolate-cpus: %s", p->vm, why);
		return 0;
	}
	r = cpuset_format_list(&cpus, &wanted);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(slices); i++) {
		_cleanup_free_ char *bus_why = NULL;
		bool active;

		r = slice_active(ctx, slices[i], &active, &bus_why);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			diag_add(diag, "VM %s: isolate-cpus: cannot ask systemd about %s: %s", p->vm, slices[i],
				 bus_why ? bus_why : strerror(-r));
			continue;
		}
		if (active && (r = plan_add_host_change(p, HOST_ALLOWED_CPUS, slices[i], wanted)) < 0)
			return r;
	}
	return plan_add_host_change(p, HOST_WORKQUEUE_CPUMASK, "workqueue", wanted);
}

/* cpu-governor and energy-performance-preference (kinds HOST_CPU_GOVERNOR and HOST_CPU_EPP), the read side:
 * per CPU of the VM's vm-cpus, cpufreq's scaling_governor and energy_performance_preference under
 * devices/system/cpu/cpuN/cpufreq/. Shared: two VMs on one CPU must want the same value; the host's is
 * written back when the last of them stops. The EPP is planned (and so set) before the governor and restored
 * after it: intel_pstate refuses an EPP other than "performance" while the governor is "performance", and
 * switching the governor back does not restore the EPP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-governor.h"
#include "util.h"
#include "vmcpus.h"

/* The cpufreq attribute of C's CPU ("cpu3"): ATTR under devices/system/cpu/cpu3/cpufreq/. */
int cpufreq_relpath(const struct plan_host_change *c, const char *attr, char buf[static 128])
{
	int n = snprintf(buf, 128, "devices/system/cpu/%s/cpufreq/%s", c->target, attr);

	return n > 0 && n < 128 ? 0 : -ENAMETOOLONG;
}

static const char *value_attr(enum host_change_kind kind)
{
	return kind == HOST_CPU_GOVERNOR ? "scaling_governor" : "energy_performance_preference";
}

int cpufreq_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	char rel[128];
	int r = cpufreq_relpath(c, value_attr(c->kind), rel);

	return r < 0 ? r : host_read_sysfs(ctx, rel, ret_value);
}

/* Whether WORD is one of the blank-separated words of LIST. */
static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *w = list; *w;) {
		size_t len = strcspn(w, " \t\n");

		if (len == n && strncmp(w, word, n) == 0)
			return true;
		w += len;
		w += strspn(w, " \t\n");
	}
	return false;
}

static int cpufreq_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	const char *available = c->kind == HOST_CPU_GOVERNOR ? "scaling_available_governors"
							     : "energy_performance_available_preferences";
	const char *what = c->kind == HOST_CPU_GOVERNOR ? "governor" : "energy performance preference";
	_cleanup_free_ char *offered = NULL, *now = NULL;
	char rel[128];
	int r;

	r = cpufreq_relpath(c, available, rel);
	if (r >= 0)
		r = host_read_sysfs(ctx, rel, &offered);
	if (r == -ENOENT) {
		if (asprintf(ret_why, "%s has no cpufreq %s (%s/%s is missing: no scaling driver, or one without it)",
			     c->target, c->kind == HOST_CPU_GOVERNOR ? "governors" : "energy performance preferences",
			     ctx->sysfs_root, rel) < 0)
			*ret_why = NULL;
		return r;
	}
	if (r < 0)
		return r;
	if (!word_in(c->wanted, offered)) {
		if (asprintf(ret_why, "%s does not offer the %s %s (it offers: %s)", c->target, what, c->wanted,
			     offered) < 0)
			*ret_why = NULL;
		return -EINVAL;
	}
	/* Its value must be readable, to be written back on release. */
	return cpufreq_read(ctx, c, &now);
}

/* Every holder must want the same value: a CPU has one governor. */
static int cpufreq_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	for (char *const *w = wanted + 1; *w; w++)
		if (!streq(*w, wanted[0])) {
			if (asprintf(ret_why, "two VMs want different values on this CPU: %s and %s", wanted[0], *w) <
			    0)
				*ret_why = NULL;
			return -EBUSY;
		}
	*ret_value = strdup(wanted[0]);
	return *ret_value ? 0 : -ENOMEM;
}

const struct host_change_reader host_governor_reader = {
	.kind = HOST_CPU_GOVERNOR,
	.shared = true,
	.read = cpufreq_read,
	.check = cpufreq_check,
	.combine = cpufreq_combine,
};

const struct host_change_reader host_epp_reader = {
	.kind = HOST_CPU_EPP,
	.shared = true,
	.read = cpufreq_read,
	.check = cpufreq_check,
	.combine = cpufreq_combine,
};

/* One change of KIND per CPU of SET. */
static int plan_per_cpu(struct plan *p, enum host_change_kind kind, const struct cpuset *set, const char *wanted)
{
	for (int cpu = cpuset_next(set, 0); cpu >= 0; cpu = cpuset_next(set, (unsigned)cpu + 1)) {
		char target[16];
		int r;

		snprintf(target, sizeof(target), "cpu%d", cpu);
		r = plan_add_host_change(p, kind, target, wanted);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

int host_plan_cpu_governor(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
			   struct diag *diag)
{
	_cleanup_free_ char *why = NULL;
	struct cpuset set, online;
	int r;

	if (!vm->cpu_governor && !vm->energy_performance_preference)
		return 0;
	/* The configuration refuses either key without vm-cpus. */
	if (!vm->vm_cpus)
		return 0;
	r = vm_cpus_resolve(vm->vm_cpus, domain_xml, domain_xml ? strlen(domain_xml) : 0, &set, &why);
	if (r == -ENOMEM)
		return r;
	if (r >= 0) {
		r = cpuset_read_online(ctx->sysfs_root, &online);
		if (r >= 0)
			r = vm_cpus_check_online(&set, &online, &why);
		else if (asprintf(&why, "cannot read the host's online CPUs: %s", strerror(-r)) < 0)
			why = NULL;
		if (r == -ENOMEM)
			return r;
	}
	if (r < 0) {
		diag_add(diag, "VM %s: %s: %s", p->vm,
			 vm->cpu_governor ? "cpu-governor" : "energy-performance-preference", why ? why : strerror(-r));
		return 0;
	}
	r = 0;
	if (vm->energy_performance_preference)
		r = plan_per_cpu(p, HOST_CPU_EPP, &set, vm->energy_performance_preference);
	if (r >= 0 && vm->cpu_governor)
		r = plan_per_cpu(p, HOST_CPU_GOVERNOR, &set, vm->cpu_governor);
	return r;
}

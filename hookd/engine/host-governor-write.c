/* cpu-governor and energy-performance-preference, the write side (host-governor.h): write the value through
 * the kernel, then read it back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-governor.h"
#include "util.h"

static int cpufreq_write(struct host_context *ctx, const struct plan_host_change *c, const char *value, char **ret_why)
{
	const char *attr = c->kind == HOST_CPU_GOVERNOR ? "scaling_governor" : "energy_performance_preference";
	_cleanup_free_ char *now = NULL;
	char rel[128];
	int r;

	r = cpufreq_relpath(c, attr, rel);
	if (r >= 0)
		r = kernel_write(ctx->kernel, rel, value, ctx->timeout_ms);
	if (r < 0) {
		if (asprintf(ret_why, "cannot write %s to %s: %s", value, rel,
			     r == -EBUSY && c->kind == HOST_CPU_EPP
				     ? "the driver refuses it now (intel_pstate does under the performance governor)"
				     : strerror(-r)) < 0)
			*ret_why = NULL;
		return r;
	}
	r = cpufreq_read(ctx, c, &now);
	if (r >= 0 && !streq(now, value)) {
		if (asprintf(ret_why, "%s reads back as %s after writing %s", rel, now, value) < 0)
			*ret_why = NULL;
		return -EIO;
	}
	return r;
}

static int cpufreq_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	int r = cpufreq_write(ctx, c, value, ret_why);

	if (r >= 0) {
		free(c->applied);
		c->applied = strdup(value);
		if (!c->applied)
			return -ENOMEM;
	}
	return r;
}

static int cpufreq_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
			   char **ret_why)
{
	return cpufreq_write(ctx, c, value, ret_why);
}

const struct host_change_writer host_governor_writer = {
	.kind = HOST_CPU_GOVERNOR,
	.apply = cpufreq_apply,
	.restore = cpufreq_restore,
};

const struct host_change_writer host_epp_writer = {
	.kind = HOST_CPU_EPP,
	.apply = cpufreq_apply,
	.restore = cpufreq_restore,
};

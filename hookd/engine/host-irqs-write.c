/* Interrupt steering, the write side (host-irqs.h): /proc/irq/N/smp_affinity_list through proc_write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-changes.h"
#include "host-irqs.h"
#include "util.h"

static int irq_write(struct host_context *ctx, const char *irq, const char *value, char **ret_why)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (asprintf(&path, "irq/%s/smp_affinity_list", irq) < 0)
		return -ENOMEM;
	r = kernel_proc_write(ctx->kernel, path, value, ctx->timeout_ms);
	if (r < 0 && r != -EIO && r != -ENOENT &&
	    asprintf(ret_why, "writing %s to /proc/%s: %s", value, path, strerror(-r)) < 0)
		*ret_why = NULL;
	return r;
}

static int irq_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	char *applied;
	int r;

	*ret_why = NULL;
	r = irq_write(ctx, c->target, value, ret_why);
	/* A managed or per-CPU IRQ (-EIO), or one gone since the plan (-ENOENT): nothing changed, nothing to
	 * undo; the change says so and prepare goes on. */
	if (r == -EIO)
		applied = strdup(HOST_IRQ_REFUSED);
	else if (r == -ENOENT)
		applied = strdup("unchanged: the IRQ is gone");
	else if (r < 0)
		return r;
	else {
		/* The verify step: the kernel's affinity, not the write's word for it. */
		_cleanup_free_ char *back = NULL;
		struct cpuset wrote, shown;

		r = host_change_reader_for(HOST_IRQ_AFFINITY)->read(ctx, c, &back);
		if (r < 0)
			return host_change_why(ret_why, r, "cannot read back IRQ %s's affinity: %s", c->target,
					       strerror(-r));
		if (cpuset_parse_list(value, 0, &wrote, NULL) < 0 || cpuset_parse_list(back, 0, &shown, NULL) < 0 ||
		    !cpuset_equal(&wrote, &shown))
			return host_change_why(ret_why, -EIO, "IRQ %s's affinity reads %s after %s was written",
					       c->target, back, value);
		applied = strdup(value);
	}
	if (!applied)
		return -ENOMEM;
	free(c->applied);
	c->applied = applied;
	return 0;
}

static int irq_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value, char **ret_why)
{
	int r;

	*ret_why = NULL;
	r = irq_write(ctx, c->target, value, ret_why);
	/* Never moved (-EIO), or freed with its device's driver (-ENOENT): nothing to give back. */
	return r == -EIO || r == -ENOENT ? 0 : r;
}

const struct host_change_writer host_irq_affinity_writer = {
	.kind = HOST_IRQ_AFFINITY,
	.apply = irq_apply,
	.restore = irq_restore,
};

/* CPU isolation, the write side (host-cpus.h): writing a slice's AllowedCPUs and the workqueue cpumask, and
 * verifying what took. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-changes.h"
#include "host-cpus.h"
#include "util.h"

/* ---- allowed-cpus ---- */

/* Write VALUE's online CPUs as TARGET's AllowedCPUs and read it back; *ret_written (optional) is the list. An
 * empty VALUE (the slice had none set) is every online CPU: systemd does not apply an empty AllowedCPUs to a
 * running cgroup's cpuset, so an explicit full set is what gives the CPUs back. */
static int allowed_cpus_write(struct host_context *ctx, const char *target, const char *value, char **ret_written,
			      char **ret_why)
{
	_cleanup_free_ char *list = NULL, *back = NULL;
	struct cpuset set, online, back_set;
	int r;

	if (!ctx->bus)
		return host_change_why(ret_why, -EOPNOTSUPP, "no systemd bus to set AllowedCPUs on");
	r = cpuset_read_online(ctx->sysfs_root, &online);
	if (r < 0)
		return host_change_why(ret_why, r, "cannot read the host's online CPUs: %s", strerror(-r));
	if (!*value)
		set = online;
	else if (cpuset_parse_list(value, 0, &set, NULL) < 0)
		return host_change_why(ret_why, -EINVAL, "'%s' is not a CPU list", value);
	else
		cpuset_intersect(&set, &online);
	if (cpuset_is_empty(&set))
		return host_change_why(ret_why, -EBUSY, "AllowedCPUs '%s' leaves %s no online CPU", value, target);
	r = cpuset_format_list(&set, &list);
	if (r < 0)
		return r;
	r = ctx->bus->ops->set_allowed_cpus(ctx->bus->data, target, list, ret_why);
	if (r < 0)
		return r;
	r = ctx->bus->ops->get_allowed_cpus(ctx->bus->data, target, &back, ret_why);
	if (r < 0)
		return r;
	if (cpuset_parse_list(back, 0, &back_set, NULL) < 0 || !cpuset_equal(&back_set, &set))
		return host_change_why(ret_why, -EIO, "systemd shows AllowedCPUs '%s' after setting '%s'", back, list);
	if (ret_written)
		*ret_written = TAKE_PTR(list);
	return 0;
}

static int allowed_cpus_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	_cleanup_free_ char *written = NULL;
	int r;

	*ret_why = NULL;
	r = allowed_cpus_write(ctx, c->target, value, &written, ret_why);
	if (r < 0)
		return r;
	free(c->applied);
	c->applied = TAKE_PTR(written);
	return 0;
}

static int allowed_cpus_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
				char **ret_why)
{
	*ret_why = NULL;
	return allowed_cpus_write(ctx, c->target, value, NULL, ret_why);
}

const struct host_change_writer host_allowed_cpus_writer = {
	.kind = HOST_ALLOWED_CPUS,
	.apply = allowed_cpus_apply,
	.restore = allowed_cpus_restore,
};

/* ---- workqueue-cpumask ---- */

/* Write the mask VALUE and read it back: the kernel may keep fewer CPUs than written (it drops the CPUs that
 * isolcpus= or nohz_full= took), never more. */
static int workqueue_write(struct host_context *ctx, const char *value, char **ret_why)
{
	_cleanup_free_ char *back = NULL;
	struct cpuset set, back_set;
	int r;

	if (cpuset_parse_mask(value, &set, NULL) < 0 || cpuset_is_empty(&set))
		return host_change_why(ret_why, -EINVAL, "'%s' is not a CPU mask with a CPU in it", value);
	r = kernel_write(ctx->kernel, HOST_WORKQUEUE_CPUMASK_PATH, value, ctx->timeout_ms);
	if (r < 0)
		return host_change_why(ret_why, r, "writing %s to %s: %s", value, HOST_WORKQUEUE_CPUMASK_PATH,
				       strerror(-r));
	r = host_read_sysfs(ctx, HOST_WORKQUEUE_CPUMASK_PATH, &back);
	if (r < 0)
		return host_change_why(ret_why, r, "reading %s back: %s", HOST_WORKQUEUE_CPUMASK_PATH, strerror(-r));
	if (cpuset_parse_mask(back, &back_set, NULL) < 0 || !cpuset_is_subset(&back_set, &set) ||
	    cpuset_is_empty(&back_set))
		return host_change_why(ret_why, -EIO, "%s reads '%s' after writing '%s'", HOST_WORKQUEUE_CPUMASK_PATH,
				       back, value);
	return 0;
}

static int workqueue_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	char *applied;
	int r;

	*ret_why = NULL;
	r = workqueue_write(ctx, value, ret_why);
	if (r < 0)
		return r;
	applied = strdup(value);
	if (!applied)
		return -ENOMEM;
	free(c->applied);
	c->applied = applied;
	return 0;
}

static int workqueue_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
			     char **ret_why)
{
	(void)c;
	*ret_why = NULL;
	return workqueue_write(ctx, value, ret_why);
}

const struct host_change_writer host_workqueue_cpumask_writer = {
	.kind = HOST_WORKQUEUE_CPUMASK,
	.apply = workqueue_apply,
	.restore = workqueue_restore,
};

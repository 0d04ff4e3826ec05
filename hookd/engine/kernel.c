/* The running kernel behind struct kernel_ops, its read side: module state through libkmod (modules.c), and a
 * read-only kernel for hookctl whose changes are refused. The writes themselves (sysfs under deadlines, module
 * loads and unloads under deadlines) are in kernel-write.c, the engine's write side. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"
#include "kernel-internal.h"
#include "modules.h"
#include "util.h"

void running_kernel_unref(void *data)
{
	struct running_kernel *rk = data;

	if (atomic_fetch_sub(&rk->refs, 1) != 1)
		return;
	modules_free(rk->modules);
	pthread_mutex_destroy(&rk->kmod_lock);
	free(rk->sysfs_root);
	free(rk->proc_root);
	free(rk);
}

int running_kernel_kmod_context(struct running_kernel *rk, struct modules **ret)
{
	int r = 0;

	if (!rk->modules)
		r = modules_new(&rk->modules);
	*ret = rk->modules;
	return r;
}

int running_module_info(void *data, const char *name, struct module_info *ret, unsigned timeout_ms)
{
	struct running_kernel *rk = data;
	struct timespec deadline = monotonic_timespec_after_ms(timeout_ms);
	struct modules *m;
	int r;

	/* Reading /sys/module does not block; only a load or unload past its deadline can hold the lock. */
	r = -pthread_mutex_clocklock(&rk->kmod_lock, CLOCK_MONOTONIC, &deadline);
	if (r < 0)
		return r;
	r = running_kernel_kmod_context(rk, &m);
	if (r >= 0)
		r = modules_inspect(m, name, ret);
	pthread_mutex_unlock(&rk->kmod_lock);
	return r;
}

/* The read-only kernel refuses every change. */
static int refuse_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	return -EROFS;
}

static int refuse_module_change(void *data, const char *name, unsigned timeout_ms)
{
	return -EROFS;
}

static const struct kernel_ops read_only_ops = {
	.sysfs_write = refuse_write,
	.proc_write = refuse_write,
	.sysfs_write_stoppable = refuse_write,
	.module_info = running_module_info,
	.module_unload = refuse_module_change,
	.module_load = refuse_module_change,
};

int running_kernel_new(const char *sysfs_root, const char *proc_root, bool change_modules, const struct kernel_ops *ops,
		       struct kernel *ret)
{
	struct running_kernel *rk = calloc(1, sizeof(*rk));

	if (!rk)
		return -ENOMEM;
	rk->sysfs_root = strdup(sysfs_root);
	rk->proc_root = strdup(proc_root);
	if (!rk->sysfs_root || !rk->proc_root) {
		free(rk->sysfs_root);
		free(rk->proc_root);
		free(rk);
		return -ENOMEM;
	}
	atomic_init(&rk->refs, 1);
	rk->change_modules = change_modules;
	pthread_mutex_init(&rk->kmod_lock, NULL);
	*ret = (struct kernel){ .ops = ops, .data = rk };
	return 0;
}

int kernel_read_only_new(const char *sysfs_root, const char *proc_root, struct kernel *ret)
{
	return running_kernel_new(sysfs_root, proc_root, false, &read_only_ops, ret);
}

void kernel_running_free(struct kernel *k)
{
	if (!k || !k->data)
		return;
	running_kernel_unref(k->data);
	*k = (struct kernel){ 0 };
}

bool kernel_sysfs_root_is_live(const char *sysfs_root)
{
	char resolved[PATH_MAX];

	return realpath(sysfs_root, resolved) && streq(resolved, "/sys");
}

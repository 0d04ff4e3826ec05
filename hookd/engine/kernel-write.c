/* The running kernel's changes behind struct kernel_ops: sysfs writes under deadlines (pci.c; the stoppable
 * ones in stoppable-write.c), module loads and unloads through libkmod (modules-write.c) under deadlines too
 * (deadline.c). The engine's write side: hookctl never links it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "deadline.h"
#include "kernel.h"
#include "kernel-internal.h"
#include "modules.h"
#include "pci.h"
#include "stoppable-write.h"
#include "util.h"

static int running_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct running_kernel *rk = data;

	return sysfs_write(rk->sysfs_root, relpath, value, timeout_ms);
}

/* /proc files take the same plain write under the same deadline (compact_memory can take a while). */
static int running_proc_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct running_kernel *rk = data;

	return sysfs_write(rk->proc_root, relpath, value, timeout_ms);
}

/* nr_hugepages and a node's compact: in a child process, stopped at the deadline. */
static int running_write_stoppable(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct running_kernel *rk = data;

	return sysfs_write_stoppable(rk->sysfs_root, relpath, value, timeout_ms);
}

/* On the module thread: ACTION "load" or "unload" of NAME. */
static int module_job(void *data, const char *name, const char *action)
{
	struct running_kernel *rk = data;
	struct modules *m;
	int r;

	pthread_mutex_lock(&rk->kmod_lock);
	r = running_kernel_kmod_context(rk, &m);
	if (r >= 0 && streq(action, "unload"))
		r = modules_unload(m, name);
	else if (r >= 0)
		r = modules_is_loaded(m, name) ? 0 : modules_load(m, name);
	pthread_mutex_unlock(&rk->kmod_lock);
	return r;
}

static int module_change(struct running_kernel *rk, const char *name, const char *action, unsigned timeout_ms)
{
	if (!rk->change_modules)
		return 0;
	atomic_fetch_add(&rk->refs, 1); /* the thread's, let go by running_kernel_unref */
	return call_with_deadline(module_job, running_kernel_unref, rk, name, action, timeout_ms);
}

static int running_module_unload(void *data, const char *name, unsigned timeout_ms)
{
	return module_change(data, name, "unload", timeout_ms);
}

static int running_module_load(void *data, const char *name, unsigned timeout_ms)
{
	return module_change(data, name, "load", timeout_ms);
}

static const struct kernel_ops running_ops = {
	.sysfs_write = running_write,
	.proc_write = running_proc_write,
	.sysfs_write_stoppable = running_write_stoppable,
	.module_info = running_module_info,
	.module_unload = running_module_unload,
	.module_load = running_module_load,
};

int kernel_running_new(const char *sysfs_root, const char *proc_root, bool change_modules, struct kernel *ret)
{
	return running_kernel_new(sysfs_root, proc_root, change_modules, &running_ops, ret);
}

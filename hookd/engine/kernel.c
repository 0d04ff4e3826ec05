/* The running kernel behind struct kernel_ops: sysfs writes under deadlines (pci.c), modules through libkmod
 * (modules.c), loads and unloads under deadlines too (deadline.c). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "deadline.h"
#include "kernel.h"
#include "modules.h"
#include "pci.h"
#include "util.h"

/* Shared with the module threads: a load that missed its deadline outlives kernel_running_free(). */
struct running_kernel {
	atomic_int refs;
	char *sysfs_root;
	bool change_modules;
	pthread_mutex_t kmod_lock;  /* a kmod context is not thread-safe */
	struct modules *modules;    /* made on first use: hookctl and tests without modules never need it */
};

static void running_unref(void *data)
{
	struct running_kernel *rk = data;

	if (atomic_fetch_sub(&rk->refs, 1) != 1)
		return;
	modules_free(rk->modules);
	pthread_mutex_destroy(&rk->kmod_lock);
	free(rk->sysfs_root);
	free(rk);
}

static int running_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct running_kernel *rk = data;

	return sysfs_write(rk->sysfs_root, relpath, value, timeout_ms);
}

/* The kmod context, made on first use (kmod_lock held); its own failure (no module tree) is returned. */
static int kmod_context(struct running_kernel *rk, struct modules **ret)
{
	int r = 0;

	if (!rk->modules)
		r = modules_new(&rk->modules);
	*ret = rk->modules;
	return r;
}

static int running_module_info(void *data, const char *name, struct module_info *ret, unsigned timeout_ms)
{
	struct running_kernel *rk = data;
	struct timespec deadline = monotonic_timespec_after_ms(timeout_ms);
	struct modules *m;
	int r;

	/* Reading /sys/module does not block; only a load or unload past its deadline can hold the lock. */
	r = -pthread_mutex_clocklock(&rk->kmod_lock, CLOCK_MONOTONIC, &deadline);
	if (r < 0)
		return r;
	r = kmod_context(rk, &m);
	if (r >= 0)
		r = modules_inspect(m, name, ret);
	pthread_mutex_unlock(&rk->kmod_lock);
	return r;
}

/* On the module thread: ACTION "load" or "unload" of NAME. */
static int module_job(void *data, const char *name, const char *action)
{
	struct running_kernel *rk = data;
	struct modules *m;
	int r;

	pthread_mutex_lock(&rk->kmod_lock);
	r = kmod_context(rk, &m);
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
	atomic_fetch_add(&rk->refs, 1); /* the thread's, let go by running_unref */
	return call_with_deadline(module_job, running_unref, rk, name, action, timeout_ms);
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
	.module_info = running_module_info,
	.module_unload = running_module_unload,
	.module_load = running_module_load,
};

int kernel_running_new(const char *sysfs_root, bool change_modules, struct kernel *ret)
{
	struct running_kernel *rk = calloc(1, sizeof(*rk));

	if (!rk)
		return -ENOMEM;
	rk->sysfs_root = strdup(sysfs_root);
	if (!rk->sysfs_root) {
		free(rk);
		return -ENOMEM;
	}
	atomic_init(&rk->refs, 1);
	rk->change_modules = change_modules;
	pthread_mutex_init(&rk->kmod_lock, NULL);
	*ret = (struct kernel){ .ops = &running_ops, .data = rk };
	return 0;
}

void kernel_running_free(struct kernel *k)
{
	if (!k || !k->data)
		return;
	running_unref(k->data);
	*k = (struct kernel){ 0 };
}

bool kernel_sysfs_root_is_live(const char *sysfs_root)
{
	char resolved[PATH_MAX];

	return realpath(sysfs_root, resolved) && streq(resolved, "/sys");
}

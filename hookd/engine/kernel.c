/* The running kernel behind struct kernel_ops: sysfs writes under deadlines (pci.c), modules through libkmod
 * (modules.c). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "modules.h"
#include "pci.h"
#include "util.h"

struct running_kernel {
	char *sysfs_root;
	bool change_modules;
	pthread_mutex_t kmod_lock;  /* a kmod context is not thread-safe */
	struct modules *modules;    /* made on first use: hookctl and tests without modules never need it */
};

static int running_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct running_kernel *rk = data;

	return sysfs_write(rk->sysfs_root, relpath, value, timeout_ms);
}

/* Run FN on the kmod context under the lock; the context's own failure (no module tree) is FN's result. */
static int with_kmod(struct running_kernel *rk, int (*fn)(struct modules *m, const char *name, void *out),
		     const char *name, void *out)
{
	int r = 0;

	pthread_mutex_lock(&rk->kmod_lock);
	if (!rk->modules)
		r = modules_new(&rk->modules);
	if (r >= 0)
		r = fn(rk->modules, name, out);
	pthread_mutex_unlock(&rk->kmod_lock);
	return r;
}

static int inspect(struct modules *m, const char *name, void *out)
{
	return modules_inspect(m, name, out);
}

static int unload(struct modules *m, const char *name, void *out)
{
	(void)out;
	return modules_unload(m, name);
}

static int load_if_absent(struct modules *m, const char *name, void *out)
{
	(void)out;
	return modules_is_loaded(m, name) ? 0 : modules_load(m, name);
}

static int running_module_info(void *data, const char *name, struct module_info *ret)
{
	return with_kmod(data, inspect, name, ret);
}

static int running_module_unload(void *data, const char *name)
{
	struct running_kernel *rk = data;

	return rk->change_modules ? with_kmod(rk, unload, name, NULL) : 0;
}

static int running_module_load(void *data, const char *name)
{
	struct running_kernel *rk = data;

	return rk->change_modules ? with_kmod(rk, load_if_absent, name, NULL) : 0;
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
	rk->change_modules = change_modules;
	pthread_mutex_init(&rk->kmod_lock, NULL);
	*ret = (struct kernel){ .ops = &running_ops, .data = rk };
	return 0;
}

void kernel_running_free(struct kernel *k)
{
	struct running_kernel *rk = k ? k->data : NULL;

	if (!rk)
		return;
	modules_free(rk->modules);
	pthread_mutex_destroy(&rk->kmod_lock);
	free(rk->sysfs_root);
	free(rk);
	*k = (struct kernel){ 0 };
}

bool kernel_sysfs_root_is_live(const char *sysfs_root)
{
	char resolved[PATH_MAX];

	return realpath(sysfs_root, resolved) && streq(resolved, "/sys");
}

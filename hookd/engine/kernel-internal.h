/* What kernel.c (the running kernel's reads, the read-only kernel) and kernel-write.c (its writes) share. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kernel.h"
#include "modules.h"

/* Shared with the module threads: a load that missed its deadline outlives kernel_running_free(). */
struct running_kernel {
	atomic_int refs;
	char *sysfs_root;
	char *proc_root;
	bool change_modules;
	pthread_mutex_t kmod_lock; /* a kmod context is not thread-safe */
	struct modules *modules;   /* made on first use: hookctl and tests without modules never need it */
};

/* A running kernel behind OPS, with its sysfs at SYSFS_ROOT and its /proc at PROC_ROOT (copied). Free with kernel_running_free. 0 or
 * -ENOMEM. */
int running_kernel_new(const char *sysfs_root, const char *proc_root, bool change_modules, const struct kernel_ops *ops,
		       struct kernel *ret);
/* Drop one reference; the last frees it. */
void running_kernel_unref(void *data);
/* The kmod context, made on first use (kmod_lock held); its own failure (no module tree) is returned. */
int running_kernel_kmod_context(struct running_kernel *rk, struct modules **ret);
/* module_info of the running kernel (libkmod), for both kernels' operation tables. */
int running_module_info(void *data, const char *name, struct module_info *ret, unsigned timeout_ms);

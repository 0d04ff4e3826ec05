/* What engine.c and engine-status.c share; nothing outside the engine includes this. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "modules.h"
#include "topology.h"

struct engine {
	char *sysfs_root;
	char *proc_root;
	char *run_dir;
	unsigned sysfs_timeout_ms;
	unsigned operation_timeout_ms;
	struct topology topo;
	/* Module loads and unloads act on the running kernel, so they only happen when sysfs_root is the real
	 * /sys; against a fixture tree they are skipped. */
	bool real_kernel;
	pthread_mutex_t kmod_lock;  /* a kmod context is not thread-safe */
	struct modules *modules;    /* created on first use */
};

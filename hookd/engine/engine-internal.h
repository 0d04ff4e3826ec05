/* What engine.c and engine-status.c share; nothing outside the engine includes this. */
#pragma once

#include <stdbool.h>

#include "kernel.h"
#include "topology.h"

struct engine {
	char *sysfs_root;
	char *proc_root;
	char *run_dir;
	unsigned sysfs_timeout_ms;
	unsigned operation_timeout_ms;
	struct topology topo;
	struct kernel kernel;       /* carries out every write and module change */
	bool owns_kernel;           /* the running kernel, made by engine_new */
};

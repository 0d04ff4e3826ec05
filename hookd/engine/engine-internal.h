/* What engine.c and engine-status.c share; nothing outside the engine includes this. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "diag.h"
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
	/* VMs whose last journal write failed, with why ("win10: No space left on device"), so status says so
	 * while the journal on disk still shows an older state. Under journal_failures_lock. */
	pthread_mutex_t journal_failures_lock;
	struct diag journal_failures;
};

/* Remember (R < 0) or forget (R >= 0) a failed journal write for VM. */
void engine_note_journal(struct engine *e, const char *vm, int r);

/* What the engine's files share: engine-check.c (the read side), engine.c (the write side), engine-status.c
 * and engine-held.c. Nothing outside the engine includes this. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "diag.h"
#include "host-bus.h"
#include "kernel.h"
#include "topology.h"

struct engine {
	char *sysfs_root;
	char *proc_root;
	char *run_dir;
	unsigned sysfs_timeout_ms;
	unsigned operation_timeout_ms;
	struct topology topo;
	struct kernel kernel;		 /* carries out every write and module change */
	bool owns_kernel;		 /* the running kernel, made by engine_new */
	const struct host_bus *host_bus; /* opts->host_bus, &own_bus, or NULL (no bus) */
	struct host_bus own_bus;
	void (*close_own_bus)(struct host_bus *b); /* set by whoever opened own_bus (engine_new) */
	/* VMs whose last journal write failed, with why ("win10: No space left on device"), so status says so
	 * while the journal on disk still shows an older state. Under journal_failures_lock. */
	pthread_mutex_t journal_failures_lock;
	struct diag journal_failures;
};

/* Remember (R < 0) or forget (R >= 0) a failed journal write for VM. */
void engine_note_journal(struct engine *e, const char *vm, int r);

struct engine_options;
struct host_context;
struct plan;
struct vm_config;

/* The context of VM's host changes (host-changes.h) on E, each write or bus call bounded by TIMEOUT_MS.
 * Borrows E's strings: valid while E is. */
void engine_host_context(struct engine *e, const char *vm, unsigned timeout_ms, struct host_context *ret);

/* Makes the running kernel an engine acts on when its options name none: kernel_running_new (the write side)
 * or a read-only one (engine_new_read_only). */
typedef int (*running_kernel_fn)(const char *sysfs_root, const char *proc_root, bool change_modules,
				 struct kernel *ret);
/* engine_new() and engine_new_read_only(), but for the running kernel they make. */
int engine_new_with(const struct engine_options *opts, running_kernel_fn make_running_kernel, struct engine **ret);

/* The one path from configuration to a checked plan: prepare and the dry run both take it. The caller holds
 * the journal lock so claims cannot change underneath. 0, ENGINE_REFUSED with DIAG's lines (and the plan as
 * far as it could be made, or NULL), or -errno. WARNINGS gets what does not refuse (group members the host
 * uses); HOLDERS (may be NULL) every holder of every device, one line each (check_holders). */
int build_checked_plan(struct engine *e, const struct vm_config *vm, const char *xml, struct plan **ret,
		       struct diag *diag, struct diag *warnings, struct diag *holders);

/* The journal lock's deadline: whoever holds it only reads (claims, topology), so a wait this long means
 * something is wrong; better a clear refusal than a hang. */
static inline unsigned engine_lock_timeout_ms(const struct engine *e)
{
	return e->sysfs_timeout_ms;
}

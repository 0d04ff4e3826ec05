/* Kernel modules through libkmod: what a module's state is and the order to unload a set in (modules.c, the
 * engine's read side), unload and load (modules-write.c, the write side). Never KMOD_REMOVE_FORCE; loads apply
 * the blacklist (modprobe -b). Functions return 0 or -errno unless they say otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct modules;

int modules_new(struct modules **ret);
void modules_free(struct modules *m);
static inline void modules_freep(struct modules **m)
{
	modules_free(*m);
}

enum module_state {
	MODULE_ABSENT,	/* not loaded (or unknown): nothing to unload, not an error */
	MODULE_BUILTIN, /* compiled into the kernel: cannot be unloaded, not an error */
	MODULE_LIVE,
	MODULE_BUSY, /* coming or going */
};

struct module_info {
	char *name; /* normalized: '-' -> '_' */
	enum module_state state;
	int refcnt;	/* includes one reference per holder */
	char **holders; /* NULL-terminated */
};

void module_info_clear(struct module_info *i);
int modules_inspect(struct modules *m, const char *name, struct module_info *ret);

/* Pure: the order to unload MODS in (indices into MODS, live ones only), holders before what they hold.
 * A holder outside the set, or a module used by something other than its holders, is a problem added to
 * DIAG as "VM <vm>: module X: ..."; returns -EBUSY then. *n_order <= n. */
int modules_unload_order(const char *vm, const struct module_info *mods, size_t n, size_t *order, size_t *n_order,
			 struct diag *diag);

/* The write side. */

/* Remove one module (never its dependencies). -EBUSY when it is in use; 0 when it is not loaded. */
int modules_unload(struct modules *m, const char *name);
/* Load NAME (a module name or alias, e.g. "vfio-pci") with its dependencies, honouring the blacklist;
 * 0 when it is already loaded or built in. -ENOENT when no such module, -EPERM when blacklisted. */
int modules_load(struct modules *m, const char *name);
bool modules_is_loaded(struct modules *m, const char *name);

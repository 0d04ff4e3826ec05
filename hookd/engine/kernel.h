/* The kernel the engine acts on. Every sysfs write and every module change the engine makes goes through one
 * of these operations; reads go through topology. The running kernel is the default; tests put a fake kernel
 * behind the engine instead (tests/unit/fake-kernel.h), which applies the kernel's semantics to a fixture
 * tree, so every branch of prepare and release can be reached in a unit test. */
#pragma once

#include <stdbool.h>

#include "modules.h"

struct kernel_ops {
	/* Write VALUE to the sysfs attribute RELPATH (relative to the sysfs root), waiting at most TIMEOUT_MS.
	 * 0 when the write returned success; -errno of the write; -ETIMEDOUT when it had not returned by then:
	 * it goes on in the kernel (holding the device lock, for an unbind or a probe) and its outcome must be
	 * read from the tree later. */
	int (*sysfs_write)(void *data, const char *relpath, const char *value, unsigned timeout_ms);
	/* Write VALUE to the /proc file RELPATH (relative to the proc root: "sys/vm/compact_memory",
	 * "irq/24/smp_affinity_list"), waiting at most TIMEOUT_MS; results as sysfs_write. Host changes only
	 * (host-changes.h): the device moves never write /proc. */
	int (*proc_write)(void *data, const char *relpath, const char *value, unsigned timeout_ms);
	/* Write VALUE to the sysfs attribute RELPATH as sysfs_write, for a write the kernel can stop part-way
	 * and keep what it did (nr_hugepages, a node's compact): one not done by TIMEOUT_MS is STOPPED, not
	 * left to run on, and -ETIMEDOUT is returned once it has stopped (stoppable-write.h); what it did
	 * before is read from the tree. -EINPROGRESS when it would not stop (its outcome may still change).
	 * Other results as sysfs_write. */
	int (*sysfs_write_stoppable)(void *data, const char *relpath, const char *value, unsigned timeout_ms);
	/* State, reference count and holders of module NAME, as modules_inspect(). -errno when the module
	 * state cannot be read at all (no module tree for the running kernel); -ETIMEDOUT when a module load
	 * or unload that missed its deadline still holds the module machinery after TIMEOUT_MS. */
	int (*module_info)(void *data, const char *name, struct module_info *ret, unsigned timeout_ms);
	/* Remove module NAME, never its dependencies and never forced. 0 when it was not loaded; -EBUSY when
	 * it is in use; -ETIMEDOUT when it had not finished after TIMEOUT_MS (a driver's remove() blocks). */
	int (*module_unload)(void *data, const char *name, unsigned timeout_ms);
	/* Load NAME (a module name or an alias such as "vfio-pci") and its dependencies, honouring the
	 * blacklist. 0 when it is loaded or built in already; -ENOENT when there is no such module; -EPERM
	 * when it is blacklisted; -ETIMEDOUT when it had not finished after TIMEOUT_MS: a module's init
	 * probes the devices its drivers match, and such a probe can block or fail like one from
	 * drivers_probe. */
	int (*module_load)(void *data, const char *name, unsigned timeout_ms);
};

struct kernel {
	const struct kernel_ops *ops;
	void *data; /* passed to every operation; owned by whoever made the kernel */
};

/* The running kernel with its sysfs at SYSFS_ROOT and its /proc at PROC_ROOT (both copied): each write, module load and unload on its own
 * thread under its deadline, modules through libkmod (one context, made on first use, calls serialized).
 * With CHANGE_MODULES false, module_unload and module_load change nothing and return 0 (module_info still
 * asks the running kernel): for a SYSFS_ROOT that is a fixture tree, whose modules would be the host's.
 * Free with kernel_running_free. */
int kernel_running_new(const char *sysfs_root, const char *proc_root, bool change_modules, struct kernel *ret);
void kernel_running_free(struct kernel *k);
/* The running kernel for a reader (hookctl): module_info asks libkmod, every write and module change is
 * refused with -EROFS. It is all the engine's read side links (kernel.c); kernel_running_new is in the write
 * side (kernel-write.c). Free with kernel_running_free. 0 or -ENOMEM. */
int kernel_read_only_new(const char *sysfs_root, const char *proc_root, struct kernel *ret);

/* True when SYSFS_ROOT resolves to /sys: the tree the running kernel's modules belong to. */
bool kernel_sysfs_root_is_live(const char *sysfs_root);

static inline int kernel_write(const struct kernel *k, const char *relpath, const char *value, unsigned timeout_ms)
{
	return k->ops->sysfs_write(k->data, relpath, value, timeout_ms);
}

static inline int kernel_write_stoppable(const struct kernel *k, const char *relpath, const char *value,
					 unsigned timeout_ms)
{
	return k->ops->sysfs_write_stoppable(k->data, relpath, value, timeout_ms);
}

static inline int kernel_proc_write(const struct kernel *k, const char *relpath, const char *value, unsigned timeout_ms)
{
	return k->ops->proc_write(k->data, relpath, value, timeout_ms);
}

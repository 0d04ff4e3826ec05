/* The device engine: the only place that decides what happens to a VM's devices.
 * plan -> check -> apply -> (rollback) on prepare; release from the journal.
 * Every call blocks (sysfs writes, module loads) and is safe to make from several threads for different VMs;
 * the daemon runs each call on a worker thread so the event loop keeps answering. Calls for one VM are
 * serialized by the daemon. */
#pragma once

#include <json-c/json.h>

#include "config.h"
#include "host-bus.h"
#include "kernel.h"

struct engine_options {
	const char *sysfs_root;	       /* "/sys", or a test tree */
	const char *run_dir;	       /* journals live in RUN_DIR/state/ */
	unsigned sysfs_timeout_ms;     /* deadline for one blocking sysfs write */
	unsigned operation_timeout_ms; /* deadline for one whole prepare or release */
	const char *proc_root;	       /* "/proc" when NULL; tests fake mountinfo and swaps */
	/* Who carries out the writes and the module changes. NULL: the running kernel, with its sysfs at
	 * sysfs_root. Tests pass a fake kernel that keeps the sysfs_root tree as the kernel would
	 * (tests/unit/fake-kernel.h); not owned, it must outlive the engine. */
	const struct kernel *kernel;
	/* With the running kernel only: carry out module unloads and loads (unload-modules, vfio-pci, the
	 * drivers' modules on release). false plans and journals them but changes no module: for a
	 * sysfs_root that is a fixture tree, whose modules would be the host's. See
	 * kernel_sysfs_root_is_live(). */
	bool change_modules;
	/* systemd and logind for the host changes (units stopped, sessions, the inhibitor, AllowedCPUs). NULL:
	 * engine_new opens the running system's bus (host_bus_system_open; for a sysfs_root that is not
	 * live, host_bus_read_only_open: a fixture tree's VMs never change the host), engine_new_read_only
	 * has none.
	 * Tests pass tests/unit/fake-host-bus.h's; not owned, it must outlive the engine. */
	const struct host_bus *host_bus;
};

struct engine;

/* An engine that can do everything below (the write side, engine.c: hookd, engine-tool, the tests). Without
 * opts->kernel it acts on the running kernel. -EINVAL without sysfs_root or run_dir, -ENOMEM. */
int engine_new(const struct engine_options *opts, struct engine **ret);
/* An engine for a reader (hookctl): engine_check and engine_status work; without opts->kernel every write
 * is refused (-EROFS). Only the read side is linked (engine-check.c), so a program that calls nothing else
 * carries no sysfs writer and no module unload. */
int engine_new_read_only(const struct engine_options *opts, struct engine **ret);
void engine_free(struct engine *e);

/* Read every journal under RUN_DIR/state at start-up, so status tells the truth after a crash, and take
 * again, for each VM still prepared, what the earlier hookd's process held for it (its sleep inhibitor:
 * host_change_writer.resume; a failure is logged, not returned). */
int engine_recover(struct engine *e);

/* The checks' verdict "refused before anything was changed": a positive result, so that no -errno can be
 * mistaken for it (kmod's probe returns > 0 the same way). */
#define ENGINE_REFUSED 1

/* Move the VM's devices to vfio-pci. domain_xml may be NULL (hookctl prepare) when the config does not ask
 * for devices-from-xml. Returns 0 when done; ENGINE_REFUSED when the checks refused it and nothing was
 * touched; -errno when it failed, possibly part-way, in which case everything done has been undone as far as
 * possible. Unless 0, *ret_message is one line naming the VM, the device or setting at fault and the reason
 * (caller frees). */
int engine_prepare(struct engine *e, const struct vm_config *vm, const char *domain_xml, char **ret_message);

/* Give the VM's devices back, from what its journal says was done. Idempotent: with no journal, 0.
 * Every device is tried, even when the journal cannot be written; *ret_message lists what failed, and what
 * could not be recorded. 0 or -errno. */
int engine_release(struct engine *e, const char *vm_name, char **ret_message);

/* The plan prepare would carry out and whether it would be refused, without touching anything:
 * {"vm": "...", "ok": true, "problems": ["VM ...: reason", ...], "warnings": ["VM ...: the host loses ...", ...],
 *  "holders": ["VM win10: 0000:0a:00.0 (gpu) is in use by pid 1234 (Xorg, user alice,
 *              display-manager.service): /dev/dri/card0", ...], "plan": {...} or null,
 *  "host_changes": [{"kind": "cpu-governor", "target": "cpu3", "wanted": "performance", "now": "powersave",
 *                    "shared_with": ["nas"], ...}] (present with a plan; host_changes_to_json)}.
 * Problems refuse (a held device is one line there, naming its first holder); warnings (group members the host
 * uses, processes that could not be read) do not; holders lists every holder of every device. 0 or -errno. */
int engine_check(struct engine *e, const struct vm_config *vm, const char *domain_xml, json_object **ret);

/* Device states for one VM (vm_name) or all (NULL), as JSON. Never waits on a device's lock: a
 * driver_override that cannot be read within a short deadline shows the device as moving.
 * {"vms": [{"name": "...", "state": "on-host|prepared|preparing|releasing|stuck|partial",
 *           "devices": [{"address": "0000:0a:00.0", "driver": "vfio-pci", "original_driver": "nvidia",
 *                        "iommu_group": 28, "state": "on-host|on-vfio|moving|no-driver|stuck|missing"}],
 *           "modules_unloaded": ["..."], "console_released": false, "error": "...",
 *           "host_changes": [{"kind", "target", "wanted", "before", "applied", "step", "shared_with": []}]}]}
 * A device's state compares its live driver with its original one: "no-driver" is a device left without
 * the driver it had, and the VM's error then names the command that gives it one. */
int engine_status(struct engine *e, const char *vm_name, json_object **ret);

/* What one VM's journal says hookd holds, read without touching sysfs (engine-held.c). */
struct engine_held_device {
	char address[13];
	char *name;
	int iommu_group;
	bool held; /* moved (or moving) and not yet given back */
};
struct engine_held_vm {
	char *name;
	const char *phase; /* "preparing", "prepared", "failed", "releasing" (static) */
	struct engine_held_device *devices;
	size_t n_devices;
	int *iommu_groups; /* the distinct IOMMU groups of the held devices */
	size_t n_groups;
	bool holds_modules; /* modules unloaded and not yet reloaded */
	bool holds_console; /* the console released and not yet restored */
	/* a host change (AllowedCPUs, hugepages, a stopped unit, ...) made or being made and not yet restored:
	 * a release killed after the devices were back still holds the host's */
	bool holds_host_changes;
};
/* Every VM with a journal, from the journals alone (never blocks on a device). Free with
 * engine_held_vms_free(). Unreadable journals are left out. 0 or -errno. */
int engine_held_vms(struct engine *e, struct engine_held_vm **ret, size_t *ret_n);
void engine_held_vms_free(struct engine_held_vm *v, size_t n);

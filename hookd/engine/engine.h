/* The device engine: the only place that decides what happens to a VM's devices.
 * plan -> check -> apply -> (rollback) on prepare; release from the journal.
 * Every call blocks (sysfs writes, module loads) and is safe to make from several threads for different VMs;
 * the daemon runs each call on a worker thread so the event loop keeps answering. Calls for one VM are
 * serialized by the daemon. */
#pragma once

#include <json-c/json.h>

#include "config.h"

struct engine_options {
	const char *sysfs_root;         /* "/sys", or a test tree */
	const char *run_dir;            /* journals live in RUN_DIR/state/ */
	unsigned sysfs_timeout_ms;      /* deadline for one blocking sysfs write */
	unsigned operation_timeout_ms;  /* deadline for one whole prepare or release */
	const char *proc_root;          /* "/proc" when NULL; tests fake mountinfo and swaps */
};

struct engine;

int engine_new(const struct engine_options *opts, struct engine **ret);
void engine_free(struct engine *e);

/* Read every journal under RUN_DIR/state at start-up, so status tells the truth after a crash. */
int engine_recover(struct engine *e);

/* Move the VM's devices to vfio-pci. domain_xml may be NULL (hookctl prepare) when the config does not ask
 * for devices-from-xml. On failure everything done is undone, and *ret_message is one line naming the VM,
 * the device or setting at fault and the reason (caller frees). -EPERM-like refusals (nothing was touched)
 * return -EBUSY or -EINVAL; failures part-way return other -errno. */
int engine_prepare(struct engine *e, const struct vm_config *vm, const char *domain_xml, char **ret_message);

/* Give the VM's devices back, from what its journal says was done. Idempotent: with no journal, 0.
 * Every device is tried; *ret_message lists what failed. */
int engine_release(struct engine *e, const char *vm_name, char **ret_message);

/* The plan prepare would carry out and whether it would be refused, without touching anything. */
int engine_check(struct engine *e, const struct vm_config *vm, const char *domain_xml, json_object **ret);

/* Device states for one VM (vm_name) or all (NULL), as JSON:
 * {"vms": [{"name": "...", "state": "on-host|prepared|preparing|releasing|stuck|partial",
 *           "devices": [{"address": "0000:0a:00.0", "driver": "vfio-pci", "original_driver": "nvidia",
 *                        "iommu_group": 28, "state": "on-host|on-vfio|moving|stuck"}],
 *           "modules_unloaded": ["..."], "console_released": false, "error": "..." }]} */
int engine_status(struct engine *e, const char *vm_name, json_object **ret);

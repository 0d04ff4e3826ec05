/* Issue 13's CPU isolation as host changes (host-change.h): the CPUs a VM runs on (its vm-cpus) taken away
 * from the host's slices and from the unbound workqueues while any such VM runs.
 * - HOST_ALLOWED_CPUS, one per slice or scope the host has (system.slice, user.slice, init.scope; machine.slice,
 *   where the VMs run, is left alone): systemd's runtime AllowedCPUs over struct host_bus. Shared: the value
 *   written is the slice's previous value (unset: every CPU) minus every holder's CPUs, on the CPUs online;
 *   the last holder writes the previous value back, an unset one as the explicit set of online CPUs (an empty
 *   AllowedCPUs does not reach a running cgroup's cpuset).
 * - HOST_WORKQUEUE_CPUMASK, target "workqueue": devices/virtual/workqueue/cpumask (hex) through kernel_write.
 *   Shared the same way; its previous value is always explicit.
 * Each kind's wanted value is the VM's CPUs as a canonical CPU list. A change that would leave the host no
 * CPU is refused, in the check phase and again when it is written. */
#pragma once

#include "config.h"
#include "diag.h"
#include "host-change.h"
#include "plan.h"

struct host_context;

/* The slices and scopes isolate-cpus restricts, those of them systemd has loaded and active. */
#define HOST_CPUS_SLICES "system.slice", "user.slice", "init.scope"
/* The writeback and other unbound workqueues' CPUs, under the sysfs root. */
#define HOST_WORKQUEUE_CPUMASK_PATH "devices/virtual/workqueue/cpumask"

/* isolate-cpus = yes: an allowed-cpus change per active slice of HOST_CPUS_SLICES (every one of them when CTX
 * has no bus: hookctl's dry run), then the workqueue cpumask, each wanting the VM's CPUs (vm-cpus, resolved
 * against DOMAIN_XML). Configuration problems go to DIAG; 0 or -ENOMEM. */
int host_cpus_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag);

extern const struct host_change_reader host_allowed_cpus_reader;      /* host-cpus.c */
extern const struct host_change_reader host_workqueue_cpumask_reader; /* host-cpus.c */
extern const struct host_change_writer host_allowed_cpus_writer;      /* host-cpus-write.c */
extern const struct host_change_writer host_workqueue_cpumask_writer; /* host-cpus-write.c */

/* The engine's host changes (host-change.h) as one VM's check, prepare and release use them: the context each
 * kind's reader and writer is given, the planner that turns a VM's keys into plan steps, and the check phase
 * that refuses them before anything is written. The read side (host-change-read.c, host-changes-plan.c):
 * hookctl's dry run takes the same path as prepare. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "diag.h"
#include "host-bus.h"
#include "host-change.h"
#include "kernel.h"
#include "plan.h"

/* What a kind's reader and writer act on, for one VM. Nothing here is owned: the engine's, valid for one call.
 * Paths are relative to the roots (a fixture tree in the tests): reads go through host_read_sysfs() /
 * host_read_proc(), writes through kernel_write() / kernel_proc_write() on KERNEL, systemd and logind only
 * through BUS. */
struct host_context {
	const char *vm;		     /* the VM whose change it is */
	const struct kernel *kernel; /* the read-only engine's kernel refuses every write with -EROFS */
	const char *sysfs_root;	     /* "/sys", or a fixture tree */
	const char *proc_root;	     /* "/proc", or a fixture tree */
	const char *run_dir;	     /* the journals: other VMs' holds on a shared change */
	const struct host_bus *bus;  /* NULL: no bus (a kind that needs one refuses with -EOPNOTSUPP) */
	unsigned timeout_ms;	     /* deadline of one write or one bus call (job included) */
};

/* The text of SYSFS_ROOT/RELPATH (or PROC_ROOT/RELPATH), its first 4 KiB with trailing white space trimmed
 * (*ret: caller frees). -ENOENT when there is no such file, -errno otherwise. */
int host_read_sysfs(const struct host_context *ctx, const char *relpath, char **ret);
int host_read_proc(const struct host_context *ctx, const char *relpath, char **ret);

/* Append a planned change (KIND, TARGET, WANTED; strings copied) to P's host changes, in the order prepare
 * applies them. -EEXIST when P already has KIND for TARGET, -EINVAL for a target host_change_target_valid()
 * refuses or a WANTED that is not one line, -ENOMEM. */
int plan_add_host_change(struct plan *p, enum host_change_kind kind, const char *target, const char *wanted);

/* Plan the host changes VM's keys ask for into P (one planner per feature, in the order they are applied:
 * units, sessions, inhibitor, hugepages, CPUs, governor and EPP, interrupts), then check each one
 * (host_changes_check). Problems go to DIAG as one line each ("VM win10: cpu-governor: ..."); the caller
 * refuses when DIAG has any. 0 or -errno (-ENOMEM, or a failure that is not the configuration's). */
int host_changes_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		      struct diag *diag);
/* Each planned change of P, read-only: a kind hookd has no reader for, or one its reader->check refuses,
 * adds a line to DIAG. 0 or -errno. */
int host_changes_check(struct host_context *ctx, const struct plan *p, struct diag *diag);

/* ---- each feature's planner (host-changes-plan.c calls them in apply order) and each kind's halves ----
 * A planner adds its changes with plan_add_host_change() and its configuration problems to DIAG; 0 or
 * -errno. A kind's reader goes in host-change-read.c's table, its writer in host-change-write.c's. */

/* hugepages = auto|COUNT, hugepage-size (host-hugepages.c): one HOST_HUGEPAGES per node and size. */
int hugepages_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag);
extern const struct host_change_reader hugepages_reader; /* host-hugepages.c */
extern const struct host_change_writer hugepages_writer; /* host-hugepages-write.c */

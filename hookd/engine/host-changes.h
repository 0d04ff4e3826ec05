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
	unsigned timeout_ms;	     /* deadline of one write or one bus call */
	/* The end of the whole operation (prepare, release), CLOCK_MONOTONIC ms (clock.h); 0: none known (check,
	 * status), one timeout_ms from now. A change made of many bounded writes (hugepages) stops by it; a
	 * systemd job or a logind session's end is waited for until it (host_job_timeout_ms). */
	unsigned long long deadline_ms;
};

/* How long a systemd job (stop-units) or a logind session's end (end-sessions) may be waited for: what is
 * left of the operation (CTX->deadline_ms; 0 once it has passed), not one sysfs write's CTX->timeout_ms.
 * systemd bounds each job itself (the unit's TimeoutStopSec, then SIGKILL), and a display manager ending
 * its sessions can take longer than a write may. Without a deadline (check, status), CTX->timeout_ms. */
unsigned host_job_timeout_ms(const struct host_context *ctx);
/* How long a wait that wants WANT_MS may take: WANT_MS, or less when the operation ends sooner
 * (CTX->deadline_ms; 0 once it has passed), and then *ret_cut_short (optional) is true. */
unsigned host_wait_ms(const struct host_context *ctx, unsigned want_ms, bool *ret_cut_short);

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
/* ---- shared changes: the other VMs' holds, from their journals (host-change.h's header comment) ---- */

/* Who else holds one shared change: the other VMs whose journal has the same kind and target APPLYING or
 * APPLIED (an APPLYING one may have been written before its VM died; it holds until released). */
struct host_change_holds {
	char **vms;    /* NULL-terminated, sorted; empty when nobody else holds it */
	char **wanted; /* their wanted values, in the same order */
	char *before;  /* the host's value as the first holder found it; NULL when nobody else holds it */
};
/* The holds on KIND/TARGET of every VM but VM, read from RUN_DIR's journals (unreadable ones are left out).
 * The caller holds the journal lock when it acts on the answer. 0 or -errno; clear with
 * host_change_holds_clear(). */
int host_change_holds_read(const char *run_dir, const char *vm, enum host_change_kind kind, const char *target,
			   struct host_change_holds *ret);
void host_change_holds_clear(struct host_change_holds *h);
/* The value a shared change writes: READER->combine over HOLDS' wanted values plus OWN (NULL: none, as on
 * release), given the host's BEFORE. With no wanted value at all, BEFORE itself. -EBUSY with *ret_why when
 * the holders conflict; -ENOMEM. */
int host_change_combined(const struct host_change_reader *reader, const char *before,
			 const struct host_change_holds *holds, const char *own, char **ret, char **ret_why);

/* ---- prepare and release (the write side, host-changes-apply.c) ---- */

/* How the engine's operation carries out host changes: its journal, fault points, deadline and failure
 * report, so a host change is journaled and reported exactly as a device move is. */
struct host_steps {
	struct host_context *ctx; /* ctx->timeout_ms is set from timeout() before each call */
	void *userdata;
	/* Journal the plan now (durably); on failure it has been reported. 0 or -errno. */
	int (*save)(void *userdata);
	/* The fault point ACTION:TARGET of -Dfault-injection builds ("host-apply", "cpu-governor:cpu3"). */
	int (*fault)(void *userdata, const char *action, const char *target);
	/* The deadline of the next write or bus call, in ms: what is left of the operation, at most a write's. */
	unsigned (*timeout)(void *userdata);
	/* Report a failure of WHAT ("cpu-governor cpu3") because WHY (one line). */
	void (*fail)(void *userdata, const char *what, const char *why);
};

/* Apply P's host changes in plan order, each: (shared kinds under the journal lock) read `before` (or take it
 * from another VM that holds the change), journal APPLYING, write (the writer verifies what it wrote),
 * journal APPLIED. Stops at the first failure, leaving the rest PLANNED. 0 or -errno. */
int host_changes_apply(const struct host_steps *s, struct plan *p);
/* Undo every APPLYING or APPLIED host change of P in reverse order: the last holder of a shared change writes
 * `before` back, an earlier one writes the remaining holders' combination; each journaled RESTORED. Every
 * change is tried; returns the first error. */
int host_changes_undo(const struct host_steps *s, struct plan *p);
/* After a restart, for P prepared by an earlier hookd: take again every APPLIED change whose writer has a
 * resume operation (what the earlier process held, e.g. a sleep inhibitor). Nothing is journaled. Every
 * change is tried; a failure is logged against P's VM as one line. Returns the first error. */
int host_changes_resume(struct host_context *ctx, const struct plan *p);

/* ---- what check and status show (host-changes-json.c, the read side) ---- */

/* P's host changes as JSON, one object each, in plan order: {"kind", "target", "wanted", "before", "applied",
 * "step", "shared_with": [other VMs holding it]} and, with READ_NOW, "now" (the value the host has now, as
 * the kind's reader reads it; null when it cannot be read); without it (status), for a change this VM holds
 * with others, "in_effect": the value the host has now, as read (left out when it cannot be read). NULL
 * when out of memory. */
json_object *host_changes_to_json(struct host_context *ctx, const struct plan *p, bool read_now);

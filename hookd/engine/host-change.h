/* Host changes: what a VM's prepare changes on the host besides its devices (units stopped, login sessions
 * ended, a sleep inhibitor, hugepages, the CPUs left to the host, governors, interrupt affinity), as plan
 * steps with the device moves' discipline: planned and checked before anything is written, journaled with
 * the value found before each change is made, undone in reverse order on release and on rollback, and
 * restored by recovery after a crash (what hookd's process itself holds for a VM still prepared, a sleep
 * inhibitor, is taken again by the next hookd's recovery: host_change_writer.resume).
 *
 * Order: prepare applies the host changes in plan order before the first device moves (a display manager
 * stops before its GPU is unbound; pages are reserved before the devices move), release restores them in
 * reverse after the last device is back.
 *
 * Shared changes (host_change_ops.shared: CPUs, governor, EPP, writeback cpumask, IRQ affinity, a unit two
 * VMs both stop) are refcounted through the journals themselves: under the journal lock, a change whose kind
 * and target another VM's journal holds APPLIED takes that journal's `before` as its own (the host's value,
 * never the other VM's), and the value written is ops->combine() over every holder's wanted value. Release
 * of a VM whose change is still held by another re-applies the combination of the remaining holders; the
 * last holder writes `before` back. So two VMs never undo each other's settings, and kill -9 at any point
 * leaves journals from which recovery restores the host exactly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

enum host_change_kind {
	HOST_UNIT_STOPPED,	/* target: a unit ("display-manager.service"); before: its ActiveState */
	HOST_SESSION_ENDED,	/* target: a seat ("seat0"); before: its graphical sessions' ids, "2 5"; applied:
				 * those ended (the sessions at apply time, not the check's) */
	HOST_SLEEP_INHIBITED,	/* target: "sleep"; before: ""; held by the daemon while the VM runs */
	HOST_HOLDERS_GONE,	/* target: a device address; a bounded wait for its holders to go, no undo */
	HOST_HUGEPAGES,		/* target: "node0/hugepages-2048kB"; before: nr_hugepages found; wanted: the
				   * pages this VM needs; applied: the pages this VM added (its ledger) */
	HOST_ALLOWED_CPUS,	/* target: a slice or scope ("system.slice"); before: its AllowedCPUs ("" =
				   * unset, restored as the explicit full set); wanted: the CPUs the VM takes */
	HOST_WORKQUEUE_CPUMASK, /* target: "workqueue"; before: the writeback workqueue's cpumask */
	HOST_CPU_GOVERNOR,	/* target: "cpu3"; before: scaling_governor */
	HOST_CPU_EPP,		/* target: "cpu3"; before: energy_performance_preference */
	HOST_IRQ_AFFINITY,	/* target: an IRQ number ("24"); before: its smp_affinity_list */
	_HOST_CHANGE_KIND_MAX,
};

enum host_change_step {
	HOST_CHANGE_PLANNED,  /* nothing done yet */
	HOST_CHANGE_APPLYING, /* journaled (with `before`) just before the write */
	HOST_CHANGE_APPLIED,  /* written and verified */
	HOST_CHANGE_RESTORED, /* given back (or handed on to the VMs that still share it) */
	_HOST_CHANGE_STEP_MAX,
};

/* One change, as the plan and the journal hold it. Every string is one line, owned by the change. */
struct plan_host_change {
	enum host_change_kind kind;
	char *target;  /* what is changed, per kind above */
	char *wanted;  /* the value this VM asks for (a CPU list, a page count, "performance", "stop") */
	char *before;  /* the host's value found before the first holder changed it; NULL until read */
	char *applied; /* what this VM's change really did (pages obtained, the combined CPU list written) */
	enum host_change_step step;
};

void plan_host_change_clear(struct plan_host_change *c);
const char *host_change_kind_to_string(enum host_change_kind k); /* "unit-stopped", "hugepages", ... */
int host_change_kind_from_string(const char *s);		 /* the kind, or -EINVAL */
const char *host_change_step_to_string(enum host_change_step s); /* "planned", "applying", ... */
int host_change_step_from_string(const char *s);
/* Whether C is on the host for its VM, or may be: being applied (the write may have happened) or applied.
 * Planned and restored changes hold nothing. */
bool host_change_is_held(const struct plan_host_change *c);

/* At most this many host changes in one plan (a journal claiming more is refused), and this long each of
 * their strings. */
#define HOST_CHANGES_MAX 4096u
#define HOST_CHANGE_TEXT_MAX 4096u
/* Whether TARGET can name KIND's target: one line without white space, at most 256 bytes, no "." or ".."
 * component and no leading '/' (targets become sysfs, /proc or unit names), in the kind's own shape: a unit
 * ending in .service, .socket, .target, .timer or .path (unit-stopped), a .slice or .scope (allowed-cpus), a
 * seat name (session-ended), "sleep", a canonical PCI address (holders-gone), "nodeN/hugepages-SIZEkB",
 * "workqueue", "cpuN" for the per-CPU kinds, an IRQ number for irq-affinity. */
bool host_change_target_valid(enum host_change_kind kind, const char *target);
/* C as the plan's and journal's JSON: {"kind", "target", "wanted", "before", "applied", "step"} (before and
 * applied null until set). NULL when out of memory. */
json_object *host_change_to_json(const struct plan_host_change *c);
/* The JSON array A (host_change_to_json's objects) into *RET (caller frees each with plan_host_change_clear,
 * then the array), validated like any journal: known kind and step, a valid target, every value one line of
 * at most HOST_CHANGE_TEXT_MAX bytes, at most HOST_CHANGES_MAX entries, no (kind, target) twice. 0, -EINVAL
 * or -ENOMEM; nothing is returned on failure. */
int host_changes_from_json(json_object *a, struct plan_host_change **ret, size_t *ret_n);

struct host_context; /* the engine's view for one change: kernel writes, sysfs/proc roots, the host bus,
		      * deadlines (host-changes.c) */

/* What one kind does, in two halves along the engine's seam (hookctl links only the read side):
 * - struct host_change_reader (read side, host-change-read.c's table): read, check, combine;
 * - struct host_change_writer (write side, host-change-write.c's table): apply, restore.
 * Each kind lives in its own files (host-units*.c, host-hugepages*.c, host-cpus*.c, ...). Every function
 * returns 0 or -errno and, on failure, sets *ret_why to one line (caller frees) where it has one. */
struct host_change_reader {
	enum host_change_kind kind;
	bool shared; /* refcounted across VMs through the journals (see above) */
	/* The host's current value of C's target (check and status show it). */
	int (*read)(struct host_context *ctx, const struct plan_host_change *c, char **ret_value);
	/* Whether C can be done now, read-only (check phase): a unit that does not exist, a CPU list outside
	 * the host's CPUs, a governor the CPU does not offer. */
	int (*check)(struct host_context *ctx, const struct plan_host_change *c, char **ret_why);
	/* Shared kinds only: the value to write given the host's BEFORE and every holder's wanted value
	 * (WANTED, NULL-terminated, at least one). -EBUSY with *ret_why when the holders conflict (two
	 * governors). */
	int (*combine)(const char *before, char *const *wanted, char **ret_value, char **ret_why);
};

struct host_change_writer {
	enum host_change_kind kind;
	/* Make the change: C->before is already read and journaled, C->step is APPLYING. For a shared kind
	 * VALUE is the combination over every holder (reader->combine), else C->wanted. Returns 0 only once
	 * it has read back what it did (the verify step). Sets C->applied. */
	int (*apply)(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why);
	/* Undo C: write VALUE (C->before for the last holder of a shared change, else the remaining holders'
	 * combination; for a ledger kind such as hugepages, give back exactly C->applied). */
	int (*restore)(struct host_context *ctx, const struct plan_host_change *c, const char *value, char **ret_why);
	/* Optional (NULL for a change the host keeps by itself): take C, APPLIED for a VM that is still
	 * prepared, again in a hookd that started after the one that applied it (kill -9, a restart): a change
	 * hookd's process holds, such as a sleep inhibitor's fd, went with that process. Called by
	 * engine_recover(); writes nothing to the journal. */
	int (*resume)(struct host_context *ctx, const struct plan_host_change *c, char **ret_why);
};

/* For a reader's or writer's failure: *RET_WHY = the formatted line (caller frees); returns R, or -ENOMEM
 * (and *RET_WHY NULL) when the line cannot be made. */
int host_change_why(char **ret_why, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

const struct host_change_reader *host_change_reader_for(enum host_change_kind k);
const struct host_change_writer *host_change_writer_for(enum host_change_kind k);

/* An engine over engine-fixture.h's machine, as the engine's end-to-end tests build it: the fixture trees,
 * the fake kernel (fake-kernel.h), the fake host bus (fake-host-bus.h), a journal directory and an engine
 * with every root aimed at them (never /sys, /proc or the system bus), plus the reads those tests make of
 * the result. Link engine-rig.c with the fake kernel's and the fake host bus's sources.
 *
 * The usual shape of a test:
 *   static struct engine_rig rig;
 *   rig_setup(&rig);                // the machine, the fakes and the engine, ready
 * or, to arrange the tree or the fakes before the engine reads them:
 *   fx_machine(&rig.f); ...;               // the tree
 *   rig_start(&rig); ...;           // the fakes (rig.k, rig.bus), no engine yet
 *   rig_up(&rig);                   // the engine, with recovery run
 *   ...
 *   rig_teardown(&rig);
 * Every function aborts the test on failure. */
#pragma once

#include <stdbool.h>

#include "engine-fixture.h"
#include "host-change.h"

struct engine;
struct fake_host_bus;
struct fake_kernel;
struct kernel;
struct plan;
struct vm_config;

struct engine_rig {
	struct fixture f;	   /* the trees: f.sys, f.proc */
	struct fake_kernel *k;	   /* owned; made by rig_start */
	struct fake_host_bus *bus; /* owned; made by rig_start, no units nor sessions */
	struct engine *e;	   /* owned; made by rig_up */
	/* What the engine writes through; NULL for k's. A test may set its own kernel in front of k's before
	 * rig_up (not owned). */
	const struct kernel *kernel;
	/* The engine's operation-timeout, in ms; 0: a minute. Set before rig_up. */
	unsigned operation_timeout_ms;
	/* The journals: on /dev/shm when there is one (their fsyncs are what takes time), else under f.run. */
	char run_dir[128];
};

/* The fake kernel over R's tree, the fake host bus and the journal directory; no engine yet. */
void rig_start(struct engine_rig *r);
/* An engine over R (engine_new, then engine_recover), as hookd starts: again after engine_free(r->e), or in
 * a forked child with its own r->k. */
void rig_up(struct engine_rig *r);
/* fx_machine, rig_start and rig_up. */
void rig_setup(struct engine_rig *r);
/* Frees the engine, the fakes, the journals and the trees; R can be set up again. */
void rig_teardown(struct engine_rig *r);

/* kill -9 in the middle of a prepare: VM's prepare runs in a forked child, over a fake kernel of its own (the
 * parent's threads are not in the child) that ARRANGE_KERNEL (or NULL) sets up as the test's was, and the
 * HOOKD_FAULT point FAULT ("crash-at:STEP:...") kills it; checks that it was killed. The parent's engine is
 * freed (r->e is NULL: rig_up next is hookd starting again); the tree, the journals and the fake host bus
 * (the parent's: what the child did there is lost, as systemd would not lose it) are as the child left them.
 * Needs -Dfault-injection=true. */
void rig_prepare_killed(struct engine_rig *r, const struct vm_config *vm, const char *fault,
			void (*arrange_kernel)(struct fake_kernel *k));

/* VM NAME's file TEXT, parsed (caller frees); a parse error aborts the test, printing the diagnostics. */
struct vm_config *rig_vm(const char *name, const char *text);
/* VM NAME's journal (caller frees), which must exist. */
struct plan *rig_journal(const struct engine_rig *r, const char *name);
bool rig_journal_exists(const struct engine_rig *r, const char *name);
/* P's host change KIND on TARGET, which must be there. */
const struct plan_host_change *rig_change(const struct plan *p, enum host_change_kind kind, const char *target);

/* The following return a static buffer, valid until the next call of the same function. */
/* The driver ADDRESS is bound to now, as the tree shows it; "" for none. */
const char *rig_driver(const struct engine_rig *r, const char *address);
/* ADDRESS's driver_override as the kernel shows it ("(null)" for none). */
const char *rig_override(const struct engine_rig *r, const char *address);
/* The fake kernel's log lines that mention NEEDLE, in order, joined by "|". */
const char *rig_log_lines(const struct engine_rig *r, const char *needle);

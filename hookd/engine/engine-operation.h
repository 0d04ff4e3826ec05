/* One prepare or release of the engine's write side in progress, and what its steps share: engine.c (apply,
 * undo, the public calls), engine-operation.c (failures, deadlines, fault points, module steps) and
 * engine-console.c (the console's return). Nothing outside the write side includes this. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "engine-internal.h"
#include "plan.h"

/* One prepare or release in progress. */
struct operation {
	struct engine *e;
	struct plan *plan;
	const char *op; /* "prepare" / "release", for logs */
	uint64_t deadline_ms;
	char *first_error;    /* the line prepare reports */
	struct diag failures; /* every failure, for release */
};

void operation_clear(struct operation *o);

/* Record a failure once as "VM x: WHAT: reason" (WHAT may be NULL), and log it; the first one is what prepare
 * reports. */
void op_fail(struct operation *o, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The deadline of one write (ms): the sysfs timeout, cut short by what is left of the whole operation. */
unsigned op_write_timeout(const struct operation *o);

/* The fault point STEP ("unbind:0000:02:00.0"; ACTION:TARGET for engine_step_fault): HOOKD_FAULT=fail-at:GLOB
 * makes it fail with -ECANCELED, crash-at:GLOB kills the process. 0 otherwise, and always in builds without
 * -Dfault-injection=true. */
int engine_fault_point(const char *step);
int engine_step_fault(const char *action, const char *target);

/* What a failed kernel step R says, in BUF or strerror's: a deadline in words, not "Connection timed out". */
const char *op_step_error(const struct operation *o, int r, char buf[static 96]);
/* Load or unload module NAME under the operation's deadline; *RET_TIMEOUT is the deadline used. 0 or -errno. */
int op_module_load(struct operation *o, const char *name, unsigned *ret_timeout);
int op_module_unload(struct operation *o, const char *name, unsigned *ret_timeout);
/* Why a module step failed (R, after TIMEOUT_MS), in the user's terms, in BUF. */
const char *module_failure_reason(int r, unsigned timeout_ms, char buf[static 96]);

/* engine.c's device steps, which the console's return repeats for the boot GPU. */
/* A write on D failed with R: true (reported, the journal saying DEVICE_STUCK when it is) when D is gone from
 * the bus or the write is still running past TIMEOUT_MS; false leaves the failure to the caller.
 * STUCK_WHAT: "unbinding it from nvme". */
bool op_device_gone_or_stuck(struct operation *o, struct plan_device *d, const char *label, int r, unsigned timeout_ms,
			     const char *stuck_what);
/* Probe D (fault point STEP) and read the outcome back: *ret_driver the driver bound, NULL for none (caller
 * frees); *ret_timeout the deadline used. 0 or -errno (-ETIMEDOUT: still running, even with a link). */
int op_probe_device(struct operation *o, struct plan_device *d, const char *step, unsigned *ret_timeout,
		    char **ret_driver);
/* Converge D on its original driver with driver_override as it was, whatever step it reached. 0 or -errno,
 * reported through op_fail. */
int op_restore_device(struct operation *o, struct plan_device *d);

/* engine-console.c: bind the boot GPU's console back (release-console), probing the boot GPU again when the
 * kernel does not hand it back by itself; p->console becomes CONSOLE_RESTORED. 0 or -errno (reported). */
int op_restore_console(struct operation *o);

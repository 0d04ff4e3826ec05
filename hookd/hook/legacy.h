/* Legacy PassthroughPOST scripts: qemu.d/<vm>/<op>/<subop>/ (a directory of executables, or one file), run as
 * the shell hook helper ran them, so existing set-ups keep working next to hookd. */
#pragma once

#include "hook.h"

/* Look at every script of c->vm (qemu.d/<vm>/<op>/<subop>/, all events) and at qemu.d/ itself. Each script
 * that will not run (not executable, not a regular file, not root's alone: trust.h) and each executable placed
 * directly in qemu.d/ (libvirt 6.5 and later runs those for every VM) adds one line to c->warnings.
 * *ret_blocked is set when a script of this very event is not root's alone. 0, or -errno when a directory
 * cannot be read (what could be read was looked at). */
int legacy_survey(struct hook_call *c, bool *ret_blocked);

/* Run the scripts for c's event that legacy_survey() did not turn down, in strcmp order, with the XML on
 * stdin. For a begin phase the first failure stops them and returns 1. For migrate and restore each script's
 * stdout (when not empty) is the next one's XML, and the final XML is printed; for other events their stdout
 * is discarded. End phases always return 0. Problems are reported on stderr. */
int run_legacy(struct hook_call *c);

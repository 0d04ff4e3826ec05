/* Legacy PassthroughPOST scripts: qemu.d/<vm>/<op>/<subop>/ (a directory of executables, or one file), run as
 * the shell hook helper ran them, so existing set-ups keep working next to hookd. */
#pragma once

#include "hook.h"

/* Run the scripts for c's event, found under hooks_dir, in strcmp order. For a begin phase the first failure
 * stops them and returns 1. For migrate and restore each script's stdout (when not empty) is the next one's
 * XML, and the final XML is printed. End phases always return 0. Problems are reported on stderr. */
int run_legacy(struct hook_call *c, const char *hooks_dir);

/* What the hook's two parts share: hook.c (argv, stdin, the daemon round trip, exit status) and legacy.c
 * (the qemu.d scripts). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "proto.h"

struct hook_call {
	char **argv; /* as libvirt gave it, passed on to legacy scripts */
	const char *vm;
	const char *op_name;
	const char *subop;
	const char *extra;
	int op;		       /* enum hook_op, or -EINVAL for an op hookd does not know */
	bool configured;       /* CONF_DIR/vms/<vm>.ini exists */
	bool held;	       /* hookd's journal has a record for it: hookd still holds its devices */
	const char *hooks_dir; /* libvirt's hooks directory, the root of qemu.d/ */
	const char *run_dir;   /* hookd's run dir: its journals and its lock */
	unsigned timeout_ms;   /* [hook] timeout: for the daemon and for each legacy script */
	char *xml;
	size_t xml_len;
	struct diag warnings; /* legacy scripts that will not run: on stderr and in the event for hookd */
};

/* stopped and release are "end" phases: libvirt ignores their status, legacy scripts run before hookd. */
static inline bool op_is_end_phase(int op)
{
	return op == HOOK_OP_STOPPED || op == HOOK_OP_RELEASE;
}

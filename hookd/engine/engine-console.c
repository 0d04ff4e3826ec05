/* The boot GPU's console back after release (release-console = yes): engine-operation.h's op_restore_console. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "engine-operation.h"
#include "log.h"
#include "pci.h"
#include "util.h"

/* Bind the vtconsoles and firmware framebuffers back. Writing 1 to a vtconsole's bind does not bring fbcon
 * back when the kernel has no system console driver to hand over from (a common case without vgacon);
 * fbcon takes a console over when a framebuffer registers, so the boot GPU is probed once more then. */
int op_restore_console(struct operation *o)
{
	struct plan *p = o->plan;
	_cleanup_free_ char *prefix = NULL;
	char label[96], what[96];
	unsigned timeout;
	int r;

	if (asprintf(&prefix, "VM %s: release-console: ", p->vm) < 0)
		return -ENOMEM;
	r = engine_fault_point("console-restore");
	if (r < 0) {
		op_fail(o, "release-console", "injected failure");
		return r;
	}
	r = console_restore(&o->e->topo, &o->e->kernel, p->vtconsoles, p->firmware_fbs, op_write_timeout(o), prefix,
			    &o->failures);
	for (size_t i = 0; r >= 0 && !console_bound(&o->e->topo, p->vtconsoles) && i < p->n_devices; i++) {
		struct plan_device *d = &p->devices[i];

		if (!d->boot_vga || !d->original_driver || (d->step != DEVICE_PLANNED && d->step != DEVICE_RESTORED))
			continue;
		log_ctx(LOG_INFO, p->vm, o->op, d->address, "re-probing the boot GPU so the console takes it back");
		plan_device_label(d, label);
		timeout = op_write_timeout(o);
		r = pci_unbind(&o->e->kernel, d->address, timeout);
		snprintf(what, sizeof(what), "unbinding it from %s", d->original_driver);
		if (r < 0 && !op_device_gone_or_stuck(o, d, label, r, timeout, what))
			op_fail(o, label, "cannot unbind it from %s: %s", d->original_driver, strerror(-r));
		if (r >= 0) {
			_cleanup_free_ char *driver = NULL;

			/* op_restore_device() below reads the outcome of a probe that returned. */
			r = op_probe_device(o, d, "console-probe", &timeout, &driver);
			snprintf(what, sizeof(what), "%s's probe of it", d->original_driver);
			if (r < 0 && !op_device_gone_or_stuck(o, d, label, r, timeout, what))
				op_fail(o, label, "probing it failed: %s", strerror(-r));
		}
		if (r >= 0 && op_restore_device(o, d) < 0)
			r = -EIO;
		if (r >= 0)
			r = console_restore(&o->e->topo, &o->e->kernel, p->vtconsoles, p->firmware_fbs,
					    op_write_timeout(o), prefix, &o->failures);
	}
	if (r >= 0 && !console_bound(&o->e->topo, p->vtconsoles)) {
		op_fail(o, "release-console", "the framebuffer console did not bind again");
		r = -EIO;
	}
	if (r < 0) {
		if (!o->first_error && o->failures.n)
			o->first_error = strdup(o->failures.lines[o->failures.n - 1]);
		return r;
	}
	p->console = CONSOLE_RESTORED;
	return 0;
}

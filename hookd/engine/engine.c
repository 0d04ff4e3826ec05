/* The engine's write side: it decides, the kernel (pci writes, module unloads and loads) carries out, the
 * journal remembers. prepare = build_checked_plan() (engine-check.c: resolve, check under the journal lock
 * with the claims of other VMs) -> journal -> apply; any failure undoes what the journal says was done.
 * release = the same undo, from the journal. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "clock.h"
#include "console.h"
#include "engine.h"
#include "engine-internal.h"
#include "engine-operation.h"
#include "host-bus.h"
#include "host-changes.h"
#include "journal.h"
#include "log.h"
#include "modules.h"
#include "pci.h"
#include "plan.h"
#include "topology.h"
#include "util.h"
#include "vmname.h"

/* Every journal write of the engine: "journal:VM" is its fault point (an injected failure reads as a full
 * run directory), and a failure is remembered for status until a write for that VM succeeds. */
static int record(struct engine *e, const struct plan *p)
{
	int r = engine_step_fault("journal", p->vm);

	r = r < 0 ? -ENOSPC : journal_save(e->run_dir, p);
	engine_note_journal(e, p->vm, r);
	return r;
}

static const char *journal_error(int r)
{
	return r == -ENOSPC ? "no space left on the file system (is the run directory full?)" : strerror(-r);
}

static int save(struct operation *o)
{
	int r = record(o->e, o->plan);

	if (r < 0)
		op_fail(o, NULL, "cannot write the journal under %s/state, so nothing more is done: %s", o->e->run_dir,
			journal_error(r));
	return r;
}

/* ---- apply ---- */

static bool driver_is(const char *driver, const char *want)
{
	return streq_ptr(driver, want);
}

/* A write on D did not succeed: read what it left. A device no longer on the bus is gone; a write that had
 * not returned by its deadline is still running in the kernel, which holds the device (stuck, whatever the
 * tree shows meanwhile: a probe's driver link appears before the probe has succeeded). Reports either and
 * returns true; false leaves the failure to the caller. STUCK_WHAT: "unbinding it from nvme". */
bool op_device_gone_or_stuck(struct operation *o, struct plan_device *d, const char *label, int r, unsigned timeout_ms,
			     const char *stuck_what)
{
	if (!topology_device_exists(&o->e->topo, d->address)) {
		op_fail(o, label, "the device disappeared from the bus while it was being moved");
		return true;
	}
	if (r != -ETIMEDOUT)
		return false;
	d->step = DEVICE_STUCK;
	(void)save(o);
	op_fail(o, label,
		"the kernel did not finish %s within %u ms; it is stuck until the kernel lets go, then run: "
		"hookctl release %s",
		stuck_what, timeout_ms, o->plan->vm);
	return true;
}

/* Probe D and read the outcome back: *ret_driver is the driver the probe bound, NULL when none. A probe
 * whose write had not returned by its deadline is still running: -ETIMEDOUT, even when the link is there. */
int op_probe_device(struct operation *o, struct plan_device *d, const char *step, unsigned *ret_timeout,
		    char **ret_driver)
{
	int r;

	*ret_driver = NULL;
	*ret_timeout = op_write_timeout(o);
	r = engine_step_fault(step, d->address);
	if (r >= 0)
		r = pci_probe(&o->e->kernel, d->address, *ret_timeout);
	if (r >= 0)
		r = topology_driver(&o->e->topo, d->address, ret_driver);
	return r;
}

/* The race: a process may open one of D's nodes after the checks. Asked again just before the unbind (which
 * a holder can make hang for ever), within the operation's deadline: anything holding D now fails the
 * prepare, which then undoes what was done. D's nodes only (one pass over /proc per device unbound: the
 * check's pass plus N). Not one pass for the whole group before the first unbind: the later functions' window
 * would then span the earlier ones' unbinds (a GPU's takes seconds), which is the race this closes. */
static int recheck_holders(struct operation *o, const struct plan_device *d, const char *label)
{
	struct diag found = { 0 };
	unsigned timeout = op_write_timeout(o);
	size_t prefix = strlen("VM ") + strlen(o->plan->vm) + strlen(": ");
	int r;

	r = check_holders(&o->e->topo, o->plan, d, label,
			  timeout < HOLDER_SCAN_TIMEOUT_MS ? timeout : HOLDER_SCAN_TIMEOUT_MS, &found, NULL, NULL);
	if (r < 0) {
		op_fail(o, label, "cannot look for its holders: %s", strerror(-r));
		return r;
	}
	if (found.n == 0)
		return 0;
	/* check_holders' line is "VM x: ..."; op_fail names the VM itself. */
	op_fail(o, NULL, "%s", strlen(found.lines[0]) > prefix ? found.lines[0] + prefix : found.lines[0]);
	diag_clear(&found);
	return -EBUSY;
}

static int move_device(struct operation *o, struct plan_device *d)
{
	const struct kernel *k = &o->e->kernel;
	_cleanup_free_ char *driver = NULL;
	char label[96], what[96], why[96];
	unsigned timeout;
	int r;

	plan_device_label(d, label);
	if (driver_is(d->original_driver, "vfio-pci"))
		return 0; /* already there before we came: nothing to move, nothing to give back */
	/* driver_override is written back on release as it was found; reading it takes the device lock, so
	 * bounded like a write. */
	r = topology_driver_override_within(&o->e->topo, d->address, op_write_timeout(o), &d->driver_override_before);
	if (r < 0 && r != -ENOENT) {
		op_fail(o, label, "cannot read driver_override: %s", op_step_error(o, r, why));
		return r;
	}
	d->step = DEVICE_MOVING;
	r = save(o);
	if (r < 0)
		return r;
	timeout = op_write_timeout(o);
	if ((r = engine_step_fault("override", d->address)) < 0 ||
	    (r = pci_set_driver_override(k, d->address, "vfio-pci", timeout)) < 0) {
		if (!op_device_gone_or_stuck(o, d, label, r, timeout, "setting driver_override"))
			op_fail(o, label, "cannot set driver_override: %s", op_step_error(o, r, why));
		return r;
	}
	timeout = op_write_timeout(o);
	if (d->reset_method && ((r = engine_step_fault("reset-method", d->address)) < 0 ||
				(r = pci_set_reset_method(k, d->address, d->reset_method, timeout)) < 0)) {
		if (!op_device_gone_or_stuck(o, d, label, r, timeout, "setting reset_method"))
			op_fail(o, label, "cannot set reset_method to %s: %s", d->reset_method,
				op_step_error(o, r, why));
		return r;
	}
	r = topology_driver(&o->e->topo, d->address, &driver);
	if (r >= 0 && driver && !streq(driver, "vfio-pci")) {
		r = recheck_holders(o, d, label);
		if (r < 0)
			return r;
		timeout = op_write_timeout(o);
		r = engine_step_fault("unbind", d->address);
		if (r >= 0)
			r = pci_unbind(k, d->address, timeout);
		snprintf(what, sizeof(what), "unbinding it from %s", driver);
		if (r < 0 && op_device_gone_or_stuck(o, d, label, r, timeout, what))
			return r;
		if (r < 0) {
			op_fail(o, label, "cannot unbind it from %s: %s", driver, op_step_error(o, r, why));
			return r;
		}
		free(driver);
		driver = NULL;
		r = topology_driver(&o->e->topo, d->address, &driver);
		if (r >= 0 && driver) {
			op_fail(o, label, "it is still bound to %s after the unbind returned", driver);
			return -EIO;
		}
	}
	if (r >= 0 && !driver) {
		r = op_probe_device(o, d, "probe", &timeout, &driver);
		if (r < 0 && op_device_gone_or_stuck(o, d, label, r, timeout, "vfio-pci's probe of it"))
			return r;
		if (r < 0) {
			op_fail(o, label, "binding it to vfio-pci failed: %s", strerror(-r));
			return r;
		}
	}
	if (r >= 0)
		r = engine_step_fault("verify", d->address);
	if (r < 0 || !driver_is(driver, "vfio-pci")) {
		if (!topology_device_exists(&o->e->topo, d->address))
			op_fail(o, label, "the device disappeared from the bus while it was being moved");
		else
			op_fail(o, label, "it did not bind to vfio-pci (driver now: %s)", driver ? driver : "none");
		return r < 0 ? r : -EIO;
	}
	d->step = DEVICE_ON_VFIO;
	log_ctx(LOG_INFO, o->plan->vm, o->op, d->address, "moved from %s to vfio-pci",
		d->original_driver ? d->original_driver : "no driver");
	return 0;
}

/* ---- host changes: carried out by host-changes-apply.c with this operation's journal, faults and deadline ---- */

static int host_save(void *userdata)
{
	return save(userdata);
}

static int host_fault(void *userdata, const char *action, const char *target)
{
	return engine_step_fault(action, target);
}

static unsigned host_timeout(void *userdata)
{
	return op_write_timeout(userdata);
}

static void host_fail(void *userdata, const char *what, const char *why)
{
	op_fail(userdata, what, "%s", why);
}

/* Run STEP (host_changes_apply or _undo) over the plan's host changes. */
static int host_changes(struct operation *o, int (*step)(const struct host_steps *s, struct plan *p))
{
	struct host_context ctx;
	const struct host_steps s = { .ctx = &ctx,
				      .userdata = o,
				      .save = host_save,
				      .fault = host_fault,
				      .timeout = host_timeout,
				      .fail = host_fail };

	if (o->plan->n_host_changes == 0)
		return 0;
	engine_host_context(o->e, o->plan->vm, op_write_timeout(o), &ctx);
	ctx.deadline_ms = o->deadline_ms;
	return step(&s, o->plan);
}

static int apply(struct operation *o)
{
	struct plan *p = o->plan;
	unsigned timeout;
	int r;

	/* The host first (a display manager stops before its GPU's modules go; pages are reserved before the
	 * devices move); undo() gives it back last. */
	r = host_changes(o, host_changes_apply);
	if (r < 0)
		return r;

	if (p->release_console && (p->vtconsoles[0] || p->firmware_fbs[0])) {
		_cleanup_free_ char *error = NULL;

		p->console = CONSOLE_RELEASING;
		r = save(o);
		if (r < 0)
			return r;
		r = engine_fault_point("console-release");
		if (r >= 0)
			r = console_release(&o->e->kernel, p->vtconsoles, p->firmware_fbs, op_write_timeout(o), &error);
		if (r < 0) {
			op_fail(o, "release-console", "%s", error ? error : strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < p->n_modules; i++) {
		p->modules[i].step = MODULE_UNLOADING;
		r = save(o);
		if (r < 0)
			return r;
		timeout = 0;
		r = engine_step_fault("module-unload", p->modules[i].name);
		if (r >= 0)
			r = op_module_unload(o, p->modules[i].name, &timeout);
		if (r < 0) {
			char what[128], why[96];

			snprintf(what, sizeof(what), "module %s", p->modules[i].name);
			op_fail(o, what, "cannot unload it: %s", module_failure_reason(r, timeout, why));
			return r;
		}
		p->modules[i].step = MODULE_UNLOADED;
		log_ctx(LOG_INFO, p->vm, o->op, NULL, "unloaded module %s", p->modules[i].name);
	}
	timeout = 0;
	r = engine_fault_point("vfio-load");
	if (r >= 0)
		r = op_module_load(o, "vfio-pci", &timeout);
	if (r < 0) {
		char why[96];

		op_fail(o, "module vfio-pci", "cannot load it: %s", module_failure_reason(r, timeout, why));
		return r;
	}
	for (size_t i = 0; i < p->n_devices; i++) {
		r = move_device(o, &p->devices[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- undo (rollback and release) ---- */

/* Is D where it was before prepare, as the tree shows it now: its original driver, driver_override as it
 * was? driver_override takes the device lock, so it is read under the operation's deadline. */
static bool device_is_home(struct operation *o, const struct plan_device *d)
{
	_cleanup_free_ char *driver = NULL, *override = NULL;

	if (topology_driver(&o->e->topo, d->address, &driver) < 0 || !driver_is(driver, d->original_driver))
		return false;
	if (topology_driver_override_within(&o->e->topo, d->address, op_write_timeout(o), &override) < 0)
		return false;
	return streq_ptr(override, d->driver_override_before);
}

/* Converge one device on its original driver with driver_override cleared, whatever step it reached; done
 * only when the tree shows it so after every write has returned. */
int op_restore_device(struct operation *o, struct plan_device *d)
{
	const struct kernel *k = &o->e->kernel;
	const char *vm = o->plan->vm;
	_cleanup_free_ char *driver = NULL;
	char label[96], what[96], why[96];
	unsigned timeout;
	int r;

	plan_device_label(d, label);
	if (!topology_device_exists(&o->e->topo, d->address)) {
		op_fail(o, label, "the device is gone from the bus (rescan with echo 1 > /sys/bus/pci/rescan)");
		return -ENODEV;
	}
	r = topology_driver(&o->e->topo, d->address, &driver);
	if (r >= 0 && driver && !driver_is(driver, d->original_driver)) {
		timeout = op_write_timeout(o);
		r = engine_step_fault("release-unbind", d->address);
		if (r >= 0)
			r = pci_unbind(k, d->address, timeout);
		snprintf(what, sizeof(what), "unbinding it from %s", driver);
		if (r < 0 && op_device_gone_or_stuck(o, d, label, r, timeout, what))
			return r;
	}
	timeout = op_write_timeout(o);
	if (r >= 0 && (r = engine_step_fault("release-override", d->address)) >= 0)
		r = pci_set_driver_override(k, d->address, d->driver_override_before, timeout);
	if (r < 0 && op_device_gone_or_stuck(o, d, label, r, timeout, "clearing driver_override"))
		return r;
	if (r < 0) {
		op_fail(o, label, "cannot detach it from %s: %s", driver ? driver : "vfio-pci",
			op_step_error(o, r, why));
		return r;
	}
	if (d->reset_method && d->reset_method_before) {
		/* Exactly what was there before (a udev rule's device_specific, say); "" means none. */
		int rr = engine_step_fault("release-reset-method", d->address);

		if (rr >= 0)
			rr = pci_set_reset_method(k, d->address,
						  *d->reset_method_before ? d->reset_method_before : "\n",
						  op_write_timeout(o));
		if (rr < 0)
			op_fail(o, label, "cannot set reset_method back to \"%s\": %s", d->reset_method_before,
				op_step_error(o, rr, why));
	}
	free(driver);
	driver = NULL;
	if (d->original_driver) {
		/* Loading the module may bind the device by itself (its init probes what it matches); probe only
		 * if it did not. A load past its deadline may be that probe, still running: the device is stuck. */
		if (d->original_module && (r = op_module_load(o, d->original_module, &timeout)) < 0) {
			snprintf(what, sizeof(what), "loading module %s (its init probes the device)",
				 d->original_module);
			if (op_device_gone_or_stuck(o, d, label, r, timeout, what))
				return r;
			op_fail(o, label, "cannot load module %s for %s: %s", d->original_module, d->original_driver,
				strerror(-r));
		}
		(void)topology_driver(&o->e->topo, d->address, &driver);
		if (!driver) {
			r = op_probe_device(o, d, "release-probe", &timeout, &driver);
			snprintf(what, sizeof(what), "%s's probe of it", d->original_driver);
			if (r < 0 && op_device_gone_or_stuck(o, d, label, r, timeout, what))
				return r;
			if (r < 0)
				op_fail(o, label, "probing it failed: %s", op_step_error(o, r, why));
		}
	} else
		(void)topology_driver(&o->e->topo, d->address, &driver);
	if (!driver && d->original_driver) {
		op_fail(o, label,
			"it has no driver (it had %s); run: hookctl release %s, or: echo %s > "
			"/sys/bus/pci/drivers_probe",
			d->original_driver, vm, d->address);
		return -EIO;
	}
	if (!driver_is(driver, d->original_driver)) {
		op_fail(o, label, "it is on %s, not on %s as before; run: hookctl release %s", driver,
			d->original_driver ? d->original_driver : "no driver", vm);
		return -EIO;
	}
	d->step = DEVICE_RESTORED;
	log_ctx(LOG_INFO, vm, o->op, d->address, "returned to %s",
		d->original_driver ? d->original_driver : "no driver");
	return 0;
}

/* Undo everything the plan says was done, in reverse: devices, then modules, then the console, then the host
 * changes. Every step is tried; returns the first error. */
static int undo(struct operation *o)
{
	struct plan *p = o->plan;
	unsigned timeout;
	int first = 0, r;

	for (size_t i = p->n_devices; i-- > 0;) {
		struct plan_device *d = &p->devices[i];

		/* A device the journal calls restored is believed only if the tree agrees. */
		if (d->step == DEVICE_PLANNED || (d->step == DEVICE_RESTORED && device_is_home(o, d)))
			continue;
		r = op_restore_device(o, d);
		first = first ? first : r;
	}
	for (size_t i = p->n_modules; i-- > 0;) {
		struct plan_module *m = &p->modules[i];

		if (m->step != MODULE_UNLOADING && m->step != MODULE_UNLOADED)
			continue;
		timeout = 0;
		r = engine_step_fault("module-reload", m->name);
		if (r >= 0)
			r = op_module_load(o, m->name, &timeout);
		if (r < 0) {
			char what[128], why[96];

			snprintf(what, sizeof(what), "module %s", m->name);
			op_fail(o, what, "cannot load it again: %s", module_failure_reason(r, timeout, why));
			first = first ? first : r;
			continue;
		}
		m->step = MODULE_RELOADED;
		log_ctx(LOG_INFO, p->vm, o->op, NULL, "loaded module %s again", m->name);
	}
	if (p->console == CONSOLE_RELEASING) {
		r = op_restore_console(o);
		first = first ? first : r;
	}
	r = host_changes(o, host_changes_undo);
	return first ? first : r;
}

/* ---- the public calls ---- */

int engine_new(const struct engine_options *opts, struct engine **ret)
{
	struct engine *e;
	int r;

	r = engine_new_with(opts, kernel_running_new, &e);
	if (r < 0)
		return r;
	if (!e->host_bus) {
		/* A fixture tree is not this host: its VMs may read the host's units but never stop one. */
		r = kernel_sysfs_root_is_live(opts->sysfs_root) ? host_bus_system_open(&e->own_bus)
								: host_bus_read_only_open(&e->own_bus);
		if (r < 0) {
			engine_free(e);
			return r;
		}
		e->close_own_bus = host_bus_system_close;
		e->host_bus = &e->own_bus;
	}
	*ret = e;
	return 0;
}

int engine_recover(struct engine *e)
{
	_cleanup_strv_free_ char **vms = NULL;
	int r;

	r = journal_init(e->run_dir);
	if (r < 0)
		return r;
	r = journal_list(e->run_dir, &vms);
	if (r < 0)
		return r;
	for (char **vm = vms; *vm; vm++) {
		_cleanup_(plan_freep) struct plan *p = NULL;

		r = journal_load(e->run_dir, *vm, &p);
		if (r < 0) {
			log_ctx(LOG_ERR, *vm, "recover", NULL, "its journal cannot be read: %s", strerror(-r));
			continue;
		}
		if (p->phase == PHASE_PREPARING || p->phase == PHASE_RELEASING) {
			/* The process died part-way: say so, and let the next release undo what was done. */
			log_ctx(LOG_WARNING, *vm, "recover", NULL, "an interrupted %s was found; release will undo it",
				p->phase == PHASE_PREPARING ? "prepare" : "release");
			p->phase = PHASE_FAILED;
			if (!p->error)
				p->error = strdup("interrupted: hookd stopped part-way");
			r = record(e, p);
			if (r < 0)
				return r;
		} else if (p->phase == PHASE_PREPARED && p->n_host_changes > 0) {
			struct host_context ctx;

			/* What the earlier hookd's process held for a VM that still runs (a sleep inhibitor's fd)
			 * went with it. A failure is logged; the VM keeps its devices and release still works. */
			engine_host_context(e, p->vm, e->sysfs_timeout_ms, &ctx);
			(void)host_changes_resume(&ctx, p);
		}
	}
	return 0;
}

static void operation_start(struct operation *o, struct engine *e, struct plan *p, const char *op)
{
	*o = (struct operation){ .e = e, .plan = p, .op = op, .deadline_ms = monotonic_ms() + e->operation_timeout_ms };
}

int engine_prepare(struct engine *e, const struct vm_config *vm, const char *domain_xml, char **ret_message)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_close_ int lock = -1;
	struct diag problems = { 0 }, warnings = { 0 };
	struct operation o;
	const char *why;
	int r;

	*ret_message = NULL;
	if (vm_name_validate(vm->name, &why) < 0) {
		if (asprintf(ret_message, "VM name is not usable: %s", why) < 0)
			*ret_message = NULL;
		return ENGINE_REFUSED;
	}
	r = journal_init(e->run_dir);
	if (r < 0) {
		if (asprintf(ret_message, "VM %s: cannot create the journal directory %s/state: %s", vm->name,
			     e->run_dir, journal_error(r)) < 0)
			*ret_message = NULL;
		return r;
	}
	lock = journal_lock(e->run_dir, engine_lock_timeout_ms(e));
	if (lock == -ETIMEDOUT) {
		if (asprintf(ret_message,
			     "VM %s: another prepare or check has held the journal lock %s/state/.lock "
			     "for over %u ms; nothing was changed, try again",
			     vm->name, e->run_dir, engine_lock_timeout_ms(e)) < 0)
			*ret_message = NULL;
		return ENGINE_REFUSED;
	}
	r = lock < 0 ? lock : build_checked_plan(e, vm, domain_xml, &p, &problems, &warnings, NULL);
	for (size_t i = 0; r == 0 && i < warnings.n; i++)
		log_ctx(LOG_WARNING, vm->name, "prepare", NULL, "%s", warnings.lines[i]);
	diag_clear(&warnings);
	if (r == 0) {
		p->phase = PHASE_PREPARING;
		r = record(e, p); /* the claim, recorded before the lock goes */
		if (r < 0 && asprintf(ret_message,
				      "VM %s: cannot record the claim in the journal under %s/state, so "
				      "nothing was changed: %s",
				      vm->name, e->run_dir, journal_error(r)) < 0)
			*ret_message = NULL;
	}
	closep(&lock);
	lock = -1;
	if (r == ENGINE_REFUSED) {
		*ret_message = problems.n ? strdup(problems.lines[0]) : NULL;
		diag_clear(&problems);
		return r;
	}
	diag_clear(&problems);
	if (r < 0) {
		if (!*ret_message && asprintf(ret_message, "VM %s: %s", vm->name, strerror(-r)) < 0)
			*ret_message = NULL;
		return r;
	}

	operation_start(&o, e, p, "prepare");
	r = apply(&o);
	if (r >= 0) {
		p->phase = PHASE_PREPARED;
		r = save(&o);
	}
	if (r < 0) {
		/* The rollback gets a budget of its own: a prepare that failed by using up its time must still
		 * start the display manager again and give the devices back. */
		o.deadline_ms = monotonic_ms() + e->operation_timeout_ms;
		(void)undo(&o);
		p->phase = PHASE_FAILED;
		p->error = o.first_error ? strdup(o.first_error) : NULL;
		if (record(e, p) < 0)
			log_ctx(LOG_ERR, vm->name, "prepare", NULL, "the journal could not record the rollback either");
		*ret_message = TAKE_PTR(o.first_error);
		operation_clear(&o);
		return r;
	}
	operation_clear(&o);
	log_ctx(LOG_INFO, vm->name, "prepare", NULL, "%zu device(s) on vfio-pci", p->n_devices);
	return 0;
}

int engine_release(struct engine *e, const char *vm_name, char **ret_message)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	struct operation o;
	const char *why;
	int r, recorded;

	*ret_message = NULL;
	if (vm_name_validate(vm_name, &why) < 0) {
		if (asprintf(ret_message, "VM name is not usable: %s", why) < 0)
			*ret_message = NULL;
		return -EINVAL;
	}
	r = journal_load(e->run_dir, vm_name, &p);
	if (r == -ENOENT)
		return 0; /* nothing was done: nothing to undo */
	if (r < 0) {
		if (asprintf(ret_message, "VM %s: its journal cannot be read: %s", vm_name, strerror(-r)) < 0)
			*ret_message = NULL;
		return r;
	}
	operation_start(&o, e, p, "release");
	p->phase = PHASE_RELEASING;
	/* Giving the devices back matters more than recording that it started: a journal that cannot be
	 * written does not stop a release, it is reported. */
	recorded = record(e, p);
	r = undo(&o);
	if (r < 0 || o.failures.n) {
		/* Keep the journal: the next release tries what is left. No release runs now. */
		p->phase = PHASE_FAILED;
		free(p->error);
		p->error = o.first_error ? strdup(o.first_error) : NULL;
		if (record(e, p) < 0 || recorded < 0)
			diag_add(&o.failures,
				 "VM %s: what is left could not be recorded in the journal under %s/state "
				 "(%s); status may show an older state",
				 vm_name, e->run_dir, journal_error(recorded < 0 ? recorded : -ENOSPC));
		*ret_message = diag_join(&o.failures, "; ");
		operation_clear(&o);
		return r < 0 ? r : -EIO;
	}
	operation_clear(&o);
	r = journal_remove(e->run_dir, vm_name);
	engine_note_journal(e, vm_name, r);
	if (r < 0) {
		if (asprintf(ret_message,
			     "VM %s: every device is back, but its journal %s/state/%s.state cannot be "
			     "removed: %s",
			     vm_name, e->run_dir, vm_name, strerror(-r)) < 0)
			*ret_message = NULL;
		return r;
	}
	log_ctx(LOG_INFO, vm_name, "release", NULL, "every device is back on its host driver");
	return 0;
}

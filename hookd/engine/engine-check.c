/* The engine's read side: the engine object, and the one path from a VM's configuration to a checked plan
 * (resolve, the VM's own journal, other VMs' claims, the devices' viability, the module plan, the console)
 * that prepare and the dry run (engine_check, hookctl check) both take. Nothing here writes to sysfs or
 * changes a module: hookctl links this side only. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "checks.h"
#include "engine.h"
#include "engine-internal.h"
#include "host-changes.h"
#include "journal.h"
#include "kernel.h"
#include "modules.h"
#include "plan.h"
#include "topology.h"
#include "util.h"

int engine_new_with(const struct engine_options *opts, running_kernel_fn make_running_kernel, struct engine **ret)
{
	struct engine *e;
	int r;

	if (!opts || !opts->sysfs_root || !opts->run_dir)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* First: engine_free() below destroys it on every failure path. */
	pthread_mutex_init(&e->journal_failures_lock, NULL);
	e->sysfs_root = strdup(opts->sysfs_root);
	e->proc_root = strdup(opts->proc_root ? opts->proc_root : "/proc");
	e->run_dir = strdup(opts->run_dir);
	if (!e->sysfs_root || !e->proc_root || !e->run_dir) {
		engine_free(e);
		return -ENOMEM;
	}
	e->sysfs_timeout_ms = opts->sysfs_timeout_ms ? opts->sysfs_timeout_ms : 10000;
	e->operation_timeout_ms = opts->operation_timeout_ms ? opts->operation_timeout_ms : 60000;
	e->topo = (struct topology){ .sysfs_root = e->sysfs_root, .proc_root = e->proc_root };
	if (opts->kernel)
		e->kernel = *opts->kernel;
	else {
		r = make_running_kernel(e->sysfs_root, e->proc_root, opts->change_modules, &e->kernel);
		if (r < 0) {
			engine_free(e);
			return r;
		}
		e->owns_kernel = true;
	}
	e->host_bus = opts->host_bus;
	*ret = e;
	return 0;
}

static int read_only_kernel(const char *sysfs_root, const char *proc_root, bool change_modules, struct kernel *ret)
{
	return kernel_read_only_new(sysfs_root, proc_root, ret);
}

int engine_new_read_only(const struct engine_options *opts, struct engine **ret)
{
	return engine_new_with(opts, read_only_kernel, ret);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	if (e->owns_kernel)
		kernel_running_free(&e->kernel);
	if (e->close_own_bus)
		e->close_own_bus(&e->own_bus);
	pthread_mutex_destroy(&e->journal_failures_lock);
	diag_clear(&e->journal_failures);
	free(e->sysfs_root);
	free(e->proc_root);
	free(e->run_dir);
	free(e);
}

/* Replace the plan's module list by the live ones, in unload order; problems go to DIAG. */
static int plan_modules(struct engine *e, struct plan *p, struct diag *diag)
{
	size_t n = p->n_modules, n_order = 0;
	_cleanup_free_ struct module_info *infos = calloc(n + 1, sizeof(*infos));
	_cleanup_free_ size_t *order = calloc(n + 1, sizeof(size_t));
	struct plan_module *live = NULL;
	int r = 0;

	if (!infos || !order)
		return -ENOMEM;
	if (n == 0)
		return 0;
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = e->kernel.ops->module_info(e->kernel.data, p->modules[i].name, &infos[i], e->sysfs_timeout_ms);
	if (r < 0 && r != -ENOMEM) {
		struct utsname u;

		/* No module tree for the running kernel: a refusal to explain, not an opaque errno. */
		uname(&u);
		diag_add(diag, "VM %s: unload-modules is set but libkmod cannot read /lib/modules/%s: %s", p->vm,
			 u.release, strerror(-r));
		r = -EBUSY;
	}
	if (r >= 0)
		r = modules_unload_order(p->vm, infos, n, order, &n_order, diag);
	if (r >= 0 && !(live = calloc(n_order + 1, sizeof(*live))))
		r = -ENOMEM;
	if (r >= 0) {
		/* Absent and built-in modules drop out: there is nothing to unload or reload. */
		for (size_t i = 0; i < n_order; i++)
			live[i].name = TAKE_PTR(infos[order[i]].name);
		for (size_t i = 0; i < n; i++)
			free(p->modules[i].name);
		free(p->modules);
		p->modules = live;
		p->n_modules = n_order;
	}
	for (size_t i = 0; i < n; i++)
		module_info_clear(&infos[i]);
	return r == -EBUSY ? 0 : r;
}

/* Is ADDRESS claimed by another VM's journal? Devices of a VM that is preparing, prepared or releasing are
 * all claimed; after a failed prepare only those not yet given back. */
static int check_claims(struct engine *e, const struct plan *p, struct diag *diag)
{
	_cleanup_strv_free_ char **vms = NULL;
	int r;

	r = journal_list(e->run_dir, &vms);
	if (r < 0)
		return r;
	for (char **vm = vms; *vm; vm++) {
		_cleanup_(plan_freep) struct plan *other = NULL;

		if (streq(*vm, p->vm) || journal_load(e->run_dir, *vm, &other) < 0)
			continue;
		for (size_t i = 0; i < other->n_devices; i++) {
			const struct plan_device *od = &other->devices[i];
			const struct plan_device *d = plan_find_device(p, od->address);
			char label[96];

			if (!d || od->step == DEVICE_RESTORED)
				continue;
			if (other->phase == PHASE_FAILED && od->step == DEVICE_PLANNED)
				continue;
			diag_add(diag, "VM %s: %s: the device belongs to VM %s, which hookd has %s", p->vm,
				 plan_device_label(d, label), other->vm, plan_phase_to_string(other->phase));
		}
	}
	return 0;
}

/* Is the VM's own journal still holding something? Then it must be released before a new prepare. */
static int check_own_journal(struct engine *e, const struct plan *p, struct diag *diag)
{
	_cleanup_(plan_freep) struct plan *old = NULL;
	bool busy = false;
	int r;

	r = journal_load(e->run_dir, p->vm, &old);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		diag_add(diag, "VM %s: its journal under %s/state cannot be read (%s); run 'hookctl release %s' first",
			 p->vm, e->run_dir, strerror(-r), p->vm);
		return 0;
	}
	for (size_t i = 0; i < old->n_devices; i++)
		busy |= old->devices[i].step != DEVICE_PLANNED && old->devices[i].step != DEVICE_RESTORED;
	for (size_t i = 0; i < old->n_modules; i++)
		busy |= old->modules[i].step == MODULE_UNLOADING || old->modules[i].step == MODULE_UNLOADED;
	busy |= old->console == CONSOLE_RELEASING;
	busy |= old->phase == PHASE_PREPARED || old->phase == PHASE_PREPARING;
	if (busy)
		diag_add(diag,
			 "VM %s: hookd still holds its devices (%s); give them back first with 'hookctl release %s'",
			 p->vm,
			 old->phase == PHASE_FAILED ? "a failed prepare left some behind"
						    : plan_phase_to_string(old->phase),
			 p->vm);
	return 0;
}

void engine_host_context(struct engine *e, const char *vm, unsigned timeout_ms, struct host_context *ret)
{
	*ret = (struct host_context){
		.vm = vm,
		.kernel = &e->kernel,
		.sysfs_root = e->sysfs_root,
		.proc_root = e->proc_root,
		.run_dir = e->run_dir,
		.bus = e->host_bus,
		.timeout_ms = timeout_ms,
	};
}

int build_checked_plan(struct engine *e, const struct vm_config *vm, const char *xml, struct plan **ret,
		       struct diag *diag, struct diag *warnings, struct diag *holders)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	int r;

	*ret = NULL;
	r = plan_resolve(&e->topo, vm, xml, &p, diag);
	if (r < 0 && r != -EINVAL)
		return r;
	if (!p) /* resolution problems only: nothing more to check */
		return ENGINE_REFUSED;
	r = check_own_journal(e, p, diag);
	if (r >= 0)
		r = check_claims(e, p, diag);
	if (r >= 0 && xml)
		r = plan_check_managed_hostdevs(p, xml, diag);
	/* Host changes are planned before the devices are checked: a device whose holders the plan frees (and
	 * waits for) is not refused for them. */
	if (r >= 0) {
		struct host_context ctx;

		engine_host_context(e, p->vm, e->sysfs_timeout_ms, &ctx);
		r = host_changes_plan(&ctx, vm, xml, p, diag);
	}
	if (r >= 0 && p->n_devices > 0)
		r = plan_check_devices(&e->topo, p, diag, warnings, holders);
	if (r >= 0)
		r = plan_modules(e, p, diag);
	if (r >= 0 && p->release_console) {
		strv_free(p->vtconsoles);
		p->vtconsoles = NULL;
		r = topology_bound_fb_vtconsoles(&e->topo, &p->vtconsoles);
		if (r >= 0) {
			strv_free(p->firmware_fbs);
			p->firmware_fbs = NULL;
			r = topology_bound_firmware_fbs(&e->topo, &p->firmware_fbs);
		}
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return diag->n > 0 ? ENGINE_REFUSED : 0;
}

static json_object *strings_json(const struct diag *d)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < d->n; i++)
		json_object_array_add(list, json_object_new_string(d->lines[i]));
	return list;
}

int engine_check(struct engine *e, const struct vm_config *vm, const char *domain_xml, json_object **ret)
{
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_close_ int lock = -1;
	struct diag problems = { 0 }, warnings = { 0 }, holders = { 0 };
	json_object *o;
	int r;

	/* The lock only keeps other VMs' claims still while they are read; each journal is replaced
	 * atomically, so a check that cannot have the lock in time reads them without it. */
	if (access(e->run_dir, F_OK) == 0 && journal_init(e->run_dir) >= 0)
		lock = journal_lock(e->run_dir, engine_lock_timeout_ms(e));
	r = build_checked_plan(e, vm, domain_xml, &p, &problems, &warnings, &holders);
	if (r < 0) {
		diag_clear(&problems);
		diag_clear(&warnings);
		diag_clear(&holders);
		return r;
	}
	o = json_object_new_object();
	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "ok", json_object_new_boolean(problems.n == 0));
	json_object_object_add(o, "problems", strings_json(&problems));
	json_object_object_add(o, "warnings", strings_json(&warnings));
	json_object_object_add(o, "holders", strings_json(&holders));
	json_object_object_add(o, "plan", p ? plan_to_json(p) : NULL);
	if (p) {
		struct host_context ctx;

		engine_host_context(e, p->vm, e->sysfs_timeout_ms, &ctx);
		json_object_object_add(o, "host_changes", host_changes_to_json(&ctx, p, true));
	}
	diag_clear(&problems);
	diag_clear(&warnings);
	diag_clear(&holders);
	*ret = o;
	return 0;
}

/* The daemon's view of the configuration, one file at a time: stamps that tell whether a file changed since
 * it was read, a VM file read again on its own, and the last good version of a VM kept across a reload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "strv.h"
#include "util.h"
#include "vmname.h"

int config_stamp_get(const char *path, struct config_stamp *ret)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		*ret = (struct config_stamp){ .exists = false };
		return 0;
	}
	*ret = (struct config_stamp){
		.exists = true,
		.dev = st.st_dev,
		.ino = st.st_ino,
		.size = st.st_size,
		.mtime = st.st_mtim,
		.ctime = st.st_ctim,
	};
	return 0;
}

bool config_stamp_equal(const struct config_stamp *a, const struct config_stamp *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int strdup_to(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

struct vm_config *vm_config_dup(const struct vm_config *c)
{
	_cleanup_(vm_config_freep) struct vm_config *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->release_console = c->release_console;
	d->devices_from_xml = c->devices_from_xml;
	d->whole_group = c->whole_group;
	d->hugepages = c->hugepages;
	d->end_sessions = c->end_sessions;
	d->inhibit_sleep = c->inhibit_sleep;
	d->holders_timeout_set = c->holders_timeout_set;
	d->holders_timeout_ms = c->holders_timeout_ms;
	d->isolate_cpus = c->isolate_cpus;
	d->steer_irqs = c->steer_irqs;
	d->stamp = c->stamp;
	if (strdup_to(&d->name, c->name) < 0 || strdup_to(&d->path, c->path) < 0 ||
	    strdup_to(&d->vm_cpus, c->vm_cpus) < 0 || strdup_to(&d->cpu_governor, c->cpu_governor) < 0 ||
	    strdup_to(&d->energy_performance_preference, c->energy_performance_preference) < 0)
		return NULL;
	d->unload_modules = calloc(c->n_unload_modules + 1, sizeof(char *));
	d->devices = calloc(c->n_devices + 1, sizeof(*d->devices));
	if (!d->unload_modules || !d->devices)
		return NULL;
	for (; d->n_unload_modules < c->n_unload_modules; d->n_unload_modules++)
		if (strdup_to(&d->unload_modules[d->n_unload_modules], c->unload_modules[d->n_unload_modules]) < 0)
			return NULL;
	for (size_t i = 0; i < c->n_stop_units; i++)
		if (strv_push(&d->stop_units, &d->n_stop_units, c->stop_units[i]) < 0)
			return NULL;
	for (; d->n_devices < c->n_devices; d->n_devices++) {
		const struct vm_device_config *from = &c->devices[d->n_devices];
		struct vm_device_config *to = &d->devices[d->n_devices];

		*to = *from;
		to->name = to->address = to->reset_method = NULL;
		if (strdup_to(&to->name, from->name) < 0 || strdup_to(&to->address, from->address) < 0 ||
		    strdup_to(&to->reset_method, from->reset_method) < 0) {
			d->n_devices++; /* so that what was copied is freed */
			return NULL;
		}
	}
	return TAKE_PTR(d);
}

static int problem_copy(struct vm_config_problem *to, const struct vm_config_problem *from)
{
	*to = (struct vm_config_problem){ .stamp = from->stamp, .last_good_kept = from->last_good_kept };
	if (strdup_to(&to->name, from->name) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < from->diag.n; i++)
		diag_add(&to->diag, "%s", from->diag.lines[i]);
	return to->diag.n == from->diag.n ? 0 : -ENOMEM;
}

struct hookd_config *hookd_config_dup(const struct hookd_config *c)
{
	_cleanup_(hookd_config_freep) struct hookd_config *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->operation_timeout_ms = c->operation_timeout_ms;
	d->sysfs_timeout_ms = c->sysfs_timeout_ms;
	d->hook_timeout_ms = c->hook_timeout_ms;
	if (strdup_to(&d->conf_dir, c->conf_dir) < 0)
		return NULL;
	/* Room for one more of each: hookd_config_refresh_vm adds at most one. */
	d->vms = calloc(c->n_vms + 1, sizeof(*d->vms));
	d->broken = calloc(c->n_broken + 1, sizeof(*d->broken));
	if (!d->vms || !d->broken)
		return NULL;
	for (; d->n_vms < c->n_vms; d->n_vms++)
		if (!(d->vms[d->n_vms] = vm_config_dup(c->vms[d->n_vms])))
			return NULL;
	for (; d->n_broken < c->n_broken; d->n_broken++)
		if (problem_copy(&d->broken[d->n_broken], &c->broken[d->n_broken]) < 0) {
			d->n_broken++;
			return NULL;
		}
	for (size_t i = 0; i < c->global_problems.n; i++)
		diag_add(&d->global_problems, "%s", c->global_problems.lines[i]);
	if (d->global_problems.n != c->global_problems.n)
		return NULL;
	return TAKE_PTR(d);
}

const struct vm_config_problem *hookd_config_find_problem(const struct hookd_config *c, const char *vm_name)
{
	for (size_t i = 0; c && vm_name && i < c->n_broken; i++)
		if (streq(c->broken[i].name, vm_name))
			return &c->broken[i];
	return NULL;
}

static int cmp_vm(const void *a, const void *b)
{
	return strcmp((*(struct vm_config *const *)a)->name, (*(struct vm_config *const *)b)->name);
}

/* Remove VM's entries (good and broken) from c, which is ours. */
static void forget_vm(struct hookd_config *c, const char *vm_name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (streq(c->vms[i]->name, vm_name)) {
			vm_config_free(c->vms[i]);
			memmove(&c->vms[i], &c->vms[i + 1], (c->n_vms - i - 1) * sizeof(*c->vms));
			c->n_vms--;
			break;
		}
	for (size_t i = 0; i < c->n_broken; i++)
		if (streq(c->broken[i].name, vm_name)) {
			free(c->broken[i].name);
			diag_clear(&c->broken[i].diag);
			memmove(&c->broken[i], &c->broken[i + 1], (c->n_broken - i - 1) * sizeof(*c->broken));
			c->n_broken--;
			break;
		}
}

int hookd_config_refresh_vm(const struct hookd_config *c, const char *vm_name, struct hookd_config **ret)
{
	_cleanup_(hookd_config_freep) struct hookd_config *d = NULL;
	const struct vm_config *good = hookd_config_find_vm(c, vm_name);
	const struct vm_config_problem *bad = hookd_config_find_problem(c, vm_name);
	struct config_stamp now, known = { .exists = false };
	_cleanup_free_ char *path = NULL;
	struct vm_config *vm = NULL;
	struct diag diag = { 0 };
	const char *why;
	int r;

	*ret = NULL;
	if (vm_name_validate(vm_name, &why) < 0)
		return -EINVAL;
	if (asprintf(&path, "%s/vms/%s.ini", c->conf_dir, vm_name) < 0)
		return -ENOMEM;
	r = config_stamp_get(path, &now);
	if (r < 0)
		return r;
	/* A broken file is what is on disk even when the last good version is kept. */
	if (bad)
		known = bad->stamp;
	else if (good)
		known = good->stamp;
	if (config_stamp_equal(&now, &known))
		return 0;

	d = hookd_config_dup(c);
	if (!d)
		return -ENOMEM;
	forget_vm(d, vm_name);
	r = now.exists ? vm_config_load(c->conf_dir, vm_name, &vm, &diag) : -ENOENT;
	if (r == -ENOMEM) {
		diag_clear(&diag);
		return r;
	}
	if (r >= 0) {
		d->vms[d->n_vms++] = vm;
		qsort(d->vms, d->n_vms, sizeof(*d->vms), cmp_vm);
	} else if (r != -ENOENT || diag.n > 0) {
		struct vm_config_problem *b = &d->broken[d->n_broken];

		if (diag.n == 0)
			diag_add(&diag, "%s: %s", path, strerror(-r));
		*b = (struct vm_config_problem){ .name = strdup(vm_name), .stamp = now, .diag = diag };
		diag = (struct diag){ 0 };
		d->n_broken++;
		if (!b->name)
			return -ENOMEM;
	}
	diag_clear(&diag);
	*ret = TAKE_PTR(d);
	return 1;
}

int hookd_config_keep_last_good(struct hookd_config *fresh, const struct hookd_config *old)
{
	size_t kept = 0;
	struct vm_config **grown;

	for (size_t i = 0; i < fresh->n_broken; i++)
		kept += hookd_config_find_vm(old, fresh->broken[i].name) != NULL;
	if (kept == 0)
		return 0;
	grown = realloc(fresh->vms, (fresh->n_vms + kept) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	fresh->vms = grown;
	for (size_t i = 0; i < fresh->n_broken; i++) {
		const struct vm_config *last = hookd_config_find_vm(old, fresh->broken[i].name);
		struct vm_config *copy;

		if (!last)
			continue;
		copy = vm_config_dup(last);
		if (!copy)
			return -ENOMEM;
		fresh->vms[fresh->n_vms++] = copy;
		fresh->broken[i].last_good_kept = true;
	}
	qsort(fresh->vms, fresh->n_vms, sizeof(*fresh->vms), cmp_vm);
	return 0;
}

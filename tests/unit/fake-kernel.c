/* The fake kernel: modules, and what the test sets up and asks (fake-kernel.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake-kernel-internal.h"
#include "topology.h"
#include "util.h"

/* ---- modules ---- */

static int holders_of(struct fake_kernel *k, const struct fk_module *m, char ***ret)
{
	char **v = fk_xcalloc(k->n_modules + 1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < k->n_modules; i++)
		for (char **d = k->modules[i].depends; k->modules[i].loaded && d && *d; d++)
			if (streq(*d, m->name))
				v[n++] = fk_xstrdup(k->modules[i].name);
	*ret = v;
	return (int)n;
}

static int fk_module_info(void *data, const char *name, struct module_info *ret, unsigned timeout_ms)
{
	struct fake_kernel *k = data;
	struct fk_module *m;

	memset(ret, 0, sizeof(*ret));
	ret->name = fk_normalized(name);
	pthread_mutex_lock(&k->lock);
	m = fk_find_module(k, name);
	if (!m || !m->loaded) {
		ret->state = MODULE_ABSENT;
		ret->holders = fk_xcalloc(1, sizeof(char *));
	} else {
		ret->state = MODULE_LIVE;
		ret->refcnt = holders_of(k, m, &ret->holders) + m->users;
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int unload_job(struct fake_kernel *k, const char *name, const char *unused)
{
	_cleanup_strv_free_ char **holders = NULL;
	struct fk_module *m;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	m = fk_find_module(k, name);
	if (m && m->loaded) {
		if (holders_of(k, m, &holders) + m->users > 0)
			r = -EBUSY;
		else {
			/* Its drivers' remove() runs for each bound device, then the drivers go. */
			for (size_t i = 0; i < k->n_drivers; i++) {
				_cleanup_free_ char *dir = NULL;

				if (!streq_ptr(k->drivers[i].module, m->name))
					continue;
				for (size_t j = 0; j < k->n_devices; j++)
					if (streq_ptr(k->devices[j].driver, k->drivers[i].name)) {
						fk_logf(k, "unbind %s %s", k->devices[j].address, k->drivers[i].name);
						fk_unlink_driver(k, &k->devices[j]);
					}
				dir = fk_sys_path(k, "bus/pci/drivers/%s", k->drivers[i].name);
				fk_rm_rf(dir);
			}
			m->loaded = false;
			fk_logf(k, "unload %s", m->name);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

static void load_locked(struct fake_kernel *k, struct fk_module *m)
{
	if (m->loaded)
		return;
	for (char **d = m->depends; d && *d; d++)
		load_locked(k, fk_find_module(k, *d));
	m->loaded = true;
	fk_logf(k, "load %s", m->name);
	for (size_t i = 0; i < k->n_drivers; i++)
		if (streq_ptr(k->drivers[i].module, m->name))
			fk_make_driver_dir(k, &k->drivers[i]);
	/* driver_attach(): every unbound device a new driver matches is probed. */
	for (size_t j = 0; j < k->n_devices; j++) {
		struct fk_device *dev = &k->devices[j];
		const char *driver = fk_matching_driver(k, dev);
		struct fk_driver *d = driver ? fk_find_driver(k, driver) : NULL;

		if (!dev->gone && !dev->driver && d && streq_ptr(d->module, m->name))
			(void)fk_probe_locked(k, dev, driver);
	}
}

static int load_job(struct fake_kernel *k, const char *name, const char *unused)
{
	struct fk_module *m;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	m = fk_find_module(k, name);
	if (!m)
		r = -ENOENT;
	else
		load_locked(k, m);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* A module's exit and init run its drivers' remove() and probe(), which can block like any other. */
static int fk_module_unload(void *data, const char *name, unsigned timeout_ms)
{
	return fk_run_job(data, unload_job, name, "");
}

static int fk_module_load(void *data, const char *name, unsigned timeout_ms)
{
	return fk_run_job(data, load_job, name, "");
}

static const struct kernel_ops fake_ops = {
	.sysfs_write = fk_sysfs_write,
	.proc_write = fk_proc_write,
	.sysfs_write_stoppable = fk_sysfs_write_stoppable,
	.module_info = fk_module_info,
	.module_unload = fk_module_unload,
	.module_load = fk_module_load,
};

/* ---- the test's side ---- */

static struct fk_module *add_module(struct fake_kernel *k, const char *name, bool loaded)
{
	struct fk_module *m = fk_find_module(k, name);

	if (m)
		return m;
	k->modules = realloc(k->modules, (k->n_modules + 1) * sizeof(*k->modules));
	CHECK(k->modules);
	m = &k->modules[k->n_modules++];
	*m = (struct fk_module){ .name = fk_normalized(name),
				 .loaded = loaded,
				 .depends = fk_xcalloc(1, sizeof(char *)) };
	return m;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of DIR (no dot entries). */
static char **list_dir(const char *dir, size_t *n)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	char **v = fk_xcalloc(1, sizeof(char *));
	struct dirent *de;

	*n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		v = realloc(v, (*n + 2) * sizeof(char *));
		CHECK(v);
		v[(*n)++] = fk_xstrdup(de->d_name);
		v[*n] = NULL;
	}
	qsort(v, *n, sizeof(char *), cmp_str);
	return v;
}

struct fake_kernel *fk_new(const struct fixture *f)
{
	struct fake_kernel *k = fk_xcalloc(1, sizeof(*k));
	_cleanup_free_ char *devdir = NULL, *drvdir = NULL;
	_cleanup_strv_free_ char **devices = NULL, **drivers = NULL;
	size_t n;

	k->f = f;
	k->kernel = (struct kernel){ .ops = &fake_ops, .data = k };
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);

	drvdir = fk_sys_path(k, "bus/pci/drivers");
	drivers = list_dir(drvdir, &n);
	for (char **d = drivers; *d; d++) {
		_cleanup_free_ char *link = fk_sys_path(k, "bus/pci/drivers/%s/module", *d);
		_cleanup_free_ char *module = fk_link_name(link);

		fk_add_driver(k, *d, module);
		if (module)
			add_module(k, module, true);
	}
	if (!fk_find_driver(k, "vfio-pci")) {
		fk_add_driver(k, "vfio-pci", "vfio_pci");
		add_module(k, "vfio_pci", false);
	}

	devdir = fk_sys_path(k, "bus/pci/devices");
	devices = list_dir(devdir, &n);
	k->devices = fk_xcalloc(n, sizeof(*k->devices));
	for (char **a = devices; *a; a++) {
		struct fk_device *dev = &k->devices[k->n_devices++];
		_cleanup_free_ char *link = fk_sys_path(k, "bus/pci/devices/%s/driver", *a);
		_cleanup_free_ char *resets = fk_sys_path(k, "bus/pci/devices/%s/reset_method", *a);
		_cleanup_free_ char *override = fk_sys_path(k, "bus/pci/devices/%s/driver_override", *a);
		_cleanup_free_ char *ov = fk_read_trimmed(override);

		CHECK(strlen(*a) == 12);
		memcpy(dev->address, *a, 13);
		dev->driver = fk_link_name(link);
		dev->default_driver = fk_xstrdup(dev->driver);
		dev->offered_resets = fk_read_trimmed(resets);
		dev->override = ov && *ov && !streq(ov, "(null)") ? fk_xstrdup(ov) : NULL;
		pthread_mutex_init(&dev->lock, NULL);
	}
	return k;
}

void fk_free(struct fake_kernel *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->n_devices; i++)
		k->devices[i].let_go = true;
	pthread_cond_broadcast(&k->cond);
	while (k->inflight > 0) {
		for (size_t i = 0; i < k->n_devices; i++)
			if (k->devices[i].blocked)
				k->devices[i].let_go = true;
		pthread_cond_broadcast(&k->cond);
		pthread_cond_wait(&k->cond, &k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	for (size_t i = 0; i < k->n_devices; i++) {
		struct fk_device *dev = &k->devices[i];

		free(dev->driver);
		free(dev->default_driver);
		free(dev->override);
		free(dev->offered_resets);
		pthread_mutex_destroy(&dev->lock);
	}
	for (size_t i = 0; i < k->n_drivers; i++) {
		free(k->drivers[i].name);
		free(k->drivers[i].module);
	}
	for (size_t i = 0; i < k->n_modules; i++) {
		free(k->modules[i].name);
		strv_free(k->modules[i].depends);
	}
	free(k->devices);
	free(k->drivers);
	free(k->modules);
	free(k->pools);
	for (size_t i = 0; i < k->n_managed_irqs; i++)
		free(k->managed_irqs[i]);
	free(k->managed_irqs);
	free(k->kept_irq);
	free(k->kept_affinity);
	free(k->log);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

const struct kernel *fk_kernel(struct fake_kernel *k)
{
	return &k->kernel;
}

void fk_set_default_driver(struct fake_kernel *k, const char *address, const char *driver)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	CHECK(dev);
	free(dev->default_driver);
	dev->default_driver = fk_xstrdup(driver);
	pthread_mutex_unlock(&k->lock);
}

void fk_add_module(struct fake_kernel *k, const char *name, bool loaded, const char *const *drivers)
{
	pthread_mutex_lock(&k->lock);
	add_module(k, name, loaded);
	for (const char *const *d = drivers; d && *d; d++) {
		struct fk_driver *drv = fk_add_driver(k, *d, name);

		if (loaded)
			fk_make_driver_dir(k, drv);
	}
	pthread_mutex_unlock(&k->lock);
}

void fk_module_depends(struct fake_kernel *k, const char *holder, const char *held)
{
	struct fk_module *m;
	size_t n;

	pthread_mutex_lock(&k->lock);
	CHECK(fk_find_module(k, held));
	m = fk_find_module(k, holder);
	CHECK(m);
	n = strv_length(m->depends);
	m->depends = realloc(m->depends, (n + 2) * sizeof(char *));
	CHECK(m->depends);
	m->depends[n] = fk_normalized(held);
	m->depends[n + 1] = NULL;
	pthread_mutex_unlock(&k->lock);
}

void fk_module_set_users(struct fake_kernel *k, const char *name, int users)
{
	struct fk_module *m;

	pthread_mutex_lock(&k->lock);
	m = fk_find_module(k, name);
	CHECK(m);
	m->users = users;
	pthread_mutex_unlock(&k->lock);
}

bool fk_module_loaded(struct fake_kernel *k, const char *name)
{
	struct fk_module *m;
	bool loaded;

	pthread_mutex_lock(&k->lock);
	m = fk_find_module(k, name);
	loaded = m && m->loaded;
	pthread_mutex_unlock(&k->lock);
	return loaded;
}

void fk_inject(struct fake_kernel *k, const char *address, enum fk_fault fault)
{
	struct fk_device *dev;

	CHECK((unsigned)fault < FK_FAULTS);
	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	CHECK(dev);
	dev->armed[fault] = true;
	dev->skip[fault] = 0;
	pthread_mutex_unlock(&k->lock);
}

void fk_inject_after(struct fake_kernel *k, const char *address, enum fk_fault fault, unsigned count)
{
	struct fk_device *dev;

	fk_inject(k, address, fault);
	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	dev->skip[fault] = count;
	pthread_mutex_unlock(&k->lock);
}

void fk_irq_keeps(struct fake_kernel *k, const char *irq, const char *affinity)
{
	free(k->kept_irq);
	free(k->kept_affinity);
	k->kept_irq = fk_xstrdup(irq);
	k->kept_affinity = fk_xstrdup(affinity);
}

void fk_irq_managed(struct fake_kernel *k, const char *irq)
{
	pthread_mutex_lock(&k->lock);
	k->managed_irqs = realloc(k->managed_irqs, (k->n_managed_irqs + 1) * sizeof(char *));
	CHECK(k->managed_irqs);
	k->managed_irqs[k->n_managed_irqs++] = fk_xstrdup(irq);
	pthread_mutex_unlock(&k->lock);
}

void fk_fbcon_follows_probe(struct fake_kernel *k, const char *address)
{
	pthread_mutex_lock(&k->lock);
	CHECK(strlen(address) == 12 && fk_find_device(k, address));
	memcpy(k->fbcon_gpu, address, 13);
	pthread_mutex_unlock(&k->lock);
}

bool fk_blocked(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;
	bool blocked;

	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	blocked = dev && dev->blocked;
	pthread_mutex_unlock(&k->lock);
	return blocked;
}

void fk_unblock(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	CHECK(dev && dev->blocked);
	dev->let_go = true;
	pthread_cond_broadcast(&k->cond);
	/* Done when nothing runs in the fake kernel but the steps still blocked on other devices. */
	for (;;) {
		unsigned others = 0;

		for (size_t i = 0; i < k->n_devices; i++)
			others += &k->devices[i] != dev && k->devices[i].blocked;
		if (!dev->blocked && k->inflight <= others)
			break;
		pthread_cond_wait(&k->cond, &k->lock);
	}
	pthread_mutex_unlock(&k->lock);
}

void fk_remove_device(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	CHECK(dev && !dev->gone);
	fk_remove_device_locked(k, dev);
	pthread_mutex_unlock(&k->lock);
}

const char *fk_log(struct fake_kernel *k)
{
	return k->log ? k->log : "";
}

void fk_log_clear(struct fake_kernel *k)
{
	pthread_mutex_lock(&k->lock);
	free(k->log);
	k->log = NULL;
	k->log_len = 0;
	pthread_mutex_unlock(&k->lock);
}

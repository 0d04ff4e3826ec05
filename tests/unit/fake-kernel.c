/* The fake kernel: see fake-kernel.h for what it does. Locking as the kernel's: a step that the kernel runs
 * under the device lock takes dev->lock first, then k->lock for the bookkeeping and the tree; a blocked step
 * waits on k->cond with dev->lock still held, so whatever needs the device lock queues behind it. */
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

#include "fake-kernel.h"
#include "pci.h"
#include "topology.h"
#include "util.h"

#define FK_FAULTS 4

struct fk_device {
	char address[13];
	char *driver;          /* bound now; NULL when unbound */
	char *default_driver;  /* what matches it without an override */
	char *override;        /* NULL when empty */
	char *offered_resets;  /* "flr bus"; NULL: the device has no reset_method attribute */
	pthread_mutex_t lock;  /* the device lock */
	bool gone;
	bool armed[FK_FAULTS];
	bool blocked;          /* a step is waiting in the fake kernel */
	bool let_go;           /* fk_unblock() was called for it */
};

struct fk_driver {
	char *name;
	char *module;  /* NULL: built in */
};

struct fk_module {
	char *name;
	bool loaded;
	int users;
	char **depends;  /* modules it holds, NULL-terminated */
};

struct fake_kernel {
	struct kernel kernel;
	const struct fixture *f;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* blocked, let_go and inflight changes */
	unsigned inflight;    /* writes in the fake kernel, counting those the engine gave up on */
	struct fk_device *devices;
	size_t n_devices;
	struct fk_driver *drivers;
	size_t n_drivers;
	struct fk_module *modules;
	size_t n_modules;
	char *log;
	size_t log_len;
};

/* ---- small helpers ---- */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	CHECK(p);
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	CHECK(!s || p);
	return p;
}

static char *normalized(const char *name)
{
	char *s = xstrdup(name);

	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static void fk_logf(struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fk_logf(struct fake_kernel *k, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	k->log = realloc(k->log, k->log_len + (size_t)n + 2);
	CHECK(k->log);
	memcpy(k->log + k->log_len, line, (size_t)n);
	k->log_len += (size_t)n;
	k->log[k->log_len++] = '\n';
	k->log[k->log_len] = '\0';
}

static char *sys_path(const struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sys_path(const struct fake_kernel *k, const char *fmt, ...)
{
	_cleanup_free_ char *rel = NULL;
	char *path;
	va_list ap;

	va_start(ap, fmt);
	CHECK(vasprintf(&rel, fmt, ap) >= 0);
	va_end(ap);
	CHECK(asprintf(&path, "%s/%s", k->f->sys, rel) >= 0);
	return path;
}

static int write_plain(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return negative_errno();
	return write(fd, text, len) == (ssize_t)len ? 0 : negative_errno();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	/* Only ever inside the fixture's mkdtemp directory. */
	CHECK(startswith(path, "/tmp/hookd-fixture-"));
	CHECK(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
}

/* Last component of the symlink at PATH, or NULL. */
static char *link_name(const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0)
		return NULL;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return xstrdup(slash ? slash + 1 : target);
}

static char *read_trimmed(const char *path)
{
	char buf[512];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* The kernel compares names with sysfs_streq: one trailing newline does not count. */
static char *trimmed_value(const char *value)
{
	char *s = xstrdup(value);
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\n')
		s[n - 1] = '\0';
	return s;
}

/* ---- lookups (k->lock held) ---- */

static struct fk_device *find_device(struct fake_kernel *k, const char *address)
{
	for (size_t i = 0; i < k->n_devices; i++)
		if (streq(k->devices[i].address, address))
			return &k->devices[i];
	return NULL;
}

static struct fk_driver *find_driver(struct fake_kernel *k, const char *name)
{
	for (size_t i = 0; i < k->n_drivers; i++)
		if (streq(k->drivers[i].name, name))
			return &k->drivers[i];
	return NULL;
}

static struct fk_module *find_module(struct fake_kernel *k, const char *name)
{
	_cleanup_free_ char *n = normalized(name);

	for (size_t i = 0; i < k->n_modules; i++)
		if (streq(k->modules[i].name, n))
			return &k->modules[i];
	return NULL;
}

static struct fk_driver *add_driver(struct fake_kernel *k, const char *name, const char *module)
{
	struct fk_driver *d = find_driver(k, name);

	if (d)
		return d;
	k->drivers = realloc(k->drivers, (k->n_drivers + 1) * sizeof(*k->drivers));
	CHECK(k->drivers);
	d = &k->drivers[k->n_drivers++];
	*d = (struct fk_driver){ .name = xstrdup(name), .module = module ? normalized(module) : NULL };
	return d;
}

static bool driver_registered(struct fake_kernel *k, const char *name)
{
	struct fk_driver *d = name ? find_driver(k, name) : NULL;
	struct fk_module *m;

	if (!d)
		return false;
	if (!d->module)
		return true;
	m = find_module(k, d->module);
	return m && m->loaded;
}

/* What the bus would bind DEV to now: the override when it names a registered driver, else the default. */
static const char *matching_driver(struct fake_kernel *k, const struct fk_device *dev)
{
	if (dev->override)
		return driver_registered(k, dev->override) ? dev->override : NULL;
	return driver_registered(k, dev->default_driver) ? dev->default_driver : NULL;
}

/* ---- the tree (k->lock held) ---- */

static void link_driver(struct fake_kernel *k, struct fk_device *dev, const char *driver)
{
	_cleanup_free_ char *path = sys_path(k, "bus/pci/devices/%s/driver", dev->address);
	_cleanup_free_ char *target = NULL;

	CHECK(asprintf(&target, "../../drivers/%s", driver) >= 0);
	unlink(path);
	CHECK(symlink(target, path) == 0);
	free(dev->driver);
	dev->driver = xstrdup(driver);
}

static void unlink_driver(struct fake_kernel *k, struct fk_device *dev)
{
	_cleanup_free_ char *path = sys_path(k, "bus/pci/devices/%s/driver", dev->address);

	CHECK(unlink(path) == 0);
	free(dev->driver);
	dev->driver = NULL;
}

static void make_driver_dir(struct fake_kernel *k, const struct fk_driver *d)
{
	_cleanup_free_ char *dir = sys_path(k, "bus/pci/drivers/%s", d->name);
	char rel[256];

	fx_mkdir_p(dir);
	snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/bind", d->name);
	fx_write(k->f, "sys", rel, "%s", "");
	snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", d->name);
	fx_write(k->f, "sys", rel, "%s", "");
	if (d->module) {
		char target[256];

		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/module", d->name);
		snprintf(target, sizeof(target), "../../../../module/%s", d->module);
		fx_link(k->f, rel, target);
	}
}

static void remove_device(struct fake_kernel *k, struct fk_device *dev)
{
	_cleanup_free_ char *dir = sys_path(k, "bus/pci/devices/%s", dev->address);
	_cleanup_free_ char *group_link = sys_path(k, "bus/pci/devices/%s/iommu_group", dev->address);
	_cleanup_free_ char *group = link_name(group_link);

	if (group) {
		_cleanup_free_ char *member = sys_path(k, "kernel/iommu_groups/%s/devices/%s", group, dev->address);

		unlink(member);
	}
	rm_rf(dir);
	free(dev->driver);
	dev->driver = NULL;
	dev->gone = true;
	fk_logf(k, "gone %s", dev->address);
}

/* Wait, holding DEV's lock, until the test lets the step go on. */
static void block_here(struct fake_kernel *k, struct fk_device *dev)
{
	dev->blocked = true;
	dev->let_go = false;
	pthread_cond_broadcast(&k->cond);
	while (!dev->let_go)
		pthread_cond_wait(&k->cond, &k->lock);
	dev->blocked = false;
	dev->let_go = false;
	pthread_cond_broadcast(&k->cond);
}

static bool take_fault(struct fk_device *dev, enum fk_fault f)
{
	bool armed = dev->armed[f];

	dev->armed[f] = false;
	return armed;
}

/* ---- the kernel's steps ---- */

/* Look ADDRESS up and take its device lock, then k->lock; NULL (nothing held) when there is no such device. */
static struct fk_device *lock_device(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = find_device(k, address);
	pthread_mutex_unlock(&k->lock);
	if (!dev)
		return NULL;
	pthread_mutex_lock(&dev->lock);
	pthread_mutex_lock(&k->lock);
	if (dev->gone) {
		pthread_mutex_unlock(&k->lock);
		pthread_mutex_unlock(&dev->lock);
		return NULL;
	}
	return dev;
}

static void unlock_device(struct fake_kernel *k, struct fk_device *dev)
{
	pthread_mutex_unlock(&k->lock);
	pthread_mutex_unlock(&dev->lock);
}

static int do_unbind(struct fake_kernel *k, const char *driver, const char *address)
{
	struct fk_device *dev = lock_device(k, address);
	int r = 0;

	if (!dev)
		return -ENODEV;
	if (!driver || !streq_ptr(dev->driver, driver))
		r = -ENODEV;
	else {
		if (take_fault(dev, FK_UNBIND_BLOCKS))
			block_here(k, dev);
		if (take_fault(dev, FK_VANISHES_AT_UNBIND)) {
			fk_logf(k, "unbind %s %s", address, driver);
			remove_device(k, dev);
		} else if (!dev->gone) {
			unlink_driver(k, dev);
			fk_logf(k, "unbind %s %s", address, driver);
		}
	}
	unlock_device(k, dev);
	return r;
}

/* A probe of DEV by DRIVER as really_probe runs it: the link first, then the driver's probe(). */
static bool probe(struct fake_kernel *k, struct fk_device *dev, const char *driver)
{
	bool blocks = take_fault(dev, FK_PROBE_BLOCKS_THEN_FAILS), fails = take_fault(dev, FK_PROBE_FAILS);

	link_driver(k, dev, driver);
	if (blocks)
		block_here(k, dev);
	if (blocks || fails) {
		if (!dev->gone)
			unlink_driver(k, dev);
		fk_logf(k, "probe-failed %s %s", dev->address, driver);
		return false;
	}
	fk_logf(k, "bind %s %s", dev->address, driver);
	return true;
}

/* drivers_probe (ONLY NULL) or drivers/ONLY/bind. */
static int do_probe(struct fake_kernel *k, const char *address, const char *only)
{
	struct fk_device *dev = lock_device(k, address);
	const char *driver;
	int r = 0;

	if (!dev)
		return -ENODEV;
	driver = matching_driver(k, dev);
	if (dev->driver)
		r = only ? -EBUSY : 0;
	else if (only && !streq_ptr(driver, only))
		r = -ENODEV;
	else if (driver && !probe(k, dev, driver) && only)
		r = -ENODEV; /* bind reports the failed probe; drivers_probe does not */
	unlock_device(k, dev);
	return r;
}

static int do_override(struct fake_kernel *k, const char *address, const char *value)
{
	struct fk_device *dev = lock_device(k, address);
	_cleanup_free_ char *path = NULL, *text = NULL;
	int r;

	if (!dev)
		return -ENOENT;
	free(dev->override);
	dev->override = *value ? xstrdup(value) : NULL;
	path = sys_path(k, "bus/pci/devices/%s/driver_override", address);
	CHECK(asprintf(&text, "%s\n", dev->override ? dev->override : "(null)") >= 0);
	r = write_plain(path, text);
	fk_logf(k, "override %s %s", address, dev->override ? dev->override : "(null)");
	unlock_device(k, dev);
	return r;
}

static bool offered(const char *list, const char *method)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;

	for (char *m = strtok_r(copy, " ", &save); m; m = strtok_r(NULL, " ", &save))
		if (streq(m, method))
			return true;
	return false;
}

static int do_reset_method(struct fake_kernel *k, const char *address, const char *value)
{
	_cleanup_free_ char *path = NULL, *copy = NULL, *text = NULL;
	struct fk_device *dev;
	char *save = NULL;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	dev = find_device(k, address);
	if (!dev || dev->gone || !dev->offered_resets)
		r = -ENOENT;
	else if (streq(value, "default"))
		text = xstrdup(dev->offered_resets);
	else {
		copy = xstrdup(value);
		for (char *m = strtok_r(copy, " ", &save); r >= 0 && m; m = strtok_r(NULL, " ", &save))
			if (!offered(dev->offered_resets, m))
				r = -EINVAL;
		text = xstrdup(value);
	}
	if (r >= 0) {
		path = sys_path(k, "bus/pci/devices/%s/reset_method", address);
		free(copy);
		CHECK(asprintf(&copy, "%s\n", text) >= 0);
		r = write_plain(path, copy);
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int do_plain(struct fake_kernel *k, const char *relpath, const char *value)
{
	_cleanup_free_ char *path = sys_path(k, "%s", relpath);
	int r;

	pthread_mutex_lock(&k->lock);
	r = write_plain(path, value);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* One write, as the kernel's store functions dispatch it. */
static int dispatch(struct fake_kernel *k, const char *relpath, const char *raw)
{
	_cleanup_free_ char *value = trimmed_value(raw), *name = NULL;
	const char *rest;

	if (streq(relpath, "bus/pci/drivers_probe"))
		return do_probe(k, value, NULL);
	if (startswith(relpath, "bus/pci/drivers/")) {
		rest = relpath + strlen("bus/pci/drivers/");
		name = strndup(rest, strcspn(rest, "/"));
		CHECK(name);
		rest += strlen(name);
		if (streq(rest, "/unbind"))
			return do_unbind(k, name, value);
		if (streq(rest, "/bind"))
			return do_probe(k, value, name);
		return do_plain(k, relpath, raw);
	}
	if (startswith(relpath, "bus/pci/devices/")) {
		struct fk_device *dev;
		bool gone;

		rest = relpath + strlen("bus/pci/devices/");
		name = strndup(rest, strcspn(rest, "/"));
		CHECK(name);
		rest += strlen(name);
		pthread_mutex_lock(&k->lock);
		dev = find_device(k, name);
		gone = !dev || dev->gone;
		free(name);
		name = dev && dev->driver ? xstrdup(dev->driver) : NULL;
		pthread_mutex_unlock(&k->lock);
		if (gone)
			return -ENOENT; /* the attribute went with the device */
		if (streq(rest, "/driver/unbind"))
			return name ? do_unbind(k, name, value) : -ENOENT;
		if (streq(rest, "/driver_override"))
			return do_override(k, dev->address, value);
		if (streq(rest, "/reset_method"))
			return do_reset_method(k, dev->address, value);
	}
	return do_plain(k, relpath, raw);
}

static int write_in_kernel(void *data, const char *relpath, const char *value)
{
	struct fake_kernel *k = data;
	int r = dispatch(k, relpath, value);

	pthread_mutex_lock(&k->lock);
	k->inflight--;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int fk_sysfs_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	struct fake_kernel *k = data;
	int r;

	/* Counted before the thread starts, so fk_free() also waits for a write that has not begun. */
	pthread_mutex_lock(&k->lock);
	k->inflight++;
	pthread_mutex_unlock(&k->lock);
	r = call_with_deadline(write_in_kernel, k, relpath, value, timeout_ms);
	if (r == -ENOMEM || r == -EAGAIN) {
		/* The thread never ran (the fake kernel itself never fails so). */
		pthread_mutex_lock(&k->lock);
		k->inflight--;
		pthread_mutex_unlock(&k->lock);
	}
	return r;
}

/* ---- modules ---- */

static int holders_of(struct fake_kernel *k, const struct fk_module *m, char ***ret)
{
	char **v = xcalloc(k->n_modules + 1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < k->n_modules; i++)
		for (char **d = k->modules[i].depends; k->modules[i].loaded && d && *d; d++)
			if (streq(*d, m->name))
				v[n++] = xstrdup(k->modules[i].name);
	*ret = v;
	return (int)n;
}

static int fk_module_info(void *data, const char *name, struct module_info *ret)
{
	struct fake_kernel *k = data;
	struct fk_module *m;

	memset(ret, 0, sizeof(*ret));
	ret->name = normalized(name);
	pthread_mutex_lock(&k->lock);
	m = find_module(k, name);
	if (!m || !m->loaded) {
		ret->state = MODULE_ABSENT;
		ret->holders = xcalloc(1, sizeof(char *));
	} else {
		ret->state = MODULE_LIVE;
		ret->refcnt = holders_of(k, m, &ret->holders) + m->users;
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int fk_module_unload(void *data, const char *name)
{
	struct fake_kernel *k = data;
	_cleanup_strv_free_ char **holders = NULL;
	struct fk_module *m;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	m = find_module(k, name);
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
						unlink_driver(k, &k->devices[j]);
					}
				dir = sys_path(k, "bus/pci/drivers/%s", k->drivers[i].name);
				rm_rf(dir);
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
		load_locked(k, find_module(k, *d));
	m->loaded = true;
	fk_logf(k, "load %s", m->name);
	for (size_t i = 0; i < k->n_drivers; i++)
		if (streq_ptr(k->drivers[i].module, m->name))
			make_driver_dir(k, &k->drivers[i]);
	/* driver_attach(): every unbound device a new driver matches is probed. */
	for (size_t j = 0; j < k->n_devices; j++) {
		struct fk_device *dev = &k->devices[j];
		const char *driver = matching_driver(k, dev);
		struct fk_driver *d = driver ? find_driver(k, driver) : NULL;

		if (!dev->gone && !dev->driver && d && streq_ptr(d->module, m->name))
			(void)probe(k, dev, driver);
	}
}

static int fk_module_load(void *data, const char *name)
{
	struct fake_kernel *k = data;
	struct fk_module *m;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	m = find_module(k, name);
	if (!m)
		r = -ENOENT;
	else
		load_locked(k, m);
	pthread_mutex_unlock(&k->lock);
	return r;
}

static const struct kernel_ops fake_ops = {
	.sysfs_write = fk_sysfs_write,
	.module_info = fk_module_info,
	.module_unload = fk_module_unload,
	.module_load = fk_module_load,
};

/* ---- the test's side ---- */

static struct fk_module *add_module(struct fake_kernel *k, const char *name, bool loaded)
{
	struct fk_module *m = find_module(k, name);

	if (m)
		return m;
	k->modules = realloc(k->modules, (k->n_modules + 1) * sizeof(*k->modules));
	CHECK(k->modules);
	m = &k->modules[k->n_modules++];
	*m = (struct fk_module){ .name = normalized(name), .loaded = loaded, .depends = xcalloc(1, sizeof(char *)) };
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
	char **v = xcalloc(1, sizeof(char *));
	struct dirent *de;

	*n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		v = realloc(v, (*n + 2) * sizeof(char *));
		CHECK(v);
		v[(*n)++] = xstrdup(de->d_name);
		v[*n] = NULL;
	}
	qsort(v, *n, sizeof(char *), cmp_str);
	return v;
}

struct fake_kernel *fk_new(const struct fixture *f)
{
	struct fake_kernel *k = xcalloc(1, sizeof(*k));
	_cleanup_free_ char *devdir = NULL, *drvdir = NULL;
	_cleanup_strv_free_ char **devices = NULL, **drivers = NULL;
	size_t n;

	k->f = f;
	k->kernel = (struct kernel){ .ops = &fake_ops, .data = k };
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);

	drvdir = sys_path(k, "bus/pci/drivers");
	drivers = list_dir(drvdir, &n);
	for (char **d = drivers; *d; d++) {
		_cleanup_free_ char *link = sys_path(k, "bus/pci/drivers/%s/module", *d);
		_cleanup_free_ char *module = link_name(link);

		add_driver(k, *d, module);
		if (module)
			add_module(k, module, true);
	}
	if (!find_driver(k, "vfio-pci")) {
		add_driver(k, "vfio-pci", "vfio_pci");
		add_module(k, "vfio_pci", false);
	}

	devdir = sys_path(k, "bus/pci/devices");
	devices = list_dir(devdir, &n);
	k->devices = xcalloc(n, sizeof(*k->devices));
	for (char **a = devices; *a; a++) {
		struct fk_device *dev = &k->devices[k->n_devices++];
		_cleanup_free_ char *link = sys_path(k, "bus/pci/devices/%s/driver", *a);
		_cleanup_free_ char *resets = sys_path(k, "bus/pci/devices/%s/reset_method", *a);
		_cleanup_free_ char *override = sys_path(k, "bus/pci/devices/%s/driver_override", *a);
		_cleanup_free_ char *ov = read_trimmed(override);

		CHECK(strlen(*a) == 12);
		memcpy(dev->address, *a, 13);
		dev->driver = link_name(link);
		dev->default_driver = xstrdup(dev->driver);
		dev->offered_resets = read_trimmed(resets);
		dev->override = ov && *ov && !streq(ov, "(null)") ? xstrdup(ov) : NULL;
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
	dev = find_device(k, address);
	CHECK(dev);
	free(dev->default_driver);
	dev->default_driver = xstrdup(driver);
	pthread_mutex_unlock(&k->lock);
}

void fk_add_module(struct fake_kernel *k, const char *name, bool loaded, const char *const *drivers)
{
	pthread_mutex_lock(&k->lock);
	add_module(k, name, loaded);
	for (const char *const *d = drivers; d && *d; d++) {
		struct fk_driver *drv = add_driver(k, *d, name);

		if (loaded)
			make_driver_dir(k, drv);
	}
	pthread_mutex_unlock(&k->lock);
}

void fk_module_depends(struct fake_kernel *k, const char *holder, const char *held)
{
	struct fk_module *m;
	size_t n;

	pthread_mutex_lock(&k->lock);
	CHECK(find_module(k, held));
	m = find_module(k, holder);
	CHECK(m);
	n = strv_length(m->depends);
	m->depends = realloc(m->depends, (n + 2) * sizeof(char *));
	CHECK(m->depends);
	m->depends[n] = normalized(held);
	m->depends[n + 1] = NULL;
	pthread_mutex_unlock(&k->lock);
}

void fk_module_set_users(struct fake_kernel *k, const char *name, int users)
{
	struct fk_module *m;

	pthread_mutex_lock(&k->lock);
	m = find_module(k, name);
	CHECK(m);
	m->users = users;
	pthread_mutex_unlock(&k->lock);
}

bool fk_module_loaded(struct fake_kernel *k, const char *name)
{
	struct fk_module *m;
	bool loaded;

	pthread_mutex_lock(&k->lock);
	m = find_module(k, name);
	loaded = m && m->loaded;
	pthread_mutex_unlock(&k->lock);
	return loaded;
}

void fk_inject(struct fake_kernel *k, const char *address, enum fk_fault fault)
{
	struct fk_device *dev;

	CHECK((unsigned)fault < FK_FAULTS);
	pthread_mutex_lock(&k->lock);
	dev = find_device(k, address);
	CHECK(dev);
	dev->armed[fault] = true;
	pthread_mutex_unlock(&k->lock);
}

bool fk_blocked(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;
	bool blocked;

	pthread_mutex_lock(&k->lock);
	dev = find_device(k, address);
	blocked = dev && dev->blocked;
	pthread_mutex_unlock(&k->lock);
	return blocked;
}

void fk_unblock(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = find_device(k, address);
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
	dev = find_device(k, address);
	CHECK(dev && !dev->gone);
	remove_device(k, dev);
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

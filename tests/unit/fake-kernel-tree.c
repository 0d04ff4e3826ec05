/* The fake kernel's bookkeeping and the fixture tree it keeps as the kernel would (fake-kernel.h). */
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
#include "util.h"

/* ---- small helpers ---- */

void *fk_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	CHECK(p);
	return p;
}

char *fk_xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	CHECK(!s || p);
	return p;
}

char *fk_normalized(const char *name)
{
	char *s = fk_xstrdup(name);

	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

void fk_logf(struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fk_logf(struct fake_kernel *k, const char *fmt, ...)
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

char *fk_sys_path(const struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fk_sys_path(const struct fake_kernel *k, const char *fmt, ...)
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

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fk_rm_rf(const char *path)
{
	/* Only ever inside the fixture's mkdtemp directory. */
	CHECK(startswith(path, "/tmp/hookd-fixture-"));
	CHECK(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
}

/* Last component of the symlink at PATH, or NULL. */
char *fk_link_name(const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0)
		return NULL;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return fk_xstrdup(slash ? slash + 1 : target);
}

char *fk_read_trimmed(const char *path)
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
	return fk_xstrdup(buf);
}

/* ---- lookups (k->lock held) ---- */

struct fk_device *fk_find_device(struct fake_kernel *k, const char *address)
{
	for (size_t i = 0; i < k->n_devices; i++)
		if (streq(k->devices[i].address, address))
			return &k->devices[i];
	return NULL;
}

struct fk_driver *fk_find_driver(struct fake_kernel *k, const char *name)
{
	for (size_t i = 0; i < k->n_drivers; i++)
		if (streq(k->drivers[i].name, name))
			return &k->drivers[i];
	return NULL;
}

struct fk_module *fk_find_module(struct fake_kernel *k, const char *name)
{
	_cleanup_free_ char *n = fk_normalized(name);

	for (size_t i = 0; i < k->n_modules; i++)
		if (streq(k->modules[i].name, n))
			return &k->modules[i];
	return NULL;
}

struct fk_driver *fk_add_driver(struct fake_kernel *k, const char *name, const char *module)
{
	struct fk_driver *d = fk_find_driver(k, name);

	if (d)
		return d;
	k->drivers = realloc(k->drivers, (k->n_drivers + 1) * sizeof(*k->drivers));
	CHECK(k->drivers);
	d = &k->drivers[k->n_drivers++];
	*d = (struct fk_driver){ .name = fk_xstrdup(name), .module = module ? fk_normalized(module) : NULL };
	return d;
}

bool fk_driver_registered(struct fake_kernel *k, const char *name)
{
	struct fk_driver *d = name ? fk_find_driver(k, name) : NULL;
	struct fk_module *m;

	if (!d)
		return false;
	if (!d->module)
		return true;
	m = fk_find_module(k, d->module);
	return m && m->loaded;
}

/* What the bus would bind DEV to now: the override when it names a registered driver, else the default. */
const char *fk_matching_driver(struct fake_kernel *k, const struct fk_device *dev)
{
	if (dev->override)
		return fk_driver_registered(k, dev->override) ? dev->override : NULL;
	return fk_driver_registered(k, dev->default_driver) ? dev->default_driver : NULL;
}

/* ---- the tree (k->lock held) ---- */

void fk_link_driver(struct fake_kernel *k, struct fk_device *dev, const char *driver)
{
	_cleanup_free_ char *path = fk_sys_path(k, "bus/pci/devices/%s/driver", dev->address);
	_cleanup_free_ char *target = NULL;

	CHECK(asprintf(&target, "../../drivers/%s", driver) >= 0);
	unlink(path);
	CHECK(symlink(target, path) == 0);
	free(dev->driver);
	dev->driver = fk_xstrdup(driver);
}

void fk_unlink_driver(struct fake_kernel *k, struct fk_device *dev)
{
	_cleanup_free_ char *path = fk_sys_path(k, "bus/pci/devices/%s/driver", dev->address);

	CHECK(unlink(path) == 0);
	free(dev->driver);
	dev->driver = NULL;
}

void fk_make_driver_dir(struct fake_kernel *k, const struct fk_driver *d)
{
	_cleanup_free_ char *dir = fk_sys_path(k, "bus/pci/drivers/%s", d->name);
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

void fk_remove_device_locked(struct fake_kernel *k, struct fk_device *dev)
{
	_cleanup_free_ char *dir = fk_sys_path(k, "bus/pci/devices/%s", dev->address);
	_cleanup_free_ char *group_link = fk_sys_path(k, "bus/pci/devices/%s/iommu_group", dev->address);
	_cleanup_free_ char *group = fk_link_name(group_link);

	if (group) {
		_cleanup_free_ char *member = fk_sys_path(k, "kernel/iommu_groups/%s/devices/%s", group, dev->address);

		unlink(member);
	}
	fk_rm_rf(dir);
	free(dev->driver);
	dev->driver = NULL;
	dev->gone = true;
	fk_logf(k, "gone %s", dev->address);
}

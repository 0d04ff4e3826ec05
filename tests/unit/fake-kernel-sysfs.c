/* The fake kernel's sysfs writes: each attribute's store function as the kernel runs it (fake-kernel.h). */
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

static int write_plain(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return negative_errno();
	return write(fd, text, len) == (ssize_t)len ? 0 : negative_errno();
}

/* The kernel compares names with sysfs_streq: one trailing newline does not count. */
static char *trimmed_value(const char *value)
{
	char *s = fk_xstrdup(value);
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\n')
		s[n - 1] = '\0';
	return s;
}

/* One write in the fake kernel, on a thread of its own like the engine's writes to the real one. */
struct fk_job {
	struct fake_kernel *k;
	int (*fn)(struct fake_kernel *k, const char *a, const char *b);
	char *a;
	char *b;
	int result;
	bool done;
	bool blocked;	/* waits in the kernel: the deadline has passed, in the fake kernel's time */
	bool abandoned; /* the writer gave up: the thread frees the job */
};

static __thread struct fk_job *current_job;

/* The current write cannot finish until the test lets a step go on (k->lock held). */
static void job_blocks(struct fake_kernel *k)
{
	if (current_job) {
		current_job->blocked = true;
		pthread_cond_broadcast(&k->cond);
	}
}

/* Wait, holding DEV's lock, until the test lets the step go on (k->lock held). */
static void block_here(struct fake_kernel *k, struct fk_device *dev)
{
	job_blocks(k);
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
	if (!dev->armed[f])
		return false;
	if (dev->skip[f] > 0) {
		dev->skip[f]--;
		return false;
	}
	dev->armed[f] = false;
	return true;
}

/* fbcon registers on the new framebuffer and takes every framebuffer vtconsole (k->lock held). */
static void fbcon_takes_over(struct fake_kernel *k)
{
	_cleanup_free_ char *dir = fk_sys_path(k, "class/vtconsole");
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	k->fbcon_pending = false;
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *name = NULL, *bind = NULL, *path = NULL;

		if (de->d_name[0] == '.')
			continue;
		path = fk_sys_path(k, "class/vtconsole/%s/name", de->d_name);
		name = fk_read_trimmed(path);
		if (!name || !strstr(name, "frame buffer"))
			continue;
		bind = fk_sys_path(k, "class/vtconsole/%s/bind", de->d_name);
		CHECK(write_plain(bind, "1\n") == 0);
		fk_logf(k, "fbcon %s", de->d_name);
	}
}

/* ---- the kernel's steps ---- */

/* Look ADDRESS up and take its device lock, then k->lock; NULL (nothing held) when there is no such device. */
static struct fk_device *lock_device(struct fake_kernel *k, const char *address)
{
	struct fk_device *dev;

	pthread_mutex_lock(&k->lock);
	dev = fk_find_device(k, address);
	if (dev && dev->blocked)
		job_blocks(k); /* queued behind a step that holds the device lock */
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
			fk_remove_device_locked(k, dev);
		} else if (!dev->gone) {
			fk_unlink_driver(k, dev);
			fk_logf(k, "unbind %s %s", address, driver);
		}
	}
	unlock_device(k, dev);
	return r;
}

/* A probe of DEV by DRIVER as really_probe runs it: the link first, then the driver's probe(). */
bool fk_probe_locked(struct fake_kernel *k, struct fk_device *dev, const char *driver)
{
	bool blocks = take_fault(dev, FK_PROBE_BLOCKS_THEN_FAILS), fails = take_fault(dev, FK_PROBE_FAILS);

	fk_link_driver(k, dev, driver);
	if (blocks)
		block_here(k, dev);
	if (blocks || fails) {
		if (!dev->gone)
			fk_unlink_driver(k, dev);
		fk_logf(k, "probe-failed %s %s", dev->address, driver);
		return false;
	}
	fk_logf(k, "bind %s %s", dev->address, driver);
	if (k->fbcon_pending && streq(dev->address, k->fbcon_gpu))
		fbcon_takes_over(k);
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
	driver = fk_matching_driver(k, dev);
	if (dev->driver)
		r = only ? -EBUSY : 0;
	else if (only && !streq_ptr(driver, only))
		r = -ENODEV;
	else if (driver && !fk_probe_locked(k, dev, driver) && only)
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
	dev->override = *value ? fk_xstrdup(value) : NULL;
	path = fk_sys_path(k, "bus/pci/devices/%s/driver_override", address);
	CHECK(asprintf(&text, "%s\n", dev->override ? dev->override : "(null)") >= 0);
	r = write_plain(path, text);
	fk_logf(k, "override %s %s", address, dev->override ? dev->override : "(null)");
	unlock_device(k, dev);
	return r;
}

static bool offered(const char *list, const char *method)
{
	_cleanup_free_ char *copy = fk_xstrdup(list);
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
	dev = fk_find_device(k, address);
	if (!dev || dev->gone || !dev->offered_resets)
		r = -ENOENT;
	else if (streq(value, "default"))
		text = fk_xstrdup(dev->offered_resets);
	else {
		copy = fk_xstrdup(value);
		for (char *m = strtok_r(copy, " ", &save); r >= 0 && m; m = strtok_r(NULL, " ", &save))
			if (!offered(dev->offered_resets, m))
				r = -EINVAL;
		text = fk_xstrdup(value);
	}
	if (r >= 0) {
		path = fk_sys_path(k, "bus/pci/devices/%s/reset_method", address);
		free(copy);
		CHECK(asprintf(&copy, "%s\n", text) >= 0);
		r = write_plain(path, copy);
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int do_plain(struct fake_kernel *k, const char *relpath, const char *value)
{
	_cleanup_free_ char *path = fk_sys_path(k, "%s", relpath);
	size_t n = strlen(relpath);
	int r;

	pthread_mutex_lock(&k->lock);
	if (k->fbcon_gpu[0] && startswith(relpath, "class/vtconsole/") && n > 5 && streq(relpath + n - 5, "/bind") &&
	    startswith(value, "1")) {
		/* No console driver to take the console over from: the bind does not take. */
		k->fbcon_pending = true;
		pthread_mutex_unlock(&k->lock);
		return 0;
	}
	r = write_plain(path, value);
	/* Host settings (cpufreq, hugepages) are logged so tests see their order among the device moves. */
	if (r >= 0 && (startswith(relpath, "devices/system/") || startswith(relpath, "kernel/")))
		fk_logf(k, "write %s %s", relpath, value);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* A /proc write: the file must exist, as every /proc file the engine writes does (compact_memory, an IRQ's
 * smp_affinity_list); it takes the value as written, but a managed IRQ's affinity refuses with -EIO. */
static int do_proc(struct fake_kernel *k, const char *relpath, const char *value)
{
	_cleanup_free_ char *path = NULL;
	int r;

	CHECK(asprintf(&path, "%s/%s", k->f->proc, relpath) >= 0);
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->n_managed_irqs; i++) {
		_cleanup_free_ char *managed = NULL;

		CHECK(asprintf(&managed, "irq/%s/smp_affinity_list", k->managed_irqs[i]) >= 0);
		if (streq(relpath, managed)) {
			pthread_mutex_unlock(&k->lock);
			return -EIO;
		}
	}
	if (k->kept_irq) {
		_cleanup_free_ char *kept = NULL;

		CHECK(asprintf(&kept, "irq/%s/smp_affinity_list", k->kept_irq) >= 0);
		if (streq(relpath, kept)) {
			value = k->kept_affinity; /* freed with the kernel: the next write is taken as written */
			free(k->kept_irq);
			k->kept_irq = NULL;
		}
	}
	r = write_plain(path, value);
	if (r >= 0)
		fk_logf(k, "proc %s %s", relpath, value);
	if (r >= 0 && streq(relpath, "sys/vm/compact_memory"))
		fk_compact_all_locked(k);
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
		dev = fk_find_device(k, name);
		gone = !dev || dev->gone;
		free(name);
		name = dev && dev->driver ? fk_xstrdup(dev->driver) : NULL;
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

static void job_free(struct fk_job *j)
{
	free(j->a);
	free(j->b);
	free(j);
}

static void *job_run(void *arg)
{
	struct fk_job *j = arg;
	struct fake_kernel *k = j->k;
	bool abandoned;
	int r;

	current_job = j;
	r = j->fn(k, j->a, j->b);
	pthread_mutex_lock(&k->lock);
	j->result = r;
	j->done = true;
	abandoned = j->abandoned;
	k->inflight--;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (abandoned)
		job_free(j);
	return NULL;
}

/* The fake kernel keeps its own time: a step that blocks runs past any deadline at once, and one that does
 * not block is never late, however loaded the machine is. So deadlines only appear in the engine's
 * messages, and the tests do not depend on the clock. */
int fk_run_job(struct fake_kernel *k, int (*fn)(struct fake_kernel *k, const char *a, const char *b), const char *a,
	       const char *b)
{
	struct fk_job *j = fk_xcalloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	*j = (struct fk_job){ .k = k, .fn = fn, .a = fk_xstrdup(a), .b = fk_xstrdup(b) };
	pthread_mutex_lock(&k->lock);
	k->inflight++;
	pthread_mutex_unlock(&k->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	CHECK(pthread_create(&thread, &attr, job_run, j) == 0);
	pthread_attr_destroy(&attr);

	pthread_mutex_lock(&k->lock);
	while (!j->done && !j->blocked)
		pthread_cond_wait(&k->cond, &k->lock);
	if (j->done)
		r = j->result;
	else {
		j->abandoned = true;
		r = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&k->lock);
	if (r != -ETIMEDOUT)
		job_free(j);
	return r;
}

static int node_or_job_write(void *data, const char *relpath, const char *value, unsigned timeout_ms, bool stoppable)
{
	if (startswith(relpath, "devices/system/node/")) {
		_cleanup_free_ char *trimmed = trimmed_value(value);
		int r = fk_node_write(data, relpath, trimmed, timeout_ms, stoppable);

		if (r <= 0)
			return r;
	}
	return fk_run_job(data, dispatch, relpath, value);
}

int fk_sysfs_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	return node_or_job_write(data, relpath, value, timeout_ms, false);
}

/* Only the node's writes (nr_hugepages) model being stopped part-way; any other write ends as a plain one. */
int fk_sysfs_write_stoppable(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	return node_or_job_write(data, relpath, value, timeout_ms, true);
}

int fk_proc_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	(void)timeout_ms;
	return fk_run_job(data, do_proc, relpath, value);
}

/* Build fake sysfs and /proc trees for the engine's unit tests: directories, attribute files and the
 * symlinks (driver, iommu_group, module) topology reads. Everything lives under one mkdtemp directory. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

struct fixture {
	char base[64]; /* /tmp/hookd-fixture-XXXXXX */
	char sys[96];  /* BASE/sys */
	char proc[96]; /* BASE/proc */
	char run[96];  /* BASE/run */
};

static inline void fx_mkdir_p(const char *path)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	CHECK(mkdir(tmp, 0755) == 0 || errno == EEXIST);
}

/* fx_write(f, "sys", "bus/pci/devices/X/vendor", "0x10de") creates parents and the file. */
static inline void fx_write(const struct fixture *f, const char *tree, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void fx_write(const struct fixture *f, const char *tree, const char *rel, const char *fmt, ...)
{
	char path[1024], *slash;
	va_list ap;
	FILE *out;

	snprintf(path, sizeof(path), "%s/%s/%s", f->base, tree, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	fx_mkdir_p(path);
	*slash = '/';
	out = fopen(path, "w");
	CHECK(out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	CHECK(fclose(out) == 0);
}

static inline void fx_dir(const struct fixture *f, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", f->sys, rel);
	fx_mkdir_p(path);
}

static inline void fx_link(const struct fixture *f, const char *rel, const char *target)
{
	char path[1024], *slash;

	snprintf(path, sizeof(path), "%s/%s", f->sys, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	fx_mkdir_p(path);
	*slash = '/';
	unlink(path);
	CHECK(symlink(target, path) == 0);
}

static inline void fx_unlink(const struct fixture *f, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", f->sys, rel);
	CHECK(unlink(path) == 0);
}

/* A PCI function: vendor, device, class, driver (NULL = none), IOMMU group (-1 = none). */
static inline void fx_device(const struct fixture *f, const char *bdf, unsigned vendor, unsigned device, unsigned class,
			     const char *driver, int group)
{
	char rel[256], target[256];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/vendor", bdf);
	fx_write(f, "sys", rel, "0x%04x", vendor);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/device", bdf);
	fx_write(f, "sys", rel, "0x%04x", device);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/class", bdf);
	fx_write(f, "sys", rel, "0x%06x", class);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", bdf);
	fx_write(f, "sys", rel, "(null)");
	if (driver) {
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", driver);
		fx_write(f, "sys", rel, "%s", "");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", bdf);
		snprintf(target, sizeof(target), "../../drivers/%s", driver);
		fx_link(f, rel, target);
	}
	if (group >= 0) {
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", bdf);
		snprintf(target, sizeof(target), "../../../../kernel/iommu_groups/%d", group);
		fx_link(f, rel, target);
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
		snprintf(target, sizeof(target), "../../../../bus/pci/devices/%s", bdf);
		fx_link(f, rel, target);
	}
}

/* The file REL of TREE ("sys", "proc" or "run") as it is now, without its trailing newlines. Static buffer,
 * valid until the next call. */
static inline const char *fx_read(const struct fixture *f, const char *tree, const char *rel)
{
	static char buf[4096];
	char path[1024];
	size_t n;
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s/%s", f->base, tree, rel);
	in = fopen(path, "r");
	CHECK(in);
	n = fread(buf, 1, sizeof(buf) - 1, in);
	fclose(in);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return buf;
}

static inline void fx_init(struct fixture *f)
{
	snprintf(f->base, sizeof(f->base), "/tmp/hookd-fixture-XXXXXX");
	CHECK(mkdtemp(f->base));
	snprintf(f->sys, sizeof(f->sys), "%s/sys", f->base);
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->base);
	snprintf(f->run, sizeof(f->run), "%s/run", f->base);
	fx_mkdir_p(f->sys);
	fx_mkdir_p(f->proc);
	fx_mkdir_p(f->run);
	fx_write(f, "sys", "bus/pci/drivers_probe", "%s", "");
	fx_write(f, "proc", "self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw");
	fx_write(f, "proc", "swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority");
}

static inline int fx_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf without a shell: a process per test is what a loaded machine makes slow. */
static inline void fx_rm_rf(const char *dir)
{
	CHECK(nftw(dir, fx_remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
}

static inline void fx_clear(struct fixture *f)
{
	/* Only ever our own mkdtemp directory. */
	CHECK(strncmp(f->base, "/tmp/hookd-fixture-", 19) == 0);
	fx_rm_rf(f->base);
}

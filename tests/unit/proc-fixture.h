/* Build processes in a fixture /proc tree (sysfs-fixture.h's BASE/proc) for the holder scan's tests: a pid
 * directory with comm, status (Uid), cgroup, fd/ symbolic links and maps, and the class devices of a PCI
 * function in the fixture sysfs tree (dev, uevent's DEVNAME, subsystem link). Nothing here touches the host's
 * /proc or /dev: fd links are dangling text, read back with readlink. */
#pragma once

#include "sysfs-fixture.h"

/* A process PID named COMM of user UID in cgroup CGROUP ("/system.slice/display-manager.service"). */
static inline void fx_process(const struct fixture *f, int pid, const char *comm, unsigned uid, const char *cgroup)
{
	char rel[128], path[1024];

	snprintf(rel, sizeof(rel), "%d/comm", pid);
	fx_write(f, "proc", rel, "%s", comm);
	snprintf(rel, sizeof(rel), "%d/status", pid);
	fx_write(f, "proc", rel, "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t%d\nUid:\t%u\t%u\t%u\t%u", comm,
		 pid, uid, uid, uid, uid);
	snprintf(rel, sizeof(rel), "%d/cgroup", pid);
	fx_write(f, "proc", rel, "0::%s", cgroup);
	snprintf(rel, sizeof(rel), "%d/maps", pid);
	fx_write(f, "proc", rel,
		 "55d0c0a00000-55d0c0a21000 r--p 00000000 fd:01 1311 /usr/bin/%s\n"
		 "7ffd3c1e0000-7ffd3c201000 rw-p 00000000 00:00 0                          [stack]",
		 comm);
	snprintf(path, sizeof(path), "%s/%d/fd", f->proc, pid);
	fx_mkdir_p(path);
	snprintf(path, sizeof(path), "%s/%d/exe", f->proc, pid);
	unlink(path);
	CHECK(symlink("/usr/bin/true", path) == 0);
}

/* Kernel thread PID: no exe link, nothing open, nothing mapped, as the kernel shows one. */
static inline void fx_kernel_thread(const struct fixture *f, int pid, const char *comm)
{
	char rel[128], path[1024];

	fx_process(f, pid, comm, 0, "/");
	snprintf(rel, sizeof(rel), "%d/maps", pid);
	fx_write(f, "proc", rel, "%s", "");
	snprintf(path, sizeof(path), "%s/%d/exe", f->proc, pid);
	CHECK(unlink(path) == 0);
}

/* Process PID has TARGET open as file descriptor FD ("/dev/dri/card0", "socket:[123]"). */
static inline void fx_process_fd(const struct fixture *f, int pid, int fd, const char *target)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%d/fd/%d", f->proc, pid, fd);
	unlink(path);
	CHECK(symlink(target, path) == 0);
}

/* Process PID exits: its /proc directory goes (atomically enough for a scan: a missing file reads as gone). */
static inline void fx_process_exit(const struct fixture *f, int pid)
{
	char path[1024];

	CHECK(strncmp(f->base, "/tmp/hookd-fixture-", 19) == 0); /* only ever a fixture's /proc */
	snprintf(path, sizeof(path), "%s/%d", f->proc, pid);
	fx_rm_rf(path);
}

/* Process PID has PATH mapped (shared, as a DRM buffer or a BAR is). */
static inline void fx_process_map(const struct fixture *f, int pid, const char *path)
{
	char file[1024];
	FILE *out;

	snprintf(file, sizeof(file), "%s/%d/maps", f->proc, pid);
	out = fopen(file, "a");
	CHECK(out);
	fprintf(out, "7f2a10000000-7f2a10800000 rw-s 00000000 00:05 421 %s\n", path);
	CHECK(fclose(out) == 0);
}

/* A class device of PCI function BDF at REL below it ("drm/card0"), in SUBSYSTEM, numbered MAJOR:MINOR,
 * with DEVNAME (NULL: none in its uevent). */
static inline void fx_class_node(const struct fixture *f, const char *bdf, const char *rel, const char *subsystem,
				 unsigned major, unsigned minor, const char *devname)
{
	char path[512], target[256];

	snprintf(path, sizeof(path), "bus/pci/devices/%s/%s/dev", bdf, rel);
	fx_write(f, "sys", path, "%u:%u", major, minor);
	snprintf(path, sizeof(path), "bus/pci/devices/%s/%s/uevent", bdf, rel);
	if (devname)
		fx_write(f, "sys", path, "MAJOR=%u\nMINOR=%u\nDEVNAME=%s", major, minor, devname);
	else
		fx_write(f, "sys", path, "MAJOR=%u\nMINOR=%u", major, minor);
	snprintf(path, sizeof(path), "bus/pci/devices/%s/%s/subsystem", bdf, rel);
	snprintf(target, sizeof(target), "../../../../../../class/%s", subsystem);
	fx_link(f, path, target);
}

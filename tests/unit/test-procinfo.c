/* Unit tests of hookd/lib/procinfo.c: the /proc/PID/cgroup, maps and status readers that name a process
 * holding a device (its systemd unit, login session, mapped files and user). */
#include <errno.h>

#include "procinfo.h"
#include "test.h"

static void expect_cgroup(const char *text, const char *unit, const char *user_unit, const char *session)
{
	struct proc_cgroup c;

	CHECK_INT(proc_cgroup_parse(text, &c), 0);
	if (unit)
		CHECK_STR(c.unit, unit);
	else
		CHECK(!c.unit);
	if (user_unit)
		CHECK_STR(c.user_unit, user_unit);
	else
		CHECK(!c.user_unit);
	if (session)
		CHECK_STR(c.session, session);
	else
		CHECK(!c.session);
	proc_cgroup_clear(&c);
}

static void test_cgroup_units(void)
{
	expect_cgroup("0::/system.slice/display-manager.service\n", "display-manager.service", NULL, NULL);
	expect_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n", "session-2.scope", NULL, "2");
	expect_cgroup("0::/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service\n",
		      "user@1000.service", "pipewire.service", NULL);
	expect_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope\n",
		      "user@1000.service", "app-firefox-1234.scope", NULL);
	/* user@ itself (the manager process lives in init.scope below it). */
	expect_cgroup("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", "user@1000.service",
		      "init.scope", NULL);
	/* A delegated unit's own sub-cgroups: the unit is the first non-slice component, as systemd reads it. */
	expect_cgroup("0::/system.slice/docker.service/payload\n", "docker.service", NULL, NULL);
	expect_cgroup("0::/init.scope\n", "init.scope", NULL, NULL);
	/* Kernel threads and processes outside any unit. */
	expect_cgroup("0::/\n", NULL, NULL, NULL);
	expect_cgroup("", NULL, NULL, NULL);
	expect_cgroup("0::/machine/qemu-1\n", NULL, NULL, NULL);
	/* "session-.scope" names no session. */
	expect_cgroup("0::/user.slice/session-.scope", "session-.scope", NULL, NULL);
}

static void test_cgroup_hybrid(void)
{
	/* cgroup v1 with the named systemd hierarchy: the unified line is the empty root. */
	expect_cgroup("12:pids:/system.slice/gdm.service\n"
		      "1:name=systemd:/system.slice/gdm.service\n"
		      "0::/\n",
		      "gdm.service", NULL, NULL);
	/* Pure v1 without a named hierarchy: nothing to say. */
	expect_cgroup("3:cpu,cpuacct:/system.slice/gdm.service\n", NULL, NULL, NULL);
}

static void test_cgroup_malformed(void)
{
	struct proc_cgroup c;

	CHECK_INT(proc_cgroup_parse("garbage\n", &c), -EINVAL);
	CHECK(!c.unit && !c.user_unit && !c.session);
	CHECK_INT(proc_cgroup_parse("x::/system.slice/a.service\n", &c), -EINVAL);
	CHECK_INT(proc_cgroup_parse(":/a.service\n", &c), -EINVAL);
	CHECK_INT(proc_cgroup_parse("0:/a.service\n", &c), -EINVAL);
}

static void expect_map(const char *line, const char *path)
{
	const char *p;
	size_t len;

	CHECK_INT(proc_maps_parse_line(line, &p, &len), 0);
	if (!path) {
		CHECK(!p);
		return;
	}
	CHECK(p);
	CHECK_INT(len, strlen(path));
	CHECK(strncmp(p, path, len) == 0);
}

static void test_maps(void)
{
	expect_map("7f2a10000000-7f2a10800000 rw-s 100000000 00:05 421 /dev/dri/card0\n", "/dev/dri/card0");
	expect_map("7f2a10000000-7f2a10800000 rw-s 00000000 00:15 6 "
		   "/sys/devices/pci0000:00/0000:00:01.0/0000:0a:00.0/resource0",
		   "/sys/devices/pci0000:00/0000:00:01.0/0000:0a:00.0/resource0");
	expect_map("55d0-55d1 r--p 00000000 fd:01 1311                       /usr/lib/with space.so (deleted)\n",
		   "/usr/lib/with space.so (deleted)");
	expect_map("7ffd3c1e0000-7ffd3c201000 rw-p 00000000 00:00 0                          [stack]\n", "[stack]");
	expect_map("7f00-7f10 rw-p 00000000 00:00 0\n", NULL);
	expect_map("7f00-7f10 rw-p 00000000 00:00 0 ", NULL);
}

static void test_maps_malformed(void)
{
	const char *bad[] = {
		"",
		"7f00 rw-p 0 00:00 0 /x",
		"7f00- rw-p 0 00:00 0 /x",
		"7f00-7f10 rw-q 0 00:00 0 /x",
		"7f00-7f10 rw-p 0 0000 0 /x",
		"7f00-7f10 rw-p 0 00:00 x /x",
		"7f00-7f10 rw-p 0 00:00 0x /x",
		"7f00-7f10 rw-pp 0 00:00 0 /x",
		"7f00-7f10 rw-p 0 00: 0 /x",
		"7f00-7f10 rw-p 0 00:00 0 /x\n/y",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = (const char *)1;
		size_t len = 1;

		if (proc_maps_parse_line(bad[i], &p, &len) != -EINVAL) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(false);
		}
		CHECK(!p && len == 0);
	}
}

static void test_status(void)
{
	uid_t uid = 0;

	CHECK_INT(proc_status_uid("Name:\tXorg\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\n", &uid), 0);
	CHECK_INT(uid, 1000);
	CHECK_INT(proc_status_uid("Uid:\t0\t0\t0\t0", &uid), 0);
	CHECK_INT(uid, 0);
	CHECK_INT(proc_status_uid("Name:\tx\n", &uid), -ENOENT);
	CHECK_INT(proc_status_uid("Uid:\tabc\n", &uid), -EINVAL);
	CHECK_INT(proc_status_uid("Uid:\t4294967295\t0\n", &uid), -EINVAL);
	CHECK_INT(proc_status_uid("Uid:\t99999999999999999999999\n", &uid), -EINVAL);
	CHECK_INT(proc_status_uid("Uid:\t12x\n", &uid), -EINVAL);
	/* Only the line's start counts: "PPid:" or a Name holding "Uid:" is not it. */
	CHECK_INT(proc_status_uid("Name:\tUid:\t5\nUid:\t7\t7\t7\t7\n", &uid), 0);
	CHECK_INT(uid, 7);
}

int main(void)
{
	RUN(test_cgroup_units);
	RUN(test_cgroup_hybrid);
	RUN(test_cgroup_malformed);
	RUN(test_maps);
	RUN(test_maps_malformed);
	RUN(test_status);
	return 0;
}

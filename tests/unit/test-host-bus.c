/* host-bus.c and host-bus-read.c across the process boundary: the real sd-bus client against a fake systemd
 * and logind on a private dbus-daemon (fake-bus-service.h), never the system bus. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake-bus-service.h"
#include "host-bus.h"
#include "strv.h"
#include "test.h"
#include "util.h"

#define JOB_TIMEOUT_MS 10000u

static const struct fake_bus_unit units[] = {
	{ "hookd-test-display.service", "active", "done", "done", false },
	{ "hookd-test-persistenced.service", "active", "done", "done", true },
	{ "hookd-test-stubborn.service", "active", "failed", "done", false },
	{ "hookd-test-hang.service", "active", NULL, NULL, false },
	{ "hookd-test-broken.service", "failed", "done", "failed", false },
	{ 0 },
};

static const struct fake_bus_session sessions[] = {
	{ "2", "seat0", "wayland", false, false },
	{ "3", "seat0", "tty", false, false },
	{ "4", "seat1", "x11", false, false },
	{ "c1", "seat0", "x11", true, false },
	{ 0 },
};

static struct fake_bus fake;
static struct host_bus bus;

static void test_unit_state(void)
{
	_cleanup_free_ char *state = NULL, *why = NULL;

	CHECK_INT(bus.ops->unit_state(bus.data, "hookd-test-display.service", &state, &why), 0);
	CHECK_STR(state, "active");
	free(state);
	state = NULL;
	CHECK_INT(bus.ops->unit_state(bus.data, "hookd-test-broken.service", &state, &why), 0);
	CHECK_STR(state, "failed");
	CHECK_INT(bus.ops->unit_state(bus.data, "hookd-test-none.service", &state, &why), -ENOENT);
	CHECK_STR(why, "systemd has no unit hookd-test-none.service");
}

static void test_stop_and_start(void)
{
	_cleanup_free_ char *why = NULL, *state = NULL, *calls = NULL;

	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-display.service", JOB_TIMEOUT_MS, &why), 0);
	state = fake_bus_active_state(&fake, "hookd-test-display.service");
	CHECK_STR(state, "inactive");
	free(state);
	CHECK_INT(bus.ops->start_unit(bus.data, "hookd-test-display.service", JOB_TIMEOUT_MS, &why), 0);
	state = fake_bus_active_state(&fake, "hookd-test-display.service");
	CHECK_STR(state, "active");
	calls = fake_bus_calls(&fake);
	/* reset-failed first, then the start */
	CHECK(strstr(calls, "StopUnit hookd-test-display.service\n"
			    "ResetFailedUnit hookd-test-display.service\n"
			    "StartUnit hookd-test-display.service\n"));
	CHECK(!why);
}

/* systemd may send JobRemoved before StopUnit's reply reaches us: the wait must not miss it. */
static void test_job_removed_before_reply(void)
{
	_cleanup_free_ char *why = NULL, *state = NULL;

	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-persistenced.service", JOB_TIMEOUT_MS, &why), 0);
	state = fake_bus_active_state(&fake, "hookd-test-persistenced.service");
	CHECK_STR(state, "inactive");
}

static void test_job_failed(void)
{
	_cleanup_free_ char *why = NULL;

	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-stubborn.service", JOB_TIMEOUT_MS, &why), -EIO);
	CHECK_STR(why, "systemd: stopping hookd-test-stubborn.service: job failed");
	free(why);
	why = NULL;
	CHECK_INT(bus.ops->start_unit(bus.data, "hookd-test-broken.service", JOB_TIMEOUT_MS, &why), -EIO);
	CHECK_STR(why, "systemd: starting hookd-test-broken.service: job failed");
	free(why);
	why = NULL;
	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-none.service", JOB_TIMEOUT_MS, &why), -ENOENT);
	CHECK_STR(why, "systemd: stopping hookd-test-none.service: Unit hookd-test-none.service not loaded.");
}

/* A job that never ends: the call returns at its deadline and says so. */
static void test_job_deadline(void)
{
	_cleanup_free_ char *why = NULL;

	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-hang.service", 300, &why), -ETIMEDOUT);
	CHECK_STR(why, "systemd: stopping hookd-test-hang.service did not finish within 1 s");
}

static void test_list_sessions(void)
{
	_cleanup_strv_free_ char **ids = NULL, **other = NULL;
	_cleanup_free_ char *why = NULL;

	CHECK_INT(bus.ops->list_sessions(bus.data, "seat0", &ids, &why), 0);
	/* graphical ones on seat0 only: not the tty session, not seat1's */
	CHECK_INT(strv_length(ids), 2);
	CHECK_STR(ids[0], "2");
	CHECK_STR(ids[1], "c1");
	CHECK_INT(bus.ops->list_sessions(bus.data, "seat7", &other, &why), 0);
	CHECK(other && !other[0]);
}

static void test_terminate_session(void)
{
	_cleanup_strv_free_ char **ids = NULL;
	_cleanup_free_ char *why = NULL;

	CHECK_INT(bus.ops->terminate_session(bus.data, "2", JOB_TIMEOUT_MS, &why), 0);
	CHECK_INT(bus.ops->list_sessions(bus.data, "seat0", &ids, &why), 0);
	CHECK_INT(strv_length(ids), 1);
	CHECK_STR(ids[0], "c1");
	/* gone already: what was asked for */
	CHECK_INT(bus.ops->terminate_session(bus.data, "2", JOB_TIMEOUT_MS, &why), 0);
	/* a session whose processes do not go: bounded */
	CHECK_INT(bus.ops->terminate_session(bus.data, "c1", 300, &why), -ETIMEDOUT);
	CHECK_STR(why, "logind: session c1 was still there after 1 s");
}

static void test_inhibit(void)
{
	_cleanup_free_ char *why = NULL;
	struct pollfd p;
	int fd = -1;

	CHECK_INT(bus.ops->inhibit(bus.data, "sleep", "hookd", "VM win10 has host devices", &fd, &why), 0);
	CHECK(fd >= 0);
	pthread_mutex_lock(&fake.lock);
	CHECK_STR(fake.inhibit_args, "sleep|hookd|VM win10 has host devices|block");
	p = (struct pollfd){ .fd = fake.inhibit_fd, .events = POLLIN };
	pthread_mutex_unlock(&fake.lock);
	/* held while our end is open ... */
	CHECK_INT(poll(&p, 1, 0), 0);
	close(fd);
	/* ... and let go once it is closed */
	CHECK_INT(poll(&p, 1, 10000), 1);
	CHECK(p.revents & POLLHUP);
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_read_only_refuses_changes(void)
{
	_cleanup_free_ char *why = NULL, *state = NULL, *calls = NULL;
	struct host_bus ro;
	int fd = -1;

	CHECK_INT(host_bus_read_only_open(&ro), 0);
	CHECK_INT(ro.ops->unit_state(ro.data, "hookd-test-display.service", &state, &why), 0);
	CHECK_STR(state, "active");
	CHECK_INT(ro.ops->stop_unit(ro.data, "hookd-test-display.service", JOB_TIMEOUT_MS, &why), -EROFS);
	CHECK_INT(ro.ops->start_unit(ro.data, "hookd-test-display.service", JOB_TIMEOUT_MS, &why), -EROFS);
	CHECK_INT(ro.ops->terminate_session(ro.data, "c1", JOB_TIMEOUT_MS, &why), -EROFS);
	CHECK_INT(ro.ops->inhibit(ro.data, "sleep", "hookd", "x", &fd, &why), -EROFS);
	host_bus_system_close(&ro);
	calls = fake_bus_calls(&fake);
	/* the calls the tests above made, and none from the read-only bus */
	CHECK_INT(count(calls, "StopUnit hookd-test-display.service\n"), 1);
	CHECK_INT(count(calls, "StartUnit hookd-test-display.service\n"), 1);
	CHECK_INT(count(calls, "TerminateSession c1\n"), 1);
	CHECK_INT(count(calls, "Inhibit sleep\n"), 1);
}

/* No bus, or a bus that never answers: an error within the call timeout, never a hang. */
static void test_no_bus(void)
{
	_cleanup_free_ char *why = NULL, *state = NULL, *address = NULL;
	char dir[] = "/tmp/hookd-test-mute-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int listener;

	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/hookd-test-bus", 1);
	CHECK(bus.ops->unit_state(bus.data, "hookd-test-display.service", &state, &why) < 0);
	CHECK(startswith(why, "cannot connect to the system bus: "));

	/* accepts the connection (the kernel's backlog) and never says a word */
	CHECK(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus", dir);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(listener >= 0);
	CHECK_INT(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(listener, 4), 0);
	CHECK(asprintf(&address, "unix:path=%s", sa.sun_path) > 0);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
	CHECK_INT(bus.ops->stop_unit(bus.data, "hookd-test-display.service", JOB_TIMEOUT_MS, &why), -ETIMEDOUT);
	CHECK_STR(why, "the system bus did not answer within 5000 ms");
	close(listener);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	int r = fake_bus_start(&fake, units, sessions);

	if (r == -ENOENT) {
		fprintf(stderr, "no dbus-daemon: skipped\n");
		return 77;
	}
	CHECK_INT(r, 0);
	/* Every call below must reach the private bus, never the host's. */
	CHECK_STR(getenv("DBUS_SYSTEM_BUS_ADDRESS"), fake.address);
	CHECK_INT(host_bus_system_open(&bus), 0);

	RUN(test_unit_state);
	RUN(test_stop_and_start);
	RUN(test_job_removed_before_reply);
	RUN(test_job_failed);
	RUN(test_job_deadline);
	RUN(test_list_sessions);
	RUN(test_terminate_session);
	RUN(test_inhibit);
	RUN(test_read_only_refuses_changes);
	fake_bus_stop(&fake);
	RUN(test_no_bus);

	host_bus_system_close(&bus);
	return 0;
}

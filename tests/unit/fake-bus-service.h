/* A private D-Bus with a fake systemd and logind on it, for testing host-bus.c across the process boundary:
 * a dbus-daemon of its own (never the system bus) and, on a thread, a service that owns
 * org.freedesktop.systemd1 and org.freedesktop.login1 and answers the calls hookd makes, with the units and
 * sessions the test gives it. $DBUS_SYSTEM_BUS_ADDRESS is pointed at the private bus, so sd_bus_open_system()
 * in the code under test reaches the fake. Unit names in tests are ones no host has, so a fault here can
 * never stop a real unit. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define FAKE_BUS_MAX 8

struct fake_bus_unit {
	const char *name;
	const char *active_state; /* "active", "inactive", "failed" */
	/* The job result a StopUnit/StartUnit ends with ("done", "failed", ...); NULL: the job never ends. */
	const char *stop_result;
	const char *start_result;
	bool signal_before_reply; /* JobRemoved sent before the method's reply (a job that ends at once) */
};

struct fake_bus_session {
	const char *id;
	const char *seat;
	const char *type; /* "x11", "wayland", "tty", ... */
	bool stuck;	  /* TerminateSession leaves it there */
	bool gone;	  /* set by TerminateSession */
};

struct fake_bus {
	pid_t daemon_pid;
	char *dir;
	char *address;
	pthread_t thread;
	bool running;
	volatile int stop;
	pthread_mutex_t lock; /* guards everything below against the service thread */
	struct fake_bus_unit units[FAKE_BUS_MAX];
	char active[FAKE_BUS_MAX][16]; /* each unit's ActiveState now */
	struct fake_bus_session sessions[FAKE_BUS_MAX];
	unsigned next_job;
	char calls[4096];	/* "StopUnit a.service\nResetFailedUnit b.service\n..." */
	int inhibit_fd;		/* our end of the last inhibitor's pipe, or -1 */
	char inhibit_args[256]; /* "what who why mode" of the last Inhibit */
};

/* Start the private bus and the service with UNITS and SESSIONS (copied; NULL-named entry ends each list),
 * and point $DBUS_SYSTEM_BUS_ADDRESS at it. 0, -ENOENT when there is no dbus-daemon (the caller skips), or
 * another -errno. */
int fake_bus_start(struct fake_bus *f, const struct fake_bus_unit *units, const struct fake_bus_session *sessions);
void fake_bus_stop(struct fake_bus *f);

/* A copy of the call log (caller frees); the current ActiveState of UNIT (a copy, or NULL). */
char *fake_bus_calls(struct fake_bus *f);
char *fake_bus_active_state(struct fake_bus *f, const char *unit);

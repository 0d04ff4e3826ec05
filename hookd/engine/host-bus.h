/* The host's systemd and logind, as the engine's host changes use them: over D-Bus with sd-bus (never by
 * running systemctl). Like struct kernel, it is a seam: the running system's bus by default
 * (host-bus.c, the write side), a fake in the unit tests (tests/unit/fake-host-bus.c). Every call is
 * bounded: TIMEOUT_MS covers the method call and, for a job, waiting for its JobRemoved signal. Each
 * returns 0 or -errno; where the bus gave an error name, *ret_why (optional, caller frees) gets one line. */
#pragma once

struct host_bus_ops {
	/* ActiveState of UNIT ("active", "inactive", "failed", ...); -ENOENT when no such unit is loaded
	 * and none can be. */
	int (*unit_state)(void *data, const char *unit, char **ret_state, char **ret_why);
	/* StopUnit(UNIT, "replace") and wait for its job to finish. */
	int (*stop_unit)(void *data, const char *unit, unsigned timeout_ms, char **ret_why);
	/* ResetFailedUnit(UNIT) (ignoring "not failed"), then StartUnit(UNIT, "replace") and wait. */
	int (*start_unit)(void *data, const char *unit, unsigned timeout_ms, char **ret_why);
	/* The AllowedCPUs property of UNIT as a CPU list ("0-3,6"; "" when unset). */
	int (*get_allowed_cpus)(void *data, const char *unit, char **ret_cpus, char **ret_why);
	/* SetUnitProperties(UNIT, runtime=true, AllowedCPUs=CPUS): CPUS is never "" (an empty value does not
	 * reach a running cgroup's cpuset; the full set is written instead). */
	int (*set_allowed_cpus)(void *data, const char *unit, const char *cpus, char **ret_why);
	/* Graphical login sessions on SEAT ("seat0"), as NULL-terminated ids (strv). */
	int (*list_sessions)(void *data, const char *seat, char ***ret_ids, char **ret_why);
	/* TerminateSession(ID) and wait (bounded) until logind no longer lists it. */
	int (*terminate_session)(void *data, const char *id, unsigned timeout_ms, char **ret_why);
	/* Inhibit(WHAT, WHO, WHY, "block"): *ret_fd holds the inhibitor until closed. */
	int (*inhibit)(void *data, const char *what, const char *who, const char *why, int *ret_fd, char **ret_why);
};

struct host_bus {
	const struct host_bus_ops *ops;
	void *data;
};

/* The running system's bus for the engine's write side (host-bus.c): sd-bus on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS when set, as sd-bus reads it). Each call opens its own connection, so worker
 * threads never share one and nothing is connected until a change needs it; connecting and each method call
 * are bounded by HOST_BUS_CALL_TIMEOUT_MS, a job's wait by the caller's timeout_ms (AllowedCPUs: the calls
 * of host-bus-cpus.h). Close with host_bus_system_close() (NULL-safe, idempotent).
 * 0 or -ENOMEM. */
int host_bus_system_open(struct host_bus *ret);
/* The same bus for a reader (hookctl; host-bus-read.c, the read side): unit_state and list_sessions ask the
 * running system, every change is refused with -EROFS; get_allowed_cpus gives -EOPNOTSUPP. Every op of
 * every bus is set: callers never test for NULL. */
int host_bus_read_only_open(struct host_bus *ret);
void host_bus_system_close(struct host_bus *b);

/* logind and systemd answer a method call at once unless they are stuck. */
#define HOST_BUS_CALL_TIMEOUT_MS 5000u

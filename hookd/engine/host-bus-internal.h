/* What host-bus-read.c (the read side) and host-bus.c (the write side) share: the running system's bus,
 * one connection per call. */
#pragma once

#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "host-bus.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER SYSTEMD_SERVICE ".Manager"
#define SYSTEMD_UNIT SYSTEMD_SERVICE ".Unit"
#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER LOGIND_SERVICE ".Manager"
#define LOGIND_SESSION LOGIND_SERVICE ".Session"

struct host_bus_system {
	unsigned call_timeout_ms;
};

/* Closed without a flush: a flush waits for a handshake that may never end (a stuck bus), with sd-bus's own
 * bound; every call's reply has been read by then, so nothing is left to send. */
static inline void sd_bus_close_unrefp_(sd_bus **b)
{
	if (*b)
		sd_bus_close_unref(*b);
}
#define _cleanup_bus_close_ __attribute__((cleanup(sd_bus_close_unrefp_)))

/* A new connection to the system bus, ready (authenticated, Hello answered) within the call timeout, with
 * that timeout on every method call. 0 or -errno with *ret_why. */
int host_bus_open(const struct host_bus_system *s, sd_bus **ret, char **ret_why);

/* *ret_why = one line made from FMT (control characters shown as '?'); returns R (a -errno) for chaining.
 * RET_WHY may be NULL. */
int host_bus_fail(int r, char **ret_why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* -errno for a failed call: ERROR's name mapped (systemd's and logind's "no such unit/session" -> -ENOENT),
 * else R. */
int host_bus_errno(const sd_bus_error *error, int r);
/* ERROR's message, or strerror(-R) when the call failed without one. */
const char *host_bus_error_message(const sd_bus_error *error, int r);

/* The read operations (host-bus-read.c), which the write side's table uses too. */
int host_bus_unit_state(void *data, const char *unit, char **ret_state, char **ret_why);
int host_bus_list_sessions(void *data, const char *seat, char ***ret_ids, char **ret_why);

/* systemd's AllowedCPUs over sd-bus (host-bus-cpus.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "host-bus-cpus.h"
#include "util.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

static void bus_message_unrefp(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}

/* The D-Bus interface that carries AllowedCPUs for UNIT's type (the unit types with a cgroup). */
static const char *cgroup_interface(const char *unit)
{
	static const char *const types[][2] = {
		{ ".slice", "org.freedesktop.systemd1.Slice" },	    { ".scope", "org.freedesktop.systemd1.Scope" },
		{ ".service", "org.freedesktop.systemd1.Service" }, { ".socket", "org.freedesktop.systemd1.Socket" },
		{ ".mount", "org.freedesktop.systemd1.Mount" },	    { ".swap", "org.freedesktop.systemd1.Swap" },
	};
	const char *dot = strrchr(unit, '.');

	for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
		if (streq(dot, types[i][0]))
			return types[i][1];
	return NULL;
}

static int why_printf(char **ret_why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why_printf(char **ret_why, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!ret_why)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(ret_why, fmt, ap);
	va_end(ap);
	if (r < 0)
		*ret_why = NULL;
	return 0;
}

/* -errno for a failed call R with ERROR, and its one line. */
static int call_failed(int r, const sd_bus_error *error, const char *what, const char *unit, char **ret_why)
{
	if (sd_bus_error_has_name(error, "org.freedesktop.systemd1.NoSuchUnit"))
		r = -ENOENT;
	else if (r == -ETIMEDOUT || sd_bus_error_has_name(error, SD_BUS_ERROR_TIMEOUT) ||
		 sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY))
		r = -ETIMEDOUT;
	why_printf(ret_why, "systemd: %s %s: %s", what, unit,
		   sd_bus_error_is_set(error) && error->message ? error->message : strerror(-r));
	return r;
}

static int unit_path(sd_bus *bus, uint64_t timeout_usec, const char *unit, char **ret_path, char **ret_why)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	const char *path;
	int r;

	r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", unit);
	if (r < 0)
		return r;
	r = sd_bus_call(bus, m, timeout_usec, &error, &reply);
	if (r < 0) {
		r = call_failed(r, &error, "GetUnit", unit, ret_why);
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return r;
	*ret_path = strdup(path);
	return *ret_path ? 0 : -ENOMEM;
}

int host_bus_sd_get_allowed_cpus(sd_bus *bus, uint64_t timeout_usec, const char *unit, char **ret_cpus, char **ret_why)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_free_ char *path = NULL;
	const char *iface = cgroup_interface(unit);
	const void *bytes = NULL;
	size_t len = 0;
	struct cpuset cpus;
	int r;

	if (ret_why)
		*ret_why = NULL;
	if (!iface) {
		why_printf(ret_why, "%s: not a unit type with a cgroup", unit);
		return -EINVAL;
	}
	r = unit_path(bus, timeout_usec, unit, &path, ret_why);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, path, "org.freedesktop.DBus.Properties", "Get");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", iface, "AllowedCPUs");
	if (r < 0)
		return r;
	r = sd_bus_call(bus, m, timeout_usec, &error, &reply);
	if (r < 0) {
		r = call_failed(r, &error, "AllowedCPUs of", unit, ret_why);
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_enter_container(reply, 'v', "ay");
	if (r >= 0)
		r = sd_bus_message_read_array(reply, 'y', &bytes, &len);
	if (r < 0) {
		why_printf(ret_why, "systemd: AllowedCPUs of %s: unexpected reply", unit);
		return r;
	}
	r = cpuset_from_bytes(bytes, len, &cpus);
	if (r < 0) {
		why_printf(ret_why, "systemd: AllowedCPUs of %s names CPUs beyond %u", unit, CPUSET_MAX - 1);
		return r;
	}
	return cpuset_format_list(&cpus, ret_cpus);
}

int host_bus_sd_set_allowed_cpus(sd_bus *bus, uint64_t timeout_usec, const char *unit, const char *cpus, char **ret_why)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(bus_message_unrefp) sd_bus_message *m = NULL;
	_cleanup_free_ uint8_t *bytes = NULL;
	const char *why = NULL;
	struct cpuset set;
	size_t len = 0;
	int r;

	if (ret_why)
		*ret_why = NULL;
	if (cpuset_parse_list(cpus, 0, &set, &why) < 0 || cpuset_is_empty(&set)) {
		why_printf(ret_why, "AllowedCPUs for %s: '%s' is %s", unit, cpus, why ? why : "empty");
		return -EINVAL;
	}
	r = cpuset_to_bytes(&set, &bytes, &len);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
					   "SetUnitProperties");
	if (r >= 0)
		r = sd_bus_message_append(m, "sb", unit, 1);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sv");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", "AllowedCPUs");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "ay");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', bytes, len);
	for (int i = 0; r >= 0 && i < 3; i++)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	r = sd_bus_call(bus, m, timeout_usec, &error, NULL);
	if (r < 0) {
		r = call_failed(r, &error, "SetUnitProperties AllowedCPUs on", unit, ret_why);
		sd_bus_error_free(&error);
		return r;
	}
	return 0;
}

/* The running system's bus, its read side (host-bus.h): connecting within a deadline, a unit's state, the
 * graphical sessions of a seat, and the read-only bus hookctl uses, whose changes are refused. The changes
 * themselves (jobs, TerminateSession, Inhibit) are in host-bus.c, the engine's write side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host-bus-internal.h"
#include "strv.h"
#include "util.h"

int host_bus_fail(int r, char **ret_why, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret_why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* A bus error's message is the peer's text: keep the reply one line. */
	for (char *p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	free(*ret_why);
	*ret_why = s;
	return r;
}

int host_bus_errno(const sd_bus_error *error, int r)
{
	static const char *const not_found[] = {
		"org.freedesktop.systemd1.NoSuchUnit",
		"org.freedesktop.systemd1.LoadFailed",
		"org.freedesktop.login1.NoSuchSession",
		"org.freedesktop.DBus.Error.UnknownObject",
	};

	for (size_t i = 0; i < ELEMENTSOF(not_found); i++)
		if (sd_bus_error_has_name(error, not_found[i]))
			return -ENOENT;
	if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED) ||
	    sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"))
		return -EACCES;
	return r < 0 ? r : -EIO;
}

const char *host_bus_error_message(const sd_bus_error *error, int r)
{
	if (sd_bus_error_is_set(error) && error->message)
		return error->message;
	return strerror(r < 0 ? -r : EIO);
}

int host_bus_open(const struct host_bus_system *s, sd_bus **ret, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	unsigned long long deadline = monotonic_usec() + s->call_timeout_ms * 1000ull;
	int r;

	r = sd_bus_open_system(&bus);
	if (r < 0)
		return host_bus_fail(r, ret_why, "cannot connect to the system bus: %s", strerror(-r));
	r = sd_bus_set_method_call_timeout(bus, s->call_timeout_ms * 1000ull);
	if (r < 0)
		return host_bus_fail(r, ret_why, "cannot set the system bus's timeout: %s", strerror(-r));
	/* sd-bus would wait for the handshake with its own, longer, bound: a stuck bus must not stall a prepare. */
	for (;;) {
		unsigned long long now;

		r = sd_bus_is_ready(bus);
		if (r > 0)
			break;
		if (r == 0)
			r = sd_bus_process(bus, NULL);
		if (r < 0)
			return host_bus_fail(r, ret_why, "cannot connect to the system bus: %s", strerror(-r));
		if (r > 0)
			continue;
		now = monotonic_usec();
		if (now >= deadline)
			return host_bus_fail(-ETIMEDOUT, ret_why, "the system bus did not answer within %u ms",
					     s->call_timeout_ms);
		r = sd_bus_wait(bus, deadline - now);
		if (r < 0)
			return host_bus_fail(r, ret_why, "cannot connect to the system bus: %s", strerror(-r));
	}
	*ret = TAKE_PTR(bus);
	return 0;
}

static int unit_property(sd_bus *bus, const char *unit, const char *path, const char *name, char **ret, char **ret_why)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_get_property_string(bus, SYSTEMD_SERVICE, path, SYSTEMD_UNIT, name, &error, ret);
	if (r < 0)
		r = host_bus_fail(host_bus_errno(&error, r), ret_why, "systemd: cannot read %s of %s: %s", name, unit,
				  host_bus_error_message(&error, r));
	sd_bus_error_free(&error);
	return r;
}

int host_bus_unit_state(void *data, const char *unit, char **ret_state, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_free_ char *path = NULL, *load_state = NULL;
	const char *p;
	int r;

	r = host_bus_open(data, &bus, ret_why);
	if (r < 0)
		return r;
	/* LoadUnit, not GetUnit: a unit nobody has asked for yet (a stopped display manager) is not loaded. */
	r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "LoadUnit", &error, &reply, "s",
			       unit);
	if (r < 0) {
		r = host_bus_fail(host_bus_errno(&error, r), ret_why, "systemd: cannot load %s: %s", unit,
				  host_bus_error_message(&error, r));
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_read(reply, "o", &p);
	if (r < 0)
		return host_bus_fail(r, ret_why, "systemd: bad reply to LoadUnit(%s)", unit);
	path = strdup(p);
	if (!path)
		return -ENOMEM;
	r = unit_property(bus, unit, path, "LoadState", &load_state, ret_why);
	if (r < 0)
		return r;
	if (streq(load_state, "not-found"))
		return host_bus_fail(-ENOENT, ret_why, "systemd has no unit %s", unit);
	return unit_property(bus, unit, path, "ActiveState", ret_state, ret_why);
}

static bool session_type_is_graphical(const char *type)
{
	return streq(type, "x11") || streq(type, "wayland") || streq(type, "mir");
}

int host_bus_list_sessions(void *data, const char *seat, char ***ret_ids, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_strv_free_ char **ids = NULL;
	size_t n = 0;
	int r;

	r = host_bus_open(data, &bus, ret_why);
	if (r < 0)
		return r;
	r = sd_bus_call_method(bus, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "ListSessions", &error, &reply, "");
	if (r < 0) {
		r = host_bus_fail(host_bus_errno(&error, r), ret_why, "logind: cannot list sessions: %s",
				  host_bus_error_message(&error, r));
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_enter_container(reply, 'a', "(susso)");
	if (r < 0)
		return host_bus_fail(r, ret_why, "logind: bad reply to ListSessions");
	for (;;) {
		const char *id, *user, *session_seat, *path;
		_cleanup_free_ char *type = NULL;
		uint32_t uid;

		r = sd_bus_message_read(reply, "(susso)", &id, &uid, &user, &session_seat, &path);
		if (r < 0)
			return host_bus_fail(r, ret_why, "logind: bad reply to ListSessions");
		if (r == 0)
			break;
		if (!streq(session_seat, seat))
			continue;
		r = sd_bus_get_property_string(bus, LOGIND_SERVICE, path, LOGIND_SESSION, "Type", &error, &type);
		if (r < 0) {
			/* A session that ended since the list was made holds nothing. */
			r = host_bus_errno(&error, r);
			sd_bus_error_free(&error);
			if (r == -ENOENT)
				continue;
			return host_bus_fail(r, ret_why, "logind: cannot read the type of session %s", id);
		}
		if (!session_type_is_graphical(type))
			continue;
		if (strv_push(&ids, &n, id) < 0)
			return -ENOMEM;
	}
	if (!ids) {
		ids = calloc(1, sizeof(char *));
		if (!ids)
			return -ENOMEM;
	}
	*ret_ids = TAKE_PTR(ids);
	return 0;
}

static int refuse_unit_job(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	return -EROFS;
}

/* AllowedCPUs is read over the write side's calls (host-bus-cpus.h), which a reader does not link: its check
 * leaves the slices to prepare, as without a bus. */
static int no_allowed_cpus(void *data, const char *unit, char **ret_cpus, char **ret_why)
{
	return -EOPNOTSUPP;
}

static int refuse_set_allowed_cpus(void *data, const char *unit, const char *cpus, char **ret_why)
{
	return -EROFS;
}

static int refuse_terminate_session(void *data, const char *id, unsigned timeout_ms, char **ret_why)
{
	return -EROFS;
}

static int refuse_inhibit(void *data, const char *what, const char *who, const char *why, int *ret_fd, char **ret_why)
{
	return -EROFS;
}

static const struct host_bus_ops read_only_ops = {
	.unit_state = host_bus_unit_state,
	.stop_unit = refuse_unit_job,
	.start_unit = refuse_unit_job,
	.get_allowed_cpus = no_allowed_cpus,
	.set_allowed_cpus = refuse_set_allowed_cpus,
	.list_sessions = host_bus_list_sessions,
	.terminate_session = refuse_terminate_session,
	.inhibit = refuse_inhibit,
};

int host_bus_read_only_open(struct host_bus *ret)
{
	struct host_bus_system *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->call_timeout_ms = HOST_BUS_CALL_TIMEOUT_MS;
	*ret = (struct host_bus){ .ops = &read_only_ops, .data = s };
	return 0;
}

void host_bus_system_close(struct host_bus *b)
{
	if (!b)
		return;
	free(b->data);
	*b = (struct host_bus){ 0 };
}

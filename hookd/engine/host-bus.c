/* The running system's bus, its write side (host-bus.h): units stopped and started as systemd jobs waited
 * for, login sessions terminated and waited for, the sleep inhibitor. Every wait is bounded by the caller's
 * timeout; a job that outlives it goes on in systemd and the caller is told -ETIMEDOUT. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "host-bus-cpus.h"
#include "host-bus-internal.h"
#include "util.h"

/* The JobRemoved signal this call waits for. */
struct job_wait {
	char *path;   /* the job's object path, once StartUnit/StopUnit answered */
	char *result; /* its result ("done", "failed", "canceled", "timeout", "dependency", ...) once removed */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct job_wait *w = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	/* sd_bus_call() queues signals without dispatching them, so the path is known by the time this runs. */
	if (w->path && !w->result && streq(path, w->path))
		w->result = strdup(result);
	return 0;
}

static int job_result_errno(const char *result)
{
	if (streq(result, "timeout"))
		return -ETIMEDOUT;
	if (streq(result, "canceled"))
		return -ECANCELED;
	return -EIO;
}

/* METHOD ("StartUnit" or "StopUnit") on UNIT with mode "replace", and wait until systemd removes the job. */
static int unit_job(struct host_bus_system *s, const char *method, const char *verb, const char *unit,
		    unsigned timeout_ms, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	struct job_wait w = { 0 };
	unsigned long long deadline = monotonic_usec() + timeout_ms * 1000ull;
	const char *path;
	int r;

	r = host_bus_open(s, &bus, ret_why);
	if (r < 0)
		return r;
	/* Listen before asking, so a job that finishes at once is not missed. */
	r = sd_bus_match_signal(bus, &slot, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
				on_job_removed, &w);
	if (r < 0)
		return host_bus_fail(r, ret_why, "systemd: cannot watch jobs for %s: %s", unit, strerror(-r));
	if (streq(method, "StartUnit")) {
		/* A unit that failed before (or failed to stop) may be refused by its start rate limit. */
		r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "ResetFailedUnit", &error,
				       NULL, "s", unit);
		sd_bus_error_free(&error); /* "not failed" or "not loaded": the start below says what matters */
	}
	r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, method, &error, &reply, "ss", unit,
			       "replace");
	if (r < 0) {
		r = host_bus_fail(host_bus_errno(&error, r), ret_why, "systemd: %s %s: %s", verb, unit,
				  host_bus_error_message(&error, r));
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return host_bus_fail(r, ret_why, "systemd: bad reply to %s(%s)", method, unit);
	w.path = strdup(path);
	if (!w.path)
		return -ENOMEM;

	while (!w.result) {
		unsigned long long now;

		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			r = host_bus_fail(r, ret_why, "systemd: lost the bus while %s %s: %s", verb, unit,
					  strerror(-r));
			goto out;
		}
		if (r > 0)
			continue;
		now = monotonic_usec();
		if (now >= deadline) {
			r = host_bus_fail(-ETIMEDOUT, ret_why, "systemd: %s %s did not finish within %u s", verb, unit,
					  (timeout_ms + 999) / 1000);
			goto out;
		}
		r = sd_bus_wait(bus, deadline - now);
		if (r < 0) {
			r = host_bus_fail(r, ret_why, "systemd: lost the bus while %s %s: %s", verb, unit,
					  strerror(-r));
			goto out;
		}
	}
	if (!w.result)
		r = -ENOMEM;
	else if (streq(w.result, "done"))
		r = 0;
	else
		r = host_bus_fail(job_result_errno(w.result), ret_why, "systemd: %s %s: job %s", verb, unit, w.result);
out:
	free(w.path);
	free(w.result);
	return r;
}

static int stop_unit(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	return unit_job(data, "StopUnit", "stopping", unit, timeout_ms, ret_why);
}

static int start_unit(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	return unit_job(data, "StartUnit", "starting", unit, timeout_ms, ret_why);
}

/* 0 while logind still knows session ID, 1 once it does not. */
static int session_gone(sd_bus *bus, const char *id, char **ret_why)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_call_method(bus, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "GetSession", &error, NULL, "s", id);
	if (r >= 0)
		return 0;
	r = host_bus_errno(&error, r);
	if (r == -ENOENT)
		r = 1;
	else
		r = host_bus_fail(r, ret_why, "logind: cannot ask for session %s: %s", id,
				  host_bus_error_message(&error, r));
	sd_bus_error_free(&error);
	return r;
}

static int terminate_session(void *data, const char *id, unsigned timeout_ms, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	unsigned long long deadline = monotonic_usec() + timeout_ms * 1000ull;
	int r;

	r = host_bus_open(data, &bus, ret_why);
	if (r < 0)
		return r;
	r = sd_bus_call_method(bus, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "TerminateSession", &error, NULL, "s",
			       id);
	if (r < 0) {
		r = host_bus_errno(&error, r);
		if (r != -ENOENT) /* gone already: what was asked for */
			r = host_bus_fail(r, ret_why, "logind: cannot end session %s: %s", id,
					  host_bus_error_message(&error, r));
		sd_bus_error_free(&error);
		return r == -ENOENT ? 0 : r;
	}
	/* logind stops the session's scope; the session is gone once its last process is. */
	for (;;) {
		const struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };

		r = session_gone(bus, id, ret_why);
		if (r != 0)
			return r < 0 ? r : 0;
		if (monotonic_usec() >= deadline)
			return host_bus_fail(-ETIMEDOUT, ret_why, "logind: session %s was still there after %u s", id,
					     (timeout_ms + 999) / 1000);
		nanosleep(&pause, NULL);
	}
}

static int inhibit(void *data, const char *what, const char *who, const char *why, int *ret_fd, char **ret_why)
{
	_cleanup_bus_close_ sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r, fd;

	r = host_bus_open(data, &bus, ret_why);
	if (r < 0)
		return r;
	r = sd_bus_call_method(bus, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, "Inhibit", &error, &reply, "ssss",
			       what, who, why, "block");
	if (r < 0) {
		r = host_bus_fail(host_bus_errno(&error, r), ret_why, "logind: cannot inhibit %s: %s", what,
				  host_bus_error_message(&error, r));
		sd_bus_error_free(&error);
		return r;
	}
	r = sd_bus_message_read(reply, "h", &fd);
	if (r < 0)
		return host_bus_fail(r, ret_why, "logind: bad reply to Inhibit(%s)", what);
	/* The message owns FD; the inhibitor lasts as long as our copy stays open, not the connection. */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return negative_errno();
	*ret_fd = fd;
	return 0;
}

/* AllowedCPUs: the calls are host-bus-cpus.c's, on a connection of our own. */
static int get_allowed_cpus(void *data, const char *unit, char **ret_cpus, char **ret_why)
{
	struct host_bus_system *s = data;
	_cleanup_bus_close_ sd_bus *bus = NULL;
	int r;

	r = host_bus_open(s, &bus, ret_why);
	if (r < 0)
		return r;
	return host_bus_sd_get_allowed_cpus(bus, s->call_timeout_ms * 1000ull, unit, ret_cpus, ret_why);
}

static int set_allowed_cpus(void *data, const char *unit, const char *cpus, char **ret_why)
{
	struct host_bus_system *s = data;
	_cleanup_bus_close_ sd_bus *bus = NULL;
	int r;

	r = host_bus_open(s, &bus, ret_why);
	if (r < 0)
		return r;
	return host_bus_sd_set_allowed_cpus(bus, s->call_timeout_ms * 1000ull, unit, cpus, ret_why);
}

static const struct host_bus_ops system_ops = {
	.unit_state = host_bus_unit_state,
	.stop_unit = stop_unit,
	.start_unit = start_unit,
	.get_allowed_cpus = get_allowed_cpus,
	.set_allowed_cpus = set_allowed_cpus,
	.list_sessions = host_bus_list_sessions,
	.terminate_session = terminate_session,
	.inhibit = inhibit,
};

int host_bus_system_open(struct host_bus *ret)
{
	int r = host_bus_read_only_open(ret);

	if (r < 0)
		return r;
	ret->ops = &system_ops;
	return 0;
}

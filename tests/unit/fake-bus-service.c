/* A fake systemd and logind on a private dbus-daemon (fake-bus-service.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "fake-bus-service.h"
#include "fileio.h"
#include "util.h"

#define UNIT_PREFIX "/org/freedesktop/systemd1/unit"
#define SESSION_PREFIX "/org/freedesktop/login1/session"

static void log_call(struct fake_bus *f, const char *method, const char *arg)
{
	size_t len = strlen(f->calls);

	snprintf(f->calls + len, sizeof(f->calls) - len, "%s %s\n", method, arg);
}

static int find_unit(struct fake_bus *f, const char *name)
{
	for (int i = 0; i < FAKE_BUS_MAX && f->units[i].name; i++)
		if (streq(f->units[i].name, name))
			return i;
	return -1;
}

static int method_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *name;
	char path[64];
	int i, r;

	r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	i = find_unit(f, name);
	pthread_mutex_unlock(&f->lock);
	/* systemd answers an unknown name with a stub unit whose LoadState is "not-found". */
	if (i < 0)
		snprintf(path, sizeof(path), UNIT_PREFIX "/missing");
	else
		snprintf(path, sizeof(path), UNIT_PREFIX "/%d", i);
	return sd_bus_reply_method_return(m, "o", path);
}

static int unit_job(sd_bus_message *m, struct fake_bus *f, bool start, sd_bus_error *error)
{
	const char *name, *mode, *result;
	char job[64];
	unsigned id;
	bool early;
	int i, r;

	r = sd_bus_message_read(m, "ss", &name, &mode);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	log_call(f, start ? "StartUnit" : "StopUnit", name);
	i = find_unit(f, name);
	if (i < 0) {
		pthread_mutex_unlock(&f->lock);
		return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
	}
	id = ++f->next_job;
	result = start ? f->units[i].start_result : f->units[i].stop_result;
	early = f->units[i].signal_before_reply;
	if (result && streq(result, "done"))
		snprintf(f->active[i], sizeof(f->active[i]), "%s", start ? "active" : "inactive");
	else if (result)
		snprintf(f->active[i], sizeof(f->active[i]), "failed");
	pthread_mutex_unlock(&f->lock);

	snprintf(job, sizeof(job), "/org/freedesktop/systemd1/job/%u", id);
	if (result && early) {
		r = sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", id, job, name, result);
		if (r < 0)
			return r;
	}
	r = sd_bus_reply_method_return(m, "o", job);
	if (r < 0 || !result || early)
		return r;
	return sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/systemd1",
				  "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", id, job, name, result);
}

static int method_stop_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return unit_job(m, userdata, false, error);
}

static int method_start_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return unit_job(m, userdata, true, error);
}

static int method_reset_failed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *name;
	int r;

	r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	log_call(f, "ResetFailedUnit", name);
	pthread_mutex_unlock(&f->lock);
	return sd_bus_reply_method_return(m, "");
}

/* The object a unit path names: a unit's index + 1 (so NULL is never a found unit), or the not-found stub. */
static int unit_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
		     sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *rest = path + strlen(UNIT_PREFIX);
	char *end;
	long i;

	if (*rest != '/')
		return 0;
	rest++;
	if (streq(rest, "missing")) {
		*ret_found = (void *)(intptr_t)-1;
		return 1;
	}
	i = strtol(rest, &end, 10);
	if (*end || i < 0 || i >= FAKE_BUS_MAX || !f->units[i].name)
		return 0;
	*ret_found = (void *)(intptr_t)(i + 1);
	return 1;
}

static struct fake_bus *the_fake; /* the property getters' way back to the fake: one fake per test process */

static int prop_unit(sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
		     void *userdata, sd_bus_error *error)
{
	intptr_t index = (intptr_t)userdata - 1;
	char value[16];

	if (index < 0)
		return sd_bus_message_append(reply, "s", streq(property, "LoadState") ? "not-found" : "inactive");
	if (streq(property, "LoadState"))
		return sd_bus_message_append(reply, "s", "loaded");
	pthread_mutex_lock(&the_fake->lock);
	snprintf(value, sizeof(value), "%s", the_fake->active[index]);
	pthread_mutex_unlock(&the_fake->lock);
	return sd_bus_message_append(reply, "s", value);
}

static int find_session(struct fake_bus *f, const char *id)
{
	for (int i = 0; i < FAKE_BUS_MAX && f->sessions[i].id; i++)
		if (streq(f->sessions[i].id, id) && !f->sessions[i].gone)
			return i;
	return -1;
}

static int method_list_sessions(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct fake_bus *f = userdata;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "(susso)");
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	for (int i = 0; r >= 0 && i < FAKE_BUS_MAX && f->sessions[i].id; i++) {
		char path[64];

		if (f->sessions[i].gone)
			continue;
		snprintf(path, sizeof(path), SESSION_PREFIX "/_%d", i);
		r = sd_bus_message_append(reply, "(susso)", f->sessions[i].id, 1000 + i, "alice", f->sessions[i].seat,
					  path);
	}
	pthread_mutex_unlock(&f->lock);
	if (r < 0)
		return r;
	r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int method_get_session(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *id;
	char path[64];
	int i, r;

	r = sd_bus_message_read(m, "s", &id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	i = find_session(f, id);
	pthread_mutex_unlock(&f->lock);
	if (i < 0)
		return sd_bus_error_setf(error, "org.freedesktop.login1.NoSuchSession", "No session '%s' known", id);
	snprintf(path, sizeof(path), SESSION_PREFIX "/_%d", i);
	return sd_bus_reply_method_return(m, "o", path);
}

static int method_terminate_session(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *id;
	int i, r;

	r = sd_bus_message_read(m, "s", &id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	log_call(f, "TerminateSession", id);
	i = find_session(f, id);
	if (i >= 0 && !f->sessions[i].stuck)
		f->sessions[i].gone = true;
	pthread_mutex_unlock(&f->lock);
	if (i < 0)
		return sd_bus_error_setf(error, "org.freedesktop.login1.NoSuchSession", "No session '%s' known", id);
	return sd_bus_reply_method_return(m, "");
}

static int method_inhibit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *what, *who, *why, *mode;
	int p[2], r;

	r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pthread_mutex_lock(&f->lock);
	log_call(f, "Inhibit", what);
	snprintf(f->inhibit_args, sizeof(f->inhibit_args), "%s|%s|%s|%s", what, who, why, mode);
	if (f->inhibit_fd >= 0)
		close(f->inhibit_fd);
	f->inhibit_fd = p[0]; /* as logind: the inhibitor ends when the caller's end is closed */
	pthread_mutex_unlock(&f->lock);
	r = sd_bus_reply_method_return(m, "h", p[1]);
	close(p[1]);
	return r;
}

static int session_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
			sd_bus_error *error)
{
	struct fake_bus *f = userdata;
	const char *rest = path + strlen(SESSION_PREFIX);
	char *end;
	long i;

	if (!startswith(rest, "/_"))
		return 0;
	i = strtol(rest + 2, &end, 10);
	if (*end || i < 0 || i >= FAKE_BUS_MAX || !f->sessions[i].id || f->sessions[i].gone)
		return 0;
	*ret_found = (void *)(intptr_t)(i + 1);
	return 1;
}

static int prop_session_type(sd_bus *bus, const char *path, const char *interface, const char *property,
			     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", the_fake->sessions[(intptr_t)userdata - 1].type);
}

static const sd_bus_vtable systemd_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("LoadUnit", "s", "o", method_load_unit, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("StopUnit", "ss", "o", method_stop_unit, 0),
	SD_BUS_METHOD("StartUnit", "ss", "o", method_start_unit, 0),
	SD_BUS_METHOD("ResetFailedUnit", "s", "", method_reset_failed, 0),
	SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable unit_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("LoadState", "s", prop_unit, 0, 0),
	SD_BUS_PROPERTY("ActiveState", "s", prop_unit, 0, 0),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable logind_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("ListSessions", "", "a(susso)", method_list_sessions, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetSession", "s", "o", method_get_session, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("TerminateSession", "s", "", method_terminate_session, 0),
	SD_BUS_METHOD("Inhibit", "ssss", "h", method_inhibit, 0),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable session_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Type", "s", prop_session_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

static int serve_setup(struct fake_bus *f, sd_bus **ret)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, f->address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
					     systemd_vtable, f);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(bus, NULL, UNIT_PREFIX, "org.freedesktop.systemd1.Unit", unit_vtable,
					       unit_find, f);
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
					     logind_vtable, f);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(bus, NULL, SESSION_PREFIX, "org.freedesktop.login1.Session",
					       session_vtable, session_find, f);
	if (r >= 0)
		r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
	if (r >= 0)
		r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(bus);
	return 0;
}

struct serve_thread {
	struct fake_bus *f;
	sd_bus *bus;
};

static void *serve_loop(void *userdata)
{
	struct serve_thread *t = userdata;

	while (!t->f->stop) {
		int r = sd_bus_process(t->bus, NULL);

		if (r < 0)
			break;
		if (r > 0)
			continue;
		sd_bus_wait(t->bus, 50 * 1000);
	}
	sd_bus_flush_close_unref(t->bus);
	free(t);
	return NULL;
}

/* dbus-daemon with a policy that lets anyone own and call anything, listening in DIR; its address is read from
 * --print-address, which it writes once it listens. */
static int start_daemon(struct fake_bus *f)
{
	_cleanup_free_ char *conf = NULL, *text = NULL;
	char buf[512];
	int p[2];
	ssize_t n;
	size_t len = 0;

	if (access("/usr/bin/dbus-daemon", X_OK) < 0)
		return -ENOENT;
	if (asprintf(&conf, "%s/bus.conf", f->dir) < 0 ||
	    asprintf(&text,
		     "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		     " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		     "<busconfig>\n"
		     "  <listen>unix:path=%s/bus</listen>\n"
		     "  <auth>EXTERNAL</auth>\n"
		     "  <policy context=\"default\">\n"
		     "    <allow user=\"*\"/>\n"
		     "    <allow own=\"*\"/>\n"
		     "    <allow send_destination=\"*\"/>\n"
		     "    <allow receive_sender=\"*\"/>\n"
		     "  </policy>\n"
		     "</busconfig>\n",
		     f->dir) < 0)
		return -ENOMEM;
	if (write_file_atomic(f->dir, "bus.conf", text, 0644) < 0)
		return -EIO;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	f->daemon_pid = fork();
	if (f->daemon_pid < 0)
		return -errno;
	if (f->daemon_pid == 0) {
		char fdarg[32], confarg[600];

		dup2(p[1], 3);
		snprintf(fdarg, sizeof(fdarg), "--print-address=3");
		snprintf(confarg, sizeof(confarg), "--config-file=%s", conf);
		execl("/usr/bin/dbus-daemon", "dbus-daemon", confarg, "--nofork", fdarg, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	close(p[0]);
	buf[len] = '\0';
	if (!memchr(buf, '\n', len))
		return -EIO;
	*strchr(buf, '\n') = '\0';
	f->address = strdup(buf);
	return f->address ? 0 : -ENOMEM;
}

int fake_bus_start(struct fake_bus *f, const struct fake_bus_unit *units, const struct fake_bus_session *sessions)
{
	char tmpl[] = "/tmp/hookd-fake-bus-XXXXXX";
	struct serve_thread *t;
	sd_bus *bus = NULL;
	int r;

	*f = (struct fake_bus){ .daemon_pid = -1, .inhibit_fd = -1 };
	pthread_mutex_init(&f->lock, NULL);
	for (int i = 0; units && i < FAKE_BUS_MAX - 1 && units[i].name; i++) {
		f->units[i] = units[i];
		snprintf(f->active[i], sizeof(f->active[i]), "%s", units[i].active_state);
	}
	for (int i = 0; sessions && i < FAKE_BUS_MAX - 1 && sessions[i].id; i++)
		f->sessions[i] = sessions[i];
	if (!mkdtemp(tmpl))
		return -errno;
	f->dir = strdup(tmpl);
	if (!f->dir)
		return -ENOMEM;
	r = start_daemon(f);
	if (r < 0)
		return r;
	the_fake = f;
	/* Names owned before the code under test can call: no race with its first call. */
	r = serve_setup(f, &bus);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t) {
		sd_bus_flush_close_unref(bus);
		return -ENOMEM;
	}
	*t = (struct serve_thread){ .f = f, .bus = bus };
	r = -pthread_create(&f->thread, NULL, serve_loop, t);
	if (r < 0) {
		sd_bus_flush_close_unref(bus);
		free(t);
		return r;
	}
	f->running = true;
	if (setenv("DBUS_SYSTEM_BUS_ADDRESS", f->address, 1) < 0)
		return -errno;
	return 0;
}

void fake_bus_stop(struct fake_bus *f)
{
	if (f->running) {
		f->stop = 1;
		pthread_join(f->thread, NULL);
	}
	if (f->daemon_pid > 0) {
		kill(f->daemon_pid, SIGTERM);
		waitpid(f->daemon_pid, NULL, 0);
	}
	if (f->inhibit_fd >= 0)
		close(f->inhibit_fd);
	if (f->dir) {
		char path[600];

		snprintf(path, sizeof(path), "%s/bus.conf", f->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bus", f->dir);
		unlink(path);
		rmdir(f->dir);
	}
	/* Nothing after this may reach a bus: not the real one either. */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/hookd-test-bus", 1);
	free(f->dir);
	free(f->address);
	pthread_mutex_destroy(&f->lock);
	the_fake = NULL;
}

char *fake_bus_calls(struct fake_bus *f)
{
	char *s;

	pthread_mutex_lock(&f->lock);
	s = strdup(f->calls);
	pthread_mutex_unlock(&f->lock);
	return s;
}

char *fake_bus_active_state(struct fake_bus *f, const char *unit)
{
	char *s = NULL;
	int i;

	pthread_mutex_lock(&f->lock);
	i = find_unit(f, unit);
	if (i >= 0)
		s = strdup(f->active[i]);
	pthread_mutex_unlock(&f->lock);
	return s;
}

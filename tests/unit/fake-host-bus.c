/* The fake systemd and logind of the engine's unit tests (fake-host-bus.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake-host-bus.h"
#include "strv.h"
#include "test.h"
#include "util.h"

struct fhb_unit {
	char *name;
	char *state;
	char *allowed_cpus; /* "" when unset */
	unsigned job_ms;    /* how long its stop and start jobs take */
};

struct fhb_session {
	char *id;
	char *seat;
	bool gone;
};

struct fhb_fault {
	enum fhb_call call;
	char *arg; /* NULL: any */
	int error;
	char *why;
	unsigned skip;
	bool armed;
};

struct fake_host_bus {
	struct host_bus bus;
	pthread_mutex_t lock;
	struct fhb_unit *units;
	size_t n_units;
	struct fhb_session *sessions;
	size_t n_sessions;
	int *inhibitor_ends; /* the write end of each inhibitor's pipe: it sees POLLERR once the fd is closed */
	size_t n_inhibitors;
	struct fhb_fault *faults;
	size_t n_faults;
	char *log;
	size_t log_len;
	void (*observer)(void *userdata, const char *line);
	void *observer_data;
};

static char *xstrdup(const char *s)
{
	char *c = strdup(s);

	CHECK(c);
	return c;
}

static void *xrealloc(void *p, size_t n, size_t size)
{
	p = realloc(p, (n ? n : 1) * size);
	CHECK(p);
	return p;
}

/* Lock held. */
static void logf_locked(struct fake_host_bus *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_locked(struct fake_host_bus *b, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	CHECK(vasprintf(&line, fmt, ap) >= 0);
	va_end(ap);
	n = strlen(line);
	b->log = xrealloc(b->log, b->log_len + n + 2, 1);
	memcpy(b->log + b->log_len, line, n);
	b->log_len += n;
	b->log[b->log_len++] = '\n';
	b->log[b->log_len] = '\0';
	if (b->observer)
		b->observer(b->observer_data, line);
}

static struct fhb_unit *find_unit(struct fake_host_bus *b, const char *name)
{
	for (size_t i = 0; i < b->n_units; i++)
		if (streq(b->units[i].name, name))
			return &b->units[i];
	return NULL;
}

static struct fhb_session *find_session(struct fake_host_bus *b, const char *id)
{
	for (size_t i = 0; i < b->n_sessions; i++)
		if (!b->sessions[i].gone && streq(b->sessions[i].id, id))
			return &b->sessions[i];
	return NULL;
}

/* An armed fault for CALL on ARG that is due now (lock held): its error, with *ret_why; else 0. */
static int fault_due(struct fake_host_bus *b, enum fhb_call call, const char *arg, char **ret_why)
{
	for (size_t i = 0; i < b->n_faults; i++) {
		struct fhb_fault *f = &b->faults[i];

		if (!f->armed || f->call != call || (f->arg && !streq(f->arg, arg)))
			continue;
		if (f->skip > 0) {
			f->skip--;
			continue;
		}
		f->armed = false;
		if (ret_why && f->why[0])
			*ret_why = xstrdup(f->why);
		return f->error;
	}
	return 0;
}

/* *RET_WHY (when asked for) = the formatted line, as the bus's error message would give it. */
#define set_why(ret_why, ...)                                         \
	do {                                                          \
		if (ret_why)                                          \
			CHECK(asprintf((ret_why), __VA_ARGS__) >= 0); \
	} while (0)

/* The start of every call (takes the lock): logs the call as the line FMT, and returns 0 with the lock held,
 * or an injected failure (logged with " FAILED") with the lock released. */
static int begin(struct fake_host_bus *b, enum fhb_call call, const char *arg, char **ret_why, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int begin(struct fake_host_bus *b, enum fhb_call call, const char *arg, char **ret_why, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	CHECK(vasprintf(&line, fmt, ap) >= 0);
	va_end(ap);
	pthread_mutex_lock(&b->lock);
	if (ret_why)
		*ret_why = NULL;
	r = fault_due(b, call, arg, ret_why);
	logf_locked(b, "%s%s", line, r < 0 ? " FAILED" : "");
	if (r < 0)
		pthread_mutex_unlock(&b->lock);
	return r;
}

/* begin() for the call VERB on UNIT (logged as "VERB UNIT", or "VERB UNIT VALUE"), which systemd must have: 0
 * with *ret_unit and the lock held; else the lock released and -ENOENT with systemd's line (GetUnit's "not
 * found", StopUnit's "not loaded"), or the injected failure. */
static int begin_on_unit(struct fake_host_bus *b, enum fhb_call call, const char *verb, const char *unit,
			 const char *value, char **ret_why, struct fhb_unit **ret_unit)
{
	int r = begin(b, call, unit, ret_why, "%s %s%s%s", verb, unit, value ? " " : "", value ? value : "");

	if (r < 0)
		return r;
	*ret_unit = find_unit(b, unit);
	if (*ret_unit)
		return 0;
	set_why(ret_why, "Unit %s %s.", unit, call == FHB_STOP_UNIT ? "not loaded" : "not found");
	pthread_mutex_unlock(&b->lock);
	return -ENOENT;
}

static int fhb_op_unit_state(void *data, const char *unit, char **ret_state, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_unit *u;
	int r = begin_on_unit(b, FHB_UNIT_STATE, "unit-state", unit, NULL, ret_why, &u);

	if (r < 0)
		return r;
	*ret_state = xstrdup(u->state);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* U's job takes u->job_ms: wait for it (B's lock let go meanwhile), or give up after TIMEOUT_MS as host-bus.c
 * does, leaving the unit in TRANSIENT (the job goes on in systemd). Lock held. */
static int job_wait_locked(struct fake_host_bus *b, struct fhb_unit *u, const char *verb, const char *transient,
			   unsigned timeout_ms, char **ret_why)
{
	unsigned ms = u->job_ms < timeout_ms ? u->job_ms : timeout_ms;
	const struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000 * 1000 };
	bool late = u->job_ms > timeout_ms;
	char *name = u->name;

	if (ms == 0 && !late)
		return 0;
	pthread_mutex_unlock(&b->lock);
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&b->lock);
	if (!late)
		return 0;
	u = find_unit(b, name);
	free(u->state);
	u->state = xstrdup(transient);
	set_why(ret_why, "%s %s did not finish within %u ms", verb, name, timeout_ms);
	return -ETIMEDOUT;
}

static int fhb_op_stop_unit(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_unit *u;
	int r = begin_on_unit(b, FHB_STOP_UNIT, "stop", unit, NULL, ret_why, &u);

	if (r < 0)
		return r;
	r = job_wait_locked(b, u, "stopping", "deactivating", timeout_ms, ret_why);
	if (r >= 0) {
		free(u->state);
		u->state = xstrdup("inactive");
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int fhb_op_start_unit(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_unit *u;
	int r;

	pthread_mutex_lock(&b->lock);
	if (ret_why)
		*ret_why = NULL;
	u = find_unit(b, unit);
	if (u && streq(u->state, "failed")) {
		logf_locked(b, "reset-failed %s", unit);
		free(u->state);
		u->state = xstrdup("inactive");
	}
	r = fault_due(b, FHB_START_UNIT, unit, ret_why);
	logf_locked(b, "start %s%s", unit, r < 0 ? " FAILED" : "");
	if (r >= 0 && u)
		r = job_wait_locked(b, u, "starting", "activating", timeout_ms, ret_why);
	if (r >= 0 && u) {
		free(u->state);
		u->state = xstrdup("active");
	} else if (r >= 0) {
		set_why(ret_why, "Unit %s not found.", unit);
		r = -ENOENT;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int fhb_op_get_allowed_cpus(void *data, const char *unit, char **ret_cpus, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_unit *u;
	int r = begin_on_unit(b, FHB_GET_ALLOWED_CPUS, "get-allowed-cpus", unit, NULL, ret_why, &u);

	if (r < 0)
		return r;
	*ret_cpus = xstrdup(u->allowed_cpus);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int fhb_op_set_allowed_cpus(void *data, const char *unit, const char *cpus, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_unit *u;
	int r = begin_on_unit(b, FHB_SET_ALLOWED_CPUS, "set-allowed-cpus", unit, *cpus ? cpus : "\"\"", ret_why, &u);

	if (r < 0)
		return r;
	if (!*cpus) {
		/* The contract's rule: an empty value never reaches a running cgroup, so it is never sent. */
		set_why(ret_why, "%s", "AllowedCPUs=\"\" sent (the full set must be written instead)");
		r = -EINVAL;
	} else {
		free(u->allowed_cpus);
		u->allowed_cpus = xstrdup(cpus);
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int fhb_op_list_sessions(void *data, const char *seat, char ***ret_ids, char **ret_why)
{
	struct fake_host_bus *b = data;
	char **ids = NULL;
	size_t n = 0;
	int r;

	r = begin(b, FHB_LIST_SESSIONS, seat, ret_why, "list-sessions %s", seat);
	if (r < 0)
		return r;
	ids = calloc(1, sizeof(char *));
	CHECK(ids);
	for (size_t i = 0; i < b->n_sessions; i++)
		if (!b->sessions[i].gone && streq(b->sessions[i].seat, seat))
			CHECK(strv_push(&ids, &n, b->sessions[i].id) >= 0);
	pthread_mutex_unlock(&b->lock);
	*ret_ids = ids;
	return 0;
}

static int fhb_op_terminate_session(void *data, const char *id, unsigned timeout_ms, char **ret_why)
{
	struct fake_host_bus *b = data;
	struct fhb_session *s;
	int r;

	r = begin(b, FHB_TERMINATE_SESSION, id, ret_why, "terminate %s", id);
	if (r < 0)
		return r;
	s = find_session(b, id);
	if (s)
		s->gone = true;
	else
		set_why(ret_why, "No session '%s' known", id);
	pthread_mutex_unlock(&b->lock);
	return s ? 0 : -ENOENT;
}

static int fhb_op_inhibit(void *data, const char *what, const char *who, const char *why, int *ret_fd, char **ret_why)
{
	struct fake_host_bus *b = data;
	int fds[2], r;

	*ret_fd = -1;
	r = begin(b, FHB_INHIBIT, what, ret_why, "inhibit %s", what);
	if (r < 0)
		return r;
	CHECK(pipe2(fds, O_CLOEXEC) == 0);
	b->inhibitor_ends = xrealloc(b->inhibitor_ends, b->n_inhibitors + 1, sizeof(int));
	b->inhibitor_ends[b->n_inhibitors++] = fds[1];
	pthread_mutex_unlock(&b->lock);
	*ret_fd = fds[0];
	return 0;
}

static const struct host_bus_ops fhb_ops = {
	.unit_state = fhb_op_unit_state,
	.stop_unit = fhb_op_stop_unit,
	.start_unit = fhb_op_start_unit,
	.get_allowed_cpus = fhb_op_get_allowed_cpus,
	.set_allowed_cpus = fhb_op_set_allowed_cpus,
	.list_sessions = fhb_op_list_sessions,
	.terminate_session = fhb_op_terminate_session,
	.inhibit = fhb_op_inhibit,
};

/* ---- the test's side ---- */

struct fake_host_bus *fhb_new(void)
{
	struct fake_host_bus *b = calloc(1, sizeof(*b));

	CHECK(b);
	b->bus = (struct host_bus){ .ops = &fhb_ops, .data = b };
	pthread_mutex_init(&b->lock, NULL);
	b->log = xstrdup("");
	return b;
}

void fhb_free(struct fake_host_bus *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_units; i++) {
		free(b->units[i].name);
		free(b->units[i].state);
		free(b->units[i].allowed_cpus);
	}
	for (size_t i = 0; i < b->n_sessions; i++) {
		free(b->sessions[i].id);
		free(b->sessions[i].seat);
	}
	for (size_t i = 0; i < b->n_inhibitors; i++)
		close(b->inhibitor_ends[i]);
	for (size_t i = 0; i < b->n_faults; i++) {
		free(b->faults[i].arg);
		free(b->faults[i].why);
	}
	free(b->units);
	free(b->sessions);
	free(b->inhibitor_ends);
	free(b->faults);
	free(b->log);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void fhb_unit_job_takes(struct fake_host_bus *b, const char *unit, unsigned ms)
{
	struct fhb_unit *u;

	pthread_mutex_lock(&b->lock);
	u = find_unit(b, unit);
	CHECK(u);
	u->job_ms = ms;
	pthread_mutex_unlock(&b->lock);
}

void fhb_observe(struct fake_host_bus *b, void (*fn)(void *userdata, const char *line), void *userdata)
{
	pthread_mutex_lock(&b->lock);
	b->observer = fn;
	b->observer_data = userdata;
	pthread_mutex_unlock(&b->lock);
}

const struct host_bus *fhb_bus(struct fake_host_bus *b)
{
	return &b->bus;
}

void fhb_add_unit(struct fake_host_bus *b, const char *unit, const char *state)
{
	struct fhb_unit *u;

	pthread_mutex_lock(&b->lock);
	u = find_unit(b, unit);
	if (!u) {
		b->units = xrealloc(b->units, b->n_units + 1, sizeof(*b->units));
		u = &b->units[b->n_units++];
		*u = (struct fhb_unit){ .name = xstrdup(unit), .allowed_cpus = xstrdup("") };
	}
	free(u->state);
	u->state = xstrdup(state);
	pthread_mutex_unlock(&b->lock);
}

const char *fhb_unit_state(struct fake_host_bus *b, const char *unit)
{
	struct fhb_unit *u;

	pthread_mutex_lock(&b->lock);
	u = find_unit(b, unit);
	pthread_mutex_unlock(&b->lock);
	return u ? u->state : NULL;
}

const char *fhb_allowed_cpus(struct fake_host_bus *b, const char *unit)
{
	struct fhb_unit *u;

	pthread_mutex_lock(&b->lock);
	u = find_unit(b, unit);
	pthread_mutex_unlock(&b->lock);
	return u ? u->allowed_cpus : NULL;
}

void fhb_set_allowed_cpus(struct fake_host_bus *b, const char *unit, const char *cpus)
{
	struct fhb_unit *u;

	pthread_mutex_lock(&b->lock);
	u = find_unit(b, unit);
	CHECK(u);
	free(u->allowed_cpus);
	u->allowed_cpus = xstrdup(cpus);
	pthread_mutex_unlock(&b->lock);
}

void fhb_add_session(struct fake_host_bus *b, const char *id, const char *seat)
{
	pthread_mutex_lock(&b->lock);
	b->sessions = xrealloc(b->sessions, b->n_sessions + 1, sizeof(*b->sessions));
	b->sessions[b->n_sessions++] = (struct fhb_session){ .id = xstrdup(id), .seat = xstrdup(seat) };
	pthread_mutex_unlock(&b->lock);
}

bool fhb_session_exists(struct fake_host_bus *b, const char *id)
{
	bool exists;

	pthread_mutex_lock(&b->lock);
	exists = find_session(b, id) != NULL;
	pthread_mutex_unlock(&b->lock);
	return exists;
}

unsigned fhb_inhibitors_held(struct fake_host_bus *b)
{
	unsigned held = 0;

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n_inhibitors; i++) {
		struct pollfd p = { .fd = b->inhibitor_ends[i], .events = POLLOUT };

		/* The write end reports POLLERR once every read end (the inhibitor fd) is closed. */
		CHECK(poll(&p, 1, 0) >= 0);
		held += !(p.revents & POLLERR);
	}
	pthread_mutex_unlock(&b->lock);
	return held;
}

void fhb_fail_after(struct fake_host_bus *b, enum fhb_call call, const char *arg, int error, const char *why,
		    unsigned count)
{
	CHECK(error < 0);
	pthread_mutex_lock(&b->lock);
	b->faults = xrealloc(b->faults, b->n_faults + 1, sizeof(*b->faults));
	b->faults[b->n_faults++] = (struct fhb_fault){
		.call = call,
		.arg = arg ? xstrdup(arg) : NULL,
		.error = error,
		.why = xstrdup(why ? why : ""),
		.skip = count,
		.armed = true,
	};
	pthread_mutex_unlock(&b->lock);
}

void fhb_fail(struct fake_host_bus *b, enum fhb_call call, const char *arg, int error, const char *why)
{
	fhb_fail_after(b, call, arg, error, why, 0);
}

const char *fhb_log(struct fake_host_bus *b)
{
	return b->log;
}

void fhb_log_clear(struct fake_host_bus *b)
{
	pthread_mutex_lock(&b->lock);
	b->log[0] = '\0';
	b->log_len = 0;
	pthread_mutex_unlock(&b->lock);
}

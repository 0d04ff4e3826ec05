#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "engine-view.h"
#include "log.h"
#include "topology.h"
#include "util.h"

struct view_waiter {
	struct view_waiter *next; /* owned by engine_view.waiters */
	struct engine_view *view;
	sd_event_source *timer;
	engine_view_fn done;
	void *userdata;
	uint64_t since_usec;	     /* CLOCK_MONOTONIC when it asked */
	uint64_t outdated_wait_usec; /* how long it waits when the last view is outdated */
};

struct engine_view {
	sd_event *event;
	struct engine *engine;
	int efd;
	sd_event_source *efd_source;
	struct view_waiter *waiters;
	json_object *last;	    /* the last complete "vms" array, or NULL */
	uint64_t last_usec;	    /* CLOCK_MONOTONIC when it was read */
	uint64_t last_started_usec; /* ... and when that read began */
	uint64_t changed_usec;	    /* when the last prepare or release finished: a view begun before is outdated */
	char **next_busy;	    /* the newest request's busy VMs, for a read that must begin again */
	bool reading;		    /* a helper thread runs */
	uint64_t reading_since;
	char **reading_busy;  /* the helper's copy of busy_vms; freed once it is done */
	pthread_mutex_t lock; /* guards result */
	json_object *result;  /* handed from the helper to the loop */
};

static int start_read(struct engine_view *v, char *const *busy);

static bool last_outdated(const struct engine_view *v)
{
	return !v->last || v->last_started_usec < v->changed_usec;
}

static char **strv_copy(char *const *v)
{
	size_t n = strv_length(v);
	char **copy = calloc(n + 1, sizeof(char *));

	for (size_t i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(v[i])))
			return strv_free(copy), NULL;
	return copy;
}

static bool strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

/* A VM being moved, from its journal: where its devices are is exactly what cannot be read now. */
static json_object *moving_vm(const struct engine_held_vm *h)
{
	json_object *vm = json_object_new_object(), *devices = json_object_new_array();

	for (size_t i = 0; i < h->n_devices; i++) {
		const struct engine_held_device *d = &h->devices[i];
		json_object *j = json_object_new_object();

		json_object_object_add(j, "address", json_object_new_string(d->address));
		json_object_object_add(j, "name", json_object_new_string(d->name));
		json_object_object_add(j, "driver", NULL);
		json_object_object_add(j, "iommu_group", json_object_new_int(d->iommu_group));
		json_object_object_add(j, "state", json_object_new_string("moving"));
		json_object_array_add(devices, j);
	}
	json_object_object_add(vm, "name", json_object_new_string(h->name));
	json_object_object_add(vm, "state", json_object_new_string(h->phase));
	json_object_object_add(vm, "devices", devices);
	json_object_object_add(vm, "moving", json_object_new_boolean(true));
	json_object_object_add(vm, "error", NULL);
	return vm;
}

static json_object *read_view(struct engine *engine, char *const *busy)
{
	struct engine_held_vm *held = NULL;
	size_t n = 0;
	json_object *vms;
	int r;

	r = engine_held_vms(engine, &held, &n);
	if (r < 0) {
		log_warning("reading the journals for status: %s", strerror(-r));
		return NULL;
	}
	vms = json_object_new_array();
	for (size_t i = 0; i < n && vms; i++) {
		json_object *one = NULL, *list;

		if (strv_has(busy, held[i].name)) {
			json_object_array_add(vms, moving_vm(&held[i]));
			continue;
		}
		r = engine_status(engine, held[i].name, &one);
		if (r < 0) {
			log_warning("VM %s: status: %s", held[i].name, strerror(-r));
			continue;
		}
		if (json_object_object_get_ex(one, "vms", &list) && json_object_array_length(list) == 1)
			json_object_array_add(vms, json_object_get(json_object_array_get_idx(list, 0)));
		json_object_put(one);
	}
	engine_held_vms_free(held, n);
	return vms;
}

static void *view_thread(void *userdata)
{
	struct engine_view *v = userdata;
	json_object *vms = read_view(v->engine, v->reading_busy);
	uint64_t one = 1;

	pthread_mutex_lock(&v->lock);
	v->result = vms ? vms : json_object_new_array();
	pthread_mutex_unlock(&v->lock);
	if (write(v->efd, &one, sizeof(one)) < 0)
		log_error("cannot wake the event loop: %s", strerror(errno));
	return NULL;
}

static void waiter_answer(struct engine_view *v, struct view_waiter *w)
{
	uint64_t now = monotonic_usec();

	for (struct view_waiter **p = &v->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	sd_event_source_disable_unref(w->timer);
	w->done(w->userdata, v->last, v->last ? now - v->last_usec : 0, v->last && last_outdated(v));
	free(w);
}

static int on_waiter_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct view_waiter *w = userdata;
	uint64_t waited = monotonic_usec() - w->since_usec;

	/* The last view is older than a prepare or release that has finished: what it shows of that VM is
	 * known to be wrong, and the read under way will show it right unless it is stuck. Wait for it longer. */
	if (last_outdated(w->view) && waited < w->outdated_wait_usec &&
	    sd_event_source_set_time_relative(s, w->outdated_wait_usec - waited) >= 0 &&
	    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
		return 0;
	waiter_answer(w->view, w);
	return 0;
}

static int on_view_read(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct engine_view *v = userdata;
	json_object *result;
	uint64_t n;

	if (read(v->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warning("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&v->lock);
	result = TAKE_PTR(v->result);
	pthread_mutex_unlock(&v->lock);
	if (!result)
		return 0;
	v->reading = false;
	strv_free(TAKE_PTR(v->reading_busy));
	json_object_put(v->last);
	v->last = result;
	v->last_usec = monotonic_usec();
	v->last_started_usec = v->reading_since;
	/* A prepare or release finished while it was read: read again for those waiting (their timers still
	 * bound the wait). */
	if (v->waiters && last_outdated(v) && start_read(v, v->next_busy) >= 0)
		return 0;
	while (v->waiters)
		waiter_answer(v, v->waiters);
	return 0;
}

static int start_read(struct engine_view *v, char *const *busy)
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	v->reading_busy = strv_copy(busy);
	if (!v->reading_busy)
		return -ENOMEM;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&thread, &attr, view_thread, v);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		strv_free(TAKE_PTR(v->reading_busy));
		return r;
	}
	v->reading = true;
	v->reading_since = monotonic_usec();
	return 0;
}

int engine_view_get(struct engine_view *v, char *const *busy_vms, uint64_t changed_usec, uint64_t wait_usec,
		    uint64_t outdated_wait_usec, engine_view_fn done, void *userdata)
{
	struct view_waiter *w;
	char **busy = strv_copy(busy_vms);
	int r;

	if (!busy)
		return -ENOMEM;
	strv_free(v->next_busy);
	v->next_busy = busy;
	if (changed_usec > v->changed_usec)
		v->changed_usec = changed_usec;
	if (!v->reading) {
		r = start_read(v, busy_vms);
		if (r < 0)
			return r;
	} else if (!last_outdated(v) && monotonic_usec() - v->reading_since >= wait_usec) {
		/* The read in progress is already stuck past what a request waits: answer from the last view. */
		done(userdata, v->last, v->last ? monotonic_usec() - v->last_usec : 0, v->last && last_outdated(v));
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct view_waiter){ .view = v,
				   .done = done,
				   .userdata = userdata,
				   .since_usec = monotonic_usec(),
				   .outdated_wait_usec = outdated_wait_usec };
	r = sd_event_add_time_relative(v->event, &w->timer, CLOCK_MONOTONIC, wait_usec, 0, on_waiter_timeout, w);
	if (r < 0) {
		free(w);
		return r;
	}
	w->next = v->waiters;
	v->waiters = w;
	return 0;
}

int engine_view_new(sd_event *event, struct engine *engine, struct engine_view **ret)
{
	struct engine_view *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->lock, NULL);
	v->event = sd_event_ref(event);
	v->engine = engine;
	v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->efd < 0) {
		r = -errno;
		engine_view_free(v);
		return r;
	}
	r = sd_event_add_io(event, &v->efd_source, v->efd, EPOLLIN, on_view_read, v);
	if (r < 0) {
		engine_view_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

bool engine_view_busy(const struct engine_view *v)
{
	return v && v->reading;
}

void engine_view_free(struct engine_view *v)
{
	if (!v)
		return;
	/* Every waiter gets its one call, so it can free what it carries. */
	json_object_put(TAKE_PTR(v->last));
	while (v->waiters)
		waiter_answer(v, v->waiters);
	sd_event_source_disable_unref(v->efd_source);
	if (v->efd >= 0)
		close(v->efd);
	json_object_put(v->result);
	strv_free(v->reading_busy);
	strv_free(v->next_busy);
	pthread_mutex_destroy(&v->lock);
	sd_event_unref(v->event);
	free(v);
}

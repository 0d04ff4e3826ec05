#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "clock.h"
#include "domxml.h"
#include "jobs.h"
#include "log.h"
#include "server.h"
#include "util.h"

struct config_gen *config_gen_new(struct hookd_config *cfg)
{
	struct config_gen *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->cfg = cfg;
	g->refs = 1;
	return g;
}

struct config_gen *config_gen_ref(struct config_gen *g)
{
	g->refs++;
	return g;
}

void config_gen_unref(struct config_gen *g)
{
	if (g && --g->refs == 0) {
		hookd_config_free(g->cfg);
		free(g);
	}
}

const char *job_action_to_string(enum job_action a)
{
	switch (a) {
	case JOB_ACTION_NONE:
		return "none";
	case JOB_ACTION_PREPARE:
		return "prepare";
	case JOB_ACTION_RELEASE:
		return "release";
	case JOB_ACTION_CHECK:
		return "check";
	}
	return "?";
}

static void record_clear(struct event_record *r)
{
	free(r->op);
	free(r->subop);
	free(r->extra);
	free(r->uuid);
	free(r->message);
	*r = (struct event_record){ 0 };
}

struct vm_state *jobs_find_vm(const struct jobs *q, const char *name)
{
	for (struct vm_state *v = q->vms; v; v = v->next)
		if (streq(v->name, name))
			return v;
	return NULL;
}

struct vm_state *jobs_get_vm(struct jobs *q, const char *name)
{
	struct vm_state *v = jobs_find_vm(q, name);

	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->name = strdup(name);
	if (!v->name) {
		free(v);
		return NULL;
	}
	v->next = q->vms;
	q->vms = v;
	return v;
}

struct job *job_new(struct jobs *q, uint64_t client_id, struct proto_request *req)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		proto_request_clear(req);
		return NULL;
	}
	j->jobs = q;
	j->client_id = client_id;
	j->req = *req;
	*req = (struct proto_request){ 0 };
	j->received_usec = realtime_usec();
	return j;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	proto_request_clear(&j->req);
	config_gen_unref(j->gen);
	free(j->message);
	json_object_put(j->plan);
	free(j);
}

const char *job_op_name(const struct job *j)
{
	return j->from_hook ? hook_op_to_string(j->ev.op) : job_action_to_string(j->action);
}

static void vm_record(struct vm_state *v, const struct job *j, const char *result)
{
	struct event_record *rec;
	unsigned slot;

	if (v->n_history < JOBS_HISTORY) {
		slot = (v->head + v->n_history) % JOBS_HISTORY;
		v->n_history++;
	} else {
		slot = v->head;
		v->head = (v->head + 1) % JOBS_HISTORY;
	}
	rec = &v->history[slot];
	record_clear(rec);
	if (j->from_hook) {
		rec->op = strdup(hook_op_to_string(j->ev.op));
		rec->subop = strdup(j->ev.subop);
		rec->extra = strdup(j->ev.extra);
		rec->xml_len = j->ev.xml_len;
		/* No UUID (no XML, or none in it) is shown as null. */
		(void)domxml_uuid(j->ev.xml, j->ev.xml_len, &rec->uuid);
	} else {
		/* hookctl prepare/release: recorded like the hook's events, with subop "manual" (or what started
		 * it: "reconcile"). */
		rec->op = strdup(job_action_to_string(j->action));
		rec->subop = strdup(j->origin ? j->origin : "manual");
		rec->extra = strdup("-");
	}
	rec->result = result;
	rec->message = j->message ? strdup(j->message) : NULL;
	rec->time_usec = j->received_usec;
	rec->duration_ms = (unsigned)(monotonic_ms() - j->started_ms);
}

/* ---- the worker thread and the hand-back ---- */

static void *job_thread(void *userdata)
{
	struct job *j = userdata;
	struct jobs *q = j->jobs;
	uint64_t one = 1;

	switch (j->action) {
	case JOB_ACTION_CHECK:
		j->r = engine_check(q->engine, j->vm_config, NULL, &j->plan);
		break;
	case JOB_ACTION_PREPARE:
		j->r = engine_prepare(q->engine, j->vm_config, j->from_hook ? j->ev.xml : NULL, &j->message);
		j->refused = j->r == ENGINE_REFUSED;
		if (j->refused)
			j->r = -EPERM;
		break;
	case JOB_ACTION_RELEASE:
		j->r = engine_release(q->engine, j->vm->name, &j->message);
		break;
	case JOB_ACTION_NONE:
		j->r = 0;
		break;
	}

	pthread_mutex_lock(&q->lock);
	if (q->done_tail)
		q->done_tail->next = j;
	else
		q->done_head = j;
	q->done_tail = j;
	pthread_mutex_unlock(&q->lock);
	/* An eventfd write cannot fail here short of a bug; the loop would then miss this one job. */
	if (write(q->efd, &one, sizeof(one)) < 0)
		log_error("cannot wake the event loop: %s", strerror(errno));
	return NULL;
}

static int job_spawn(struct job *j)
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&thread, &attr, job_thread, j);
	pthread_attr_destroy(&attr);
	return -r;
}

/* Messages name their VM for the hook's user; the log line carries the VM already. */
static const char *without_vm_prefix(const char *message, const char *vm)
{
	size_t n = strlen(vm);

	if (startswith(message, "VM ") && strncmp(message + 3, vm, n) == 0 && startswith(message + 3 + n, ": "))
		return message + 5 + n;
	return message;
}

/* Turn a finished job into its reply, its record and its log line; free it. */
static void job_complete(struct jobs *q, struct job *j)
{
	const char *vm = j->vm->name, *op = job_op_name(j);
	const char *error = NULL;
	json_object *reply;

	if (j->r < 0) {
		/* Refused is what the engine's checks said, never guessed from an errno: apply returns -EBUSY
		 * and -EINVAL too, after it has changed things. */
		error = j->refused ? HOOKD_ERROR_REFUSED : HOOKD_ERROR_FAILED;
		if (!j->message && asprintf(&j->message, "VM %s: %s failed: %s", vm, op, strerror(-j->r)) < 0)
			j->message = NULL;
		log_ctx(LOG_ERR, vm, op, NULL, "%s", without_vm_prefix(j->message ? j->message : strerror(-j->r), vm));
		reply = proto_build_error(error, "%s", j->message ? j->message : strerror(-j->r));
	} else {
		json_object *params = NULL;

		if (j->plan) {
			params = json_object_new_object();
			json_object_object_add(params, "plan", TAKE_PTR(j->plan));
		}
		if (j->from_hook && j->ev.op == HOOK_OP_STOPPED)
			log_ctx(LOG_INFO, vm, op, NULL, "QEMU stopped (%s %s)", j->ev.subop, j->ev.extra);
		else if (j->action != JOB_ACTION_CHECK)
			log_ctx(LOG_INFO, vm, op, NULL, "%s %s: ok (%u ms)", op,
				j->from_hook ? j->ev.subop
				: j->origin  ? j->origin
					     : "manual",
				(unsigned)(monotonic_ms() - j->started_ms));
		reply = proto_build_reply(params);
	}
	if (j->action != JOB_ACTION_CHECK)
		vm_record(j->vm, j, error ? error : "ok");
	if (q->server && reply)
		server_reply(q->server, j->client_id, reply);
	else
		json_object_put(reply);
	if (j->vm->running == j)
		j->vm->running = NULL;
	job_free(j);
}

static void job_fail_stopping(struct jobs *q, struct job *j)
{
	j->r = -ESHUTDOWN;
	free(j->message);
	if (asprintf(&j->message, "VM %s: hookd is stopping; %s was not carried out", j->vm->name, job_op_name(j)) < 0)
		j->message = NULL;
	job_complete(q, j);
}

static void maybe_idle(struct jobs *q)
{
	void (*cb)(void *) = q->on_idle;

	if (!q->stopping || q->running > 0 || !cb)
		return;
	q->on_idle = NULL;
	cb(q->idle_userdata);
}

/* Start what waits at the head of the VM's queue: answer quick ones at once, hand an engine call to a worker. */
static void vm_run_queue(struct jobs *q, struct vm_state *v)
{
	while (!v->running && v->queue_head) {
		struct job *j = v->queue_head;
		int r;

		v->queue_head = j->next;
		if (!v->queue_head)
			v->queue_tail = NULL;
		j->next = NULL;
		j->started_ms = monotonic_ms();

		if (q->stopping) {
			job_fail_stopping(q, j);
			continue;
		}
		if (j->action == JOB_ACTION_NONE) {
			j->r = 0;
			job_complete(q, j);
			continue;
		}
		v->running = j;
		q->running++;
		log_ctx(LOG_INFO, v->name, job_op_name(j), NULL, "%s: started", job_op_name(j));
		r = job_spawn(j);
		if (r < 0) {
			q->running--;
			j->r = r;
			job_complete(q, j);
		}
	}
}

static int on_jobs_done(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct jobs *q = userdata;
	struct job *list;
	uint64_t n;

	if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warning("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&q->lock);
	list = q->done_head;
	q->done_head = q->done_tail = NULL;
	pthread_mutex_unlock(&q->lock);

	while (list) {
		struct job *j = list;
		struct vm_state *v = j->vm;

		list = j->next;
		j->next = NULL;
		q->running--;
		/* What the engine's view showed of this VM may have changed: Status reads it again. */
		if (j->action == JOB_ACTION_PREPARE || j->action == JOB_ACTION_RELEASE)
			q->changed_usec = monotonic_usec();
		job_complete(q, j);
		vm_run_queue(q, v);
	}
	maybe_idle(q);
	return 0;
}

void jobs_enqueue(struct jobs *q, struct job *j)
{
	struct vm_state *v = j->vm;

	if (v->queue_tail)
		v->queue_tail->next = j;
	else
		v->queue_head = j;
	v->queue_tail = j;
	vm_run_queue(q, v);
}

void jobs_shutdown(struct jobs *q, void (*on_idle)(void *userdata), void *userdata)
{
	q->stopping = true;
	q->on_idle = on_idle;
	q->idle_userdata = userdata;
	for (struct vm_state *v = q->vms; v; v = v->next)
		while (v->queue_head) {
			struct job *j = v->queue_head;

			v->queue_head = j->next;
			j->next = NULL;
			job_fail_stopping(q, j);
		}
	for (struct vm_state *v = q->vms; v; v = v->next)
		v->queue_tail = NULL;
	maybe_idle(q);
}

int jobs_init(struct jobs *q, sd_event *event, struct engine *engine)
{
	*q = (struct jobs){ .engine = engine, .efd = -1 };
	pthread_mutex_init(&q->lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return -errno;
	return sd_event_add_io(event, &q->efd_source, q->efd, EPOLLIN, on_jobs_done, q);
}

void jobs_clear(struct jobs *q)
{
	while (q->vms) {
		struct vm_state *v = q->vms;

		q->vms = v->next;
		while (v->queue_head) {
			struct job *j = v->queue_head;

			v->queue_head = j->next;
			job_free(j);
		}
		for (unsigned i = 0; i < JOBS_HISTORY; i++)
			record_clear(&v->history[i]);
		json_object_put(v->legacy_warnings);
		free(v->name);
		free(v);
	}
	sd_event_source_disable_unref(q->efd_source);
	if (q->efd >= 0)
		close(q->efd);
	pthread_mutex_destroy(&q->lock);
	*q = (struct jobs){ .efd = -1 };
}

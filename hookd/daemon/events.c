#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <systemd/sd-daemon.h>

#include "hookd-config.h"
#include "events.h"
#include "log.h"
#include "server.h"
#include "util.h"

/* A configuration generation: jobs hold one so a reload never frees a vm_config a worker still reads.
 * References are taken and dropped on the event loop thread only. */
struct config_gen {
	struct hookd_config *cfg;
	unsigned refs;
};

struct event_record {
	char *op;
	char *subop;
	char *extra;
	char *uuid;         /* from the domain XML, or NULL */
	char *message;      /* the error's message, or NULL */
	const char *result; /* "ok" or an error name (static strings) */
	size_t xml_len;
	long long time_usec;  /* CLOCK_REALTIME when the event arrived */
	unsigned duration_ms;
};

enum job_kind {
	JOB_EVENT,   /* io.hookd.Event from the hook */
	JOB_PREPARE, /* io.hookd.Prepare (hookctl) */
	JOB_RELEASE, /* io.hookd.Release (hookctl) */
	JOB_CHECK,   /* io.hookd.Check (dry run) */
};

struct vm_state {
	struct vm_state *next; /* owned by events.vms */
	char *name;
	struct event_record history[EVENTS_HISTORY]; /* a ring: history[(head + i) % N], oldest first */
	unsigned n_history;
	unsigned head;
	struct job *queue_head; /* waiting, FIFO */
	struct job *queue_tail;
	struct job *running;    /* on a worker thread, or NULL */
};

struct job {
	struct job *next;
	struct events *events;
	struct vm_state *vm;
	enum job_kind kind;
	uint64_t client_id;
	struct proto_request req; /* owns the JSON the strings below point into */
	struct proto_event ev;     /* JOB_EVENT only */
	struct config_gen *gen;
	const struct vm_config *vm_config; /* NULL when the VM has no configuration */
	long long received_usec;
	unsigned long long started_ms;
	/* Results, written by the worker. */
	int r;
	char *message;
	json_object *plan;
};

struct events {
	sd_event *event;
	struct engine *engine;
	struct server *server;
	char *conf_dir;
	struct config_gen *gen;
	struct vm_state *vms;
	unsigned running;
	int efd;
	sd_event_source *efd_source;
	pthread_mutex_t lock; /* guards done_* */
	struct job *done_head;
	struct job *done_tail;
	bool stopping;
	void (*on_idle)(void *userdata);
	void *idle_userdata;
};

static long long realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static unsigned long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static struct config_gen *gen_new(struct hookd_config *cfg)
{
	struct config_gen *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->cfg = cfg;
	g->refs = 1;
	return g;
}

static void gen_unref(struct config_gen *g)
{
	if (g && --g->refs == 0) {
		hookd_config_free(g->cfg);
		free(g);
	}
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

static struct vm_state *vm_state_find(struct events *e, const char *name)
{
	for (struct vm_state *v = e->vms; v; v = v->next)
		if (streq(v->name, name))
			return v;
	return NULL;
}

static struct vm_state *vm_state_get(struct events *e, const char *name)
{
	struct vm_state *v = vm_state_find(e, name);

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
	v->next = e->vms;
	e->vms = v;
	return v;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	proto_request_clear(&j->req);
	gen_unref(j->gen);
	free(j->message);
	json_object_put(j->plan);
	free(j);
}

/* The <uuid> of a libvirt domain XML, or NULL: it names the domain beyond its (renamable) name. */
static char *domain_uuid(const char *xml, size_t len)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	char *uuid = NULL;

	if (len == 0 || len > HOOKD_XML_MAX)
		return NULL;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return NULL;
	root = xmlDocGetRootElement(doc);
	if (root && xmlStrEqual(root->name, BAD_CAST "domain"))
		for (xmlNodePtr n = root->children; n; n = n->next)
			if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "uuid")) {
				xmlChar *content = xmlNodeGetContent(n);

				if (content && xmlStrlen(content) <= 64)
					uuid = strdup((const char *)content);
				xmlFree(content);
				break;
			}
	xmlFreeDoc(doc);
	return uuid;
}

static void vm_record(struct vm_state *v, const struct job *j, const char *result)
{
	struct event_record *rec;
	unsigned slot;

	if (v->n_history < EVENTS_HISTORY) {
		slot = (v->head + v->n_history) % EVENTS_HISTORY;
		v->n_history++;
	} else {
		slot = v->head;
		v->head = (v->head + 1) % EVENTS_HISTORY;
	}
	rec = &v->history[slot];
	record_clear(rec);
	if (j->kind == JOB_EVENT) {
		rec->op = strdup(hook_op_to_string(j->ev.op));
		rec->subop = strdup(j->ev.subop);
		rec->extra = strdup(j->ev.extra);
		rec->xml_len = j->ev.xml_len;
		rec->uuid = domain_uuid(j->ev.xml, j->ev.xml_len);
	} else {
		/* hookctl prepare/release: recorded like the hook's events, with subop "manual". */
		rec->op = strdup(j->kind == JOB_PREPARE ? "prepare" : "release");
		rec->subop = strdup("manual");
		rec->extra = strdup("-");
	}
	rec->result = result;
	rec->message = j->message ? strdup(j->message) : NULL;
	rec->time_usec = j->received_usec;
	rec->duration_ms = (unsigned)(monotonic_ms() - j->started_ms);
}

/* ---- running jobs ---- */

static bool job_needs_worker(const struct job *j)
{
	switch (j->kind) {
	case JOB_EVENT:
		/* Release even without configuration: a VM whose file was removed while prepared must get its
		 * devices back; with no journal the engine does nothing. */
		if (j->ev.op == HOOK_OP_RELEASE)
			return true;
		return j->ev.op == HOOK_OP_PREPARE && streq(j->ev.subop, "begin") && j->vm_config;
	case JOB_PREPARE:
	case JOB_RELEASE:
	case JOB_CHECK:
		return true;
	}
	return false;
}

static void *job_thread(void *userdata)
{
	struct job *j = userdata;
	struct events *e = j->events;
	uint64_t one = 1;
	bool prepare = j->kind == JOB_PREPARE || (j->kind == JOB_EVENT && j->ev.op == HOOK_OP_PREPARE);

	if (j->kind == JOB_CHECK)
		j->r = engine_check(e->engine, j->vm_config, NULL, &j->plan);
	else if (prepare)
		j->r = engine_prepare(e->engine, j->vm_config, j->kind == JOB_EVENT ? j->ev.xml : NULL, &j->message);
	else
		j->r = engine_release(e->engine, j->vm->name, &j->message);

	pthread_mutex_lock(&e->lock);
	if (e->done_tail)
		e->done_tail->next = j;
	else
		e->done_head = j;
	e->done_tail = j;
	pthread_mutex_unlock(&e->lock);
	/* An eventfd write cannot fail here short of a bug; the loop would then miss this one job. */
	if (write(e->efd, &one, sizeof(one)) < 0)
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

static const char *job_op_name(const struct job *j)
{
	switch (j->kind) {
	case JOB_EVENT:
		return hook_op_to_string(j->ev.op);
	case JOB_PREPARE:
		return "prepare";
	case JOB_RELEASE:
		return "release";
	case JOB_CHECK:
		return "check";
	}
	return "?";
}

/* Messages name their VM for the hook's user; the log line carries the VM already. */
static const char *without_vm_prefix(const char *message, const char *vm)
{
	size_t n = strlen(vm);

	if (startswith(message, "VM ") && strncmp(message + 3, vm, n) == 0 && startswith(message + 3 + n, ": "))
		return message + 5 + n;
	return message;
}

/* Turn a finished job into its reply, its record and its log line; free it. Event loop thread. */
static void job_complete(struct events *e, struct job *j)
{
	const char *vm = j->vm->name, *op = job_op_name(j);
	const char *error = NULL;
	json_object *reply;

	if (j->r < 0) {
		bool refused = j->kind != JOB_RELEASE && !(j->kind == JOB_EVENT && j->ev.op == HOOK_OP_RELEASE) &&
			       (j->r == -EBUSY || j->r == -EINVAL);

		error = refused ? HOOKD_ERROR_REFUSED : HOOKD_ERROR_FAILED;
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
		if (j->kind == JOB_EVENT && j->ev.op == HOOK_OP_STOPPED)
			log_ctx(LOG_INFO, vm, op, NULL, "QEMU stopped (%s %s)", j->ev.subop, j->ev.extra);
		else if (j->kind != JOB_CHECK)
			log_ctx(LOG_INFO, vm, op, NULL, "%s %s: ok (%u ms)", op,
				j->kind == JOB_EVENT ? j->ev.subop : "manual",
				(unsigned)(monotonic_ms() - j->started_ms));
		reply = proto_build_reply(params);
	}
	if (j->kind != JOB_CHECK)
		vm_record(j->vm, j, error ? error : "ok");
	if (e->server && reply)
		server_reply(e->server, j->client_id, reply);
	else
		json_object_put(reply);
	if (j->vm->running == j)
		j->vm->running = NULL;
	job_free(j);
}

static void job_fail_stopping(struct events *e, struct job *j)
{
	j->r = -ESHUTDOWN;
	free(j->message);
	if (asprintf(&j->message, "VM %s: hookd is stopping; %s was not carried out", j->vm->name,
		     job_op_name(j)) < 0)
		j->message = NULL;
	job_complete(e, j);
}

static void maybe_idle(struct events *e)
{
	void (*cb)(void *) = e->on_idle;

	if (!e->stopping || e->running > 0 || !cb)
		return;
	e->on_idle = NULL;
	cb(e->idle_userdata);
}

/* Start what waits at the head of the VM's queue: answer quick ones at once, hand an engine call to a worker. */
static void vm_run_queue(struct events *e, struct vm_state *v)
{
	while (!v->running && v->queue_head) {
		struct job *j = v->queue_head;
		int r;

		v->queue_head = j->next;
		if (!v->queue_head)
			v->queue_tail = NULL;
		j->next = NULL;
		j->started_ms = monotonic_ms();

		if (e->stopping) {
			job_fail_stopping(e, j);
			continue;
		}
		if (!job_needs_worker(j)) {
			j->r = 0;
			job_complete(e, j);
			continue;
		}
		v->running = j;
		e->running++;
		log_ctx(LOG_INFO, v->name, job_op_name(j), NULL, "%s: started", job_op_name(j));
		r = job_spawn(j);
		if (r < 0) {
			e->running--;
			j->r = r;
			job_complete(e, j);
		}
	}
}

static int on_jobs_done(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct events *e = userdata;
	struct job *list;
	uint64_t n;

	if (read(e->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warning("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&e->lock);
	list = e->done_head;
	e->done_head = e->done_tail = NULL;
	pthread_mutex_unlock(&e->lock);

	while (list) {
		struct job *j = list;
		struct vm_state *v = j->vm;

		list = j->next;
		j->next = NULL;
		e->running--;
		job_complete(e, j);
		vm_run_queue(e, v);
	}
	maybe_idle(e);
	return 0;
}

/* ---- requests ---- */

static void reply_error(struct events *e, uint64_t client_id, const char *error, const char *message)
{
	json_object *reply = proto_build_error(error, "%s", message);

	if (reply)
		server_reply(e->server, client_id, reply);
}

static void reply_invalid(struct events *e, uint64_t client_id, const char *why)
{
	json_object *reply = proto_build_error(HOOKD_ERROR_INVALID, "invalid parameters: %s", why ? why : "?");

	if (reply)
		server_reply(e->server, client_id, reply);
}

static void enqueue(struct events *e, struct job *j)
{
	struct vm_state *v = j->vm;

	if (v->queue_tail)
		v->queue_tail->next = j;
	else
		v->queue_head = j;
	v->queue_tail = j;
	vm_run_queue(e, v);
}

static json_object *status_vm(struct events *e, const char *name, json_object *engine_vms)
{
	const struct vm_config *vc = hookd_config_find_vm(e->gen->cfg, name);
	struct vm_state *v = vm_state_find(e, name);
	json_object *o = json_object_new_object(), *events = json_object_new_array(), *eng = NULL;
	unsigned queued = 0;

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "configured", json_object_new_boolean(vc != NULL));
	json_object_object_add(o, "running_job",
			       v && v->running ? json_object_new_string(job_op_name(v->running)) : NULL);
	if (v)
		for (struct job *j = v->queue_head; j; j = j->next)
			queued++;
	json_object_object_add(o, "queued_jobs", json_object_new_int((int)queued));
	for (unsigned i = 0; v && i < v->n_history; i++) {
		const struct event_record *r = &v->history[(v->head + i) % EVENTS_HISTORY];
		json_object *ev = json_object_new_object();

		json_object_object_add(ev, "op", json_object_new_string(r->op ? r->op : "?"));
		json_object_object_add(ev, "subop", json_object_new_string(r->subop ? r->subop : "-"));
		json_object_object_add(ev, "extra", json_object_new_string(r->extra ? r->extra : "-"));
		json_object_object_add(ev, "time_usec", json_object_new_int64(r->time_usec));
		json_object_object_add(ev, "duration_ms", json_object_new_int64(r->duration_ms));
		json_object_object_add(ev, "result", json_object_new_string(r->result));
		json_object_object_add(ev, "message", r->message ? json_object_new_string(r->message) : NULL);
		json_object_object_add(ev, "xml_length", json_object_new_int64((int64_t)r->xml_len));
		json_object_object_add(ev, "uuid", r->uuid ? json_object_new_string(r->uuid) : NULL);
		json_object_array_add(events, ev);
	}
	json_object_object_add(o, "last_events", events);
	for (size_t i = 0; engine_vms && i < json_object_array_length(engine_vms); i++) {
		json_object *ev = json_object_array_get_idx(engine_vms, i), *n;

		if (json_object_object_get_ex(ev, "name", &n) && streq_ptr(json_object_get_string(n), name)) {
			eng = json_object_get(ev);
			break;
		}
	}
	json_object_object_add(o, "engine", eng);
	return o;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void handle_status(struct events *e, uint64_t client_id, json_object *params)
{
	json_object *engine_all = NULL, *engine_vms = NULL, *vms, *reply_params;
	const char *only = NULL, *why = NULL;
	_cleanup_free_ const char **names = NULL;
	size_t n = 0, cap;
	int r;

	if (json_object_object_get_ex(params, "vm", NULL)) {
		if (proto_vm_from_params(params, &only, &why) < 0)
			return reply_invalid(e, client_id, why);
	}
	/* All of the engine's VMs (those it holds state for), even for one VM: asked about a single name, the
	 * engine describes it whether or not it knows it. */
	r = engine_status(e->engine, NULL, &engine_all);
	if (r < 0)
		log_warning("engine status: %s", strerror(-r));
	else if (engine_all)
		json_object_object_get_ex(engine_all, "vms", &engine_vms);

	/* Every VM anyone knows of: configured, seen in an event, or holding engine state. */
	cap = e->gen->cfg->n_vms + 1 + (engine_vms ? json_object_array_length(engine_vms) : 0);
	for (struct vm_state *v = e->vms; v; v = v->next)
		cap++;
	names = calloc(cap, sizeof(char *));
	if (!names) {
		json_object_put(engine_all);
		return reply_error(e, client_id, HOOKD_ERROR_FAILED, "out of memory");
	}
	for (size_t i = 0; i < e->gen->cfg->n_vms; i++)
		names[n++] = e->gen->cfg->vms[i]->name;
	for (struct vm_state *v = e->vms; v; v = v->next)
		names[n++] = v->name;
	for (size_t i = 0; engine_vms && i < json_object_array_length(engine_vms); i++) {
		json_object *nm;

		if (json_object_object_get_ex(json_object_array_get_idx(engine_vms, i), "name", &nm) &&
		    json_object_get_string(nm))
			names[n++] = json_object_get_string(nm);
	}
	qsort(names, n, sizeof(char *), cmp_names);

	vms = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && streq(names[i], names[i - 1]))
			continue;
		if (only && !streq(only, names[i]))
			continue;
		json_object_array_add(vms, status_vm(e, names[i], engine_vms));
	}
	json_object_put(engine_all);
	if (only && json_object_array_length(vms) == 0) {
		json_object_put(vms);
		json_object *reply = proto_build_error(HOOKD_ERROR_NO_SUCH_VM, "VM %s is not known to hookd", only);

		if (reply)
			server_reply(e->server, client_id, reply);
		return;
	}
	reply_params = json_object_new_object();
	json_object_object_add(reply_params, "version", json_object_new_string(HOOKD_VERSION));
	json_object_object_add(reply_params, "protocol", json_object_new_int(HOOKD_PROTO_VERSION));
	json_object_object_add(reply_params, "jobs_running", json_object_new_int((int)e->running));
	json_object_object_add(reply_params, "stopping", json_object_new_boolean(e->stopping));
	json_object_object_add(reply_params, "vms", vms);
	server_reply(e->server, client_id, proto_build_reply(reply_params));
}

static void handle_reload(struct events *e, uint64_t client_id)
{
	struct diag diag = { 0 };
	json_object *reply, *params, *problems;

	if (events_reload(e, &diag) >= 0) {
		server_reply(e->server, client_id, proto_build_reply(NULL));
		return;
	}
	_cleanup_free_ char *joined = diag_join(&diag, "; ");
	reply = proto_build_error(HOOKD_ERROR_FAILED, "configuration not reloaded (the running one stays): %s",
				joined ? joined : "invalid");
	if (reply && json_object_object_get_ex(reply, "parameters", &params)) {
		problems = json_object_new_array();
		for (size_t i = 0; i < diag.n; i++)
			json_object_array_add(problems, json_object_new_string(diag.lines[i]));
		json_object_object_add(params, "problems", problems);
	}
	diag_clear(&diag);
	if (reply)
		server_reply(e->server, client_id, reply);
}

void events_handle_request(void *userdata, uint64_t client_id, uid_t uid, struct proto_request *req)
{
	struct events *e = userdata;
	const char *method = req->method, *vm = NULL, *why = NULL;
	struct job *j;
	int r;

	if (streq(method, HOOKD_METHOD_STATUS)) {
		handle_status(e, client_id, req->params);
		proto_request_clear(req);
		return;
	}
	if (streq(method, HOOKD_METHOD_RELOAD)) {
		proto_request_clear(req);
		handle_reload(e, client_id);
		return;
	}

	j = calloc(1, sizeof(*j));
	if (!j) {
		proto_request_clear(req);
		return reply_error(e, client_id, HOOKD_ERROR_FAILED, "out of memory");
	}
	j->events = e;
	j->client_id = client_id;
	j->req = *req;
	*req = (struct proto_request){ 0 };
	j->received_usec = realtime_usec();

	if (streq(method, HOOKD_METHOD_EVENT)) {
		j->kind = JOB_EVENT;
		r = proto_event_from_params(j->req.params, &j->ev, &why);
		vm = j->ev.vm;
	} else {
		j->kind = streq(method, HOOKD_METHOD_PREPARE) ? JOB_PREPARE :
			  streq(method, HOOKD_METHOD_RELEASE) ? JOB_RELEASE : JOB_CHECK;
		r = proto_vm_from_params(j->req.params, &vm, &why);
	}
	if (r < 0) {
		job_free(j);
		return reply_invalid(e, client_id, why);
	}
	if (e->stopping) {
		char msg[512];

		snprintf(msg, sizeof(msg), "VM %s: hookd is stopping; %s was not carried out", vm, method);
		job_free(j);
		return reply_error(e, client_id, HOOKD_ERROR_FAILED, msg);
	}
	j->gen = e->gen;
	e->gen->refs++;
	j->vm_config = hookd_config_find_vm(e->gen->cfg, vm);
	if (!j->vm_config && (j->kind == JOB_PREPARE || j->kind == JOB_CHECK)) {
		char msg[512];

		snprintf(msg, sizeof(msg), "VM %s has no configuration (%s/vms/%s.ini)", vm, e->conf_dir, vm);
		job_free(j);
		return reply_error(e, client_id, HOOKD_ERROR_NO_SUCH_VM, msg);
	}
	j->vm = vm_state_get(e, vm);
	if (!j->vm) {
		job_free(j);
		return reply_error(e, client_id, HOOKD_ERROR_FAILED, "out of memory");
	}
	if (j->kind == JOB_EVENT)
		log_ctx(LOG_DEBUG, vm, hook_op_to_string(j->ev.op), NULL, "event %s %s (%zu bytes of XML)",
			j->ev.subop, j->ev.extra, j->ev.xml_len);
	enqueue(e, j);
}

/* ---- life cycle ---- */

int events_reload(struct events *e, struct diag *diag)
{
	struct hookd_config *cfg = NULL;
	struct config_gen *g;
	int r;

	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	r = hookd_config_load(e->conf_dir, &cfg, diag);
	if (r < 0) {
		log_error("configuration in %s not reloaded, the running one stays (%zu problems):", e->conf_dir,
			  diag->n);
		for (size_t i = 0; i < diag->n; i++)
			log_error("%s", diag->lines[i]);
		if (diag->n == 0)
			diag_add(diag, "%s: %s", e->conf_dir, strerror(-r));
		sd_notify(0, "READY=1\nSTATUS=Running (the last reload failed)");
		return -EINVAL;
	}
	g = gen_new(cfg);
	if (!g) {
		hookd_config_free(cfg);
		diag_add(diag, "out of memory");
		sd_notify(0, "READY=1");
		return -ENOMEM;
	}
	gen_unref(e->gen);
	e->gen = g;
	log_info("configuration reloaded: %zu VMs", cfg->n_vms);
	sd_notifyf(0, "READY=1\nSTATUS=Running, %zu VMs configured", cfg->n_vms);
	return 0;
}

int events_new(sd_event *event, struct engine *engine, const char *conf_dir, struct hookd_config *cfg,
	       struct events **ret)
{
	struct events *e = calloc(1, sizeof(*e));
	int r;

	if (!e) {
		hookd_config_free(cfg);
		return -ENOMEM;
	}
	/* libxml2 must be initialized once before threads (the engine's) use it. */
	xmlInitParser();
	pthread_mutex_init(&e->lock, NULL);
	e->efd = -1;
	e->event = sd_event_ref(event);
	e->engine = engine;
	e->conf_dir = strdup(conf_dir);
	e->gen = gen_new(cfg);
	if (!e->conf_dir || !e->gen) {
		if (!e->gen)
			hookd_config_free(cfg);
		events_free(e);
		return -ENOMEM;
	}
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		r = -errno;
		events_free(e);
		return r;
	}
	r = sd_event_add_io(event, &e->efd_source, e->efd, EPOLLIN, on_jobs_done, e);
	if (r < 0) {
		events_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void events_set_server(struct events *e, struct server *server)
{
	e->server = server;
}

void events_shutdown(struct events *e, void (*on_idle)(void *userdata), void *userdata)
{
	e->stopping = true;
	e->on_idle = on_idle;
	e->idle_userdata = userdata;
	for (struct vm_state *v = e->vms; v; v = v->next)
		while (v->queue_head) {
			struct job *j = v->queue_head;

			v->queue_head = j->next;
			j->next = NULL;
			job_fail_stopping(e, j);
		}
	for (struct vm_state *v = e->vms; v; v = v->next)
		v->queue_tail = NULL;
	maybe_idle(e);
}

unsigned events_running(const struct events *e)
{
	return e->running;
}

void events_free(struct events *e)
{
	if (!e)
		return;
	while (e->vms) {
		struct vm_state *v = e->vms;

		e->vms = v->next;
		while (v->queue_head) {
			struct job *j = v->queue_head;

			v->queue_head = j->next;
			job_free(j);
		}
		for (unsigned i = 0; i < EVENTS_HISTORY; i++)
			record_clear(&v->history[i]);
		free(v->name);
		free(v);
	}
	gen_unref(e->gen);
	sd_event_source_disable_unref(e->efd_source);
	if (e->efd >= 0)
		close(e->efd);
	pthread_mutex_destroy(&e->lock);
	free(e->conf_dir);
	sd_event_unref(e->event);
	free(e);
}

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <systemd/sd-daemon.h>

#include "engine-view.h"
#include "clock.h"
#include "jobs.h"
#include "reconcile.h"
#include "log.h"
#include "router.h"
#include "server.h"
#include "status.h"
#include "util.h"

/* What a request for a VM without a configuration does instead of the route's action. */
enum unconfigured {
	UNCONFIGURED_SAME,	 /* the same action */
	UNCONFIGURED_NOTHING,	 /* nothing: answered "ok" at once */
	UNCONFIGURED_NO_SUCH_VM, /* refused with io.hookd.NoSuchVM */
};

#define ANY_OP (-1)

/* The route table: which request becomes which engine action, read in one place (route_find). The first
 * row that matches wins. libvirt's ops and sub-ops are described in hooks(libvirt) and
 * ../shared/reference/libvirt-hooks.md. */
static const struct route {
	const char *method;
	int op;		   /* enum hook_op of io.hookd.Event, or ANY_OP */
	const char *subop; /* NULL: any */
	enum job_action action;
	enum unconfigured unconfigured;
} routes[] = {
	/* libvirt's hook: devices leave the host before QEMU starts, and come back after it stopped. */
	{ HOOKD_METHOD_EVENT, HOOK_OP_PREPARE, "begin", JOB_ACTION_PREPARE, UNCONFIGURED_NOTHING },
	/* Release even without configuration: a VM whose file was removed while prepared must get its devices
	 * back; with no journal the engine does nothing. */
	{ HOOKD_METHOD_EVENT, HOOK_OP_RELEASE, NULL, JOB_ACTION_RELEASE, UNCONFIGURED_SAME },
	/* Every other op is recorded and answered "ok". */
	{ HOOKD_METHOD_EVENT, ANY_OP, NULL, JOB_ACTION_NONE, UNCONFIGURED_SAME },
	/* hookctl prepare / release / check. */
	{ HOOKD_METHOD_PREPARE, ANY_OP, NULL, JOB_ACTION_PREPARE, UNCONFIGURED_NO_SUCH_VM },
	{ HOOKD_METHOD_RELEASE, ANY_OP, NULL, JOB_ACTION_RELEASE, UNCONFIGURED_SAME },
	{ HOOKD_METHOD_CHECK, ANY_OP, NULL, JOB_ACTION_CHECK, UNCONFIGURED_NO_SUCH_VM },
};

static const struct route *route_find(const char *method, const struct proto_event *ev)
{
	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		const struct route *rt = &routes[i];

		if (!streq(rt->method, method))
			continue;
		if (ev && rt->op != ANY_OP && rt->op != (int)ev->op)
			continue;
		if (ev && rt->subop && !streq(rt->subop, ev->subop))
			continue;
		return rt;
	}
	return NULL;
}

struct router {
	sd_event *event;
	struct engine *engine;
	struct server *server;
	char *conf_dir;
	struct config_gen *gen; /* the running configuration */
	struct jobs jobs;
	struct engine_view *view;    /* the devices as Status shows them, read off the loop */
	struct reconcile *reconcile; /* not owned; NULL when off */
};

/* Answer at once (reply taken; NULL, out of memory, sends nothing). */
static void reply_now(struct router *rt, uint64_t client_id, json_object *reply)
{
	if (reply)
		server_reply(rt->server, client_id, reply);
}

static void handle_reload(struct router *rt, uint64_t client_id)
{
	struct diag diag = { 0 };
	json_object *reply, *params, *problems;

	if (router_reload(rt, &diag) >= 0) {
		reply_now(rt, client_id, proto_build_reply(NULL));
		return;
	}
	_cleanup_free_ char *joined = diag_join(&diag, "; ");
	reply = proto_build_error(
		HOOKD_ERROR_FAILED,
		"configuration reloaded except what has problems (a broken VM file disables that VM, "
		"keeping its last good version for status; a broken hookd.conf gives the defaults): %s",
		joined ? joined : "invalid");
	if (reply && json_object_object_get_ex(reply, "parameters", &params)) {
		problems = json_object_new_array();
		for (size_t i = 0; i < diag.n; i++)
			json_object_array_add(problems, json_object_new_string(diag.lines[i]));
		json_object_object_add(params, "problems", problems);
	}
	diag_clear(&diag);
	reply_now(rt, client_id, reply);
}

/* Read VM's file again if it changed since the running configuration read it, and swap in a configuration
 * with that one file updated. A failure leaves the running configuration (and is logged). */
static void router_refresh_vm(struct router *rt, const char *vm)
{
	struct hookd_config *fresh = NULL;
	const struct vm_config_problem *problem;
	bool known = hookd_config_find_vm(rt->gen->cfg, vm) || hookd_config_find_problem(rt->gen->cfg, vm);
	struct config_gen *g;
	int r;

	r = hookd_config_refresh_vm(rt->gen->cfg, vm, &fresh);
	if (r <= 0) {
		if (r < 0)
			log_ctx(LOG_WARNING, vm, "config", NULL, "cannot check its configuration file: %s",
				strerror(-r));
		return;
	}
	g = config_gen_new(fresh);
	if (!g) {
		hookd_config_free(fresh);
		return;
	}
	config_gen_unref(rt->gen);
	rt->gen = g;
	problem = hookd_config_find_problem(fresh, vm);
	if (problem)
		for (size_t i = 0; i < problem->diag.n; i++)
			log_ctx(LOG_ERR, vm, "config", NULL, "changed, and now broken: %s", problem->diag.lines[i]);
	else
		log_ctx(LOG_INFO, vm, "config", NULL, "%s",
			!hookd_config_find_vm(fresh, vm) ? "its file is gone: no configuration now"
			: known				 ? "its file changed since hookd read it: read again"
							 : "its file appeared since hookd started: read");
}

/* The refusal of an event for a VM whose file is broken: the file:line problems, in virsh's one line. */
static json_object *broken_vm_error(const char *vm, const struct vm_config_problem *problem)
{
	_cleanup_free_ char *joined = diag_join(&problem->diag, "; ");
	json_object *reply, *params, *problems;

	reply = proto_build_error(HOOKD_ERROR_REFUSED, "VM %s: its configuration is broken, so nothing was done: %s",
				  vm, joined ? joined : "?");
	if (reply && json_object_object_get_ex(reply, "parameters", &params)) {
		problems = json_object_new_array();
		for (size_t i = 0; i < problem->diag.n; i++)
			json_object_array_add(problems, json_object_new_string(problem->diag.lines[i]));
		json_object_object_add(params, "problems", problems);
	}
	return reply;
}

/* How long a Status request waits for a fresh device view before it is answered from the last one; longer
 * when the last one is outdated (a prepare or release finished since it was read; under a loaded machine a
 * read of a VM with many host changes took over 500 ms), within hookctl's 10 s. */
#define STATUS_VIEW_WAIT_USEC (500ull * 1000ull)
#define STATUS_OUTDATED_VIEW_WAIT_USEC (5000ull * 1000ull)

struct status_request {
	struct router *router;
	uint64_t client_id;
	struct proto_request req;
};

static void status_answer(void *userdata, json_object *engine_vms, uint64_t age_usec, bool outdated)
{
	struct status_request *sr = userdata;
	struct router *rt = sr->router;

	if (rt->server) { /* NULL: shutting down */
		json_object *reply =
			status_build_reply(rt->gen->cfg, &rt->jobs, sr->req.params, engine_vms, age_usec, outdated);
		json_object *params;

		if (reply && !json_object_object_get_ex(reply, "error", NULL) &&
		    json_object_object_get_ex(reply, "parameters", &params))
			json_object_object_add(params, "reconcile", reconcile_status(rt->reconcile));
		reply_now(rt, sr->client_id, reply);
	}
	proto_request_clear(&sr->req);
	free(sr);
}

/* Status never reads a device on the loop: the engine's view comes from engine-view's helper thread. */
static void handle_status(struct router *rt, uint64_t client_id, struct proto_request *req)
{
	_cleanup_free_ char **busy = NULL;
	struct status_request *sr;
	json_object *invalid = status_check_params(req->params);
	size_t n = 0;
	int r;

	if (invalid) {
		proto_request_clear(req);
		return reply_now(rt, client_id, invalid);
	}
	for (struct vm_state *v = rt->jobs.vms; v; v = v->next)
		n++;
	busy = calloc(n + 1, sizeof(char *));
	sr = calloc(1, sizeof(*sr));
	if (!busy || !sr) {
		free(sr);
		proto_request_clear(req);
		return reply_now(rt, client_id, proto_build_error(HOOKD_ERROR_FAILED, "out of memory"));
	}
	n = 0;
	for (struct vm_state *v = rt->jobs.vms; v; v = v->next)
		if (status_job_moves_devices(v->running))
			busy[n++] = v->name; /* borrowed: engine_view_get copies */
	sr->router = rt;
	sr->client_id = client_id;
	sr->req = *req;
	*req = (struct proto_request){ 0 };
	r = engine_view_get(rt->view, busy, rt->jobs.changed_usec, STATUS_VIEW_WAIT_USEC,
			    STATUS_OUTDATED_VIEW_WAIT_USEC, status_answer, sr);
	if (r < 0) {
		log_warning("status: cannot read the devices' view: %s", strerror(-r));
		proto_request_clear(&sr->req);
		free(sr);
		reply_now(rt, client_id, proto_build_error(HOOKD_ERROR_FAILED, "out of resources"));
	}
}

void router_handle_request(void *userdata, uint64_t client_id, uid_t uid, struct proto_request *req)
{
	struct router *rt = userdata;
	const char *vm = NULL, *why = NULL;
	const struct vm_config_problem *problem;
	const struct route *route;
	struct job *j;
	int r;

	if (streq(req->method, HOOKD_METHOD_STATUS))
		return handle_status(rt, client_id, req);
	if (streq(req->method, HOOKD_METHOD_RELOAD)) {
		proto_request_clear(req);
		handle_reload(rt, client_id);
		return;
	}

	j = job_new(&rt->jobs, client_id, req);
	if (!j)
		return reply_now(rt, client_id, proto_build_error(HOOKD_ERROR_FAILED, "out of memory"));
	if (streq(j->req.method, HOOKD_METHOD_EVENT)) {
		j->from_hook = true;
		r = proto_event_from_params(j->req.params, &j->ev, &why);
		vm = j->ev.vm;
	} else
		r = proto_vm_from_params(j->req.params, &vm, &why);
	if (r < 0) {
		reply_now(rt, client_id,
			  proto_build_error(HOOKD_ERROR_INVALID, "invalid parameters: %s", why ? why : "?"));
		return job_free(j);
	}
	if (rt->jobs.stopping) {
		reply_now(rt, client_id,
			  proto_build_error(HOOKD_ERROR_FAILED, "VM %s: hookd is stopping; %s was not carried out", vm,
					    j->req.method));
		return job_free(j);
	}
	/* The server only passes known methods on: every one but Status and Reload has a route. */
	route = route_find(j->req.method, j->from_hook ? &j->ev : NULL);
	if (!route) {
		reply_now(rt, client_id, proto_build_error(HOOKD_ERROR_METHOD, "no route for %s", j->req.method));
		return job_free(j);
	}
	/* The file on disk is what an event acts on: one changed (or new, or gone) since it was read is read
	 * again now. */
	router_refresh_vm(rt, vm);
	problem = hookd_config_find_problem(rt->gen->cfg, vm);
	if (problem && (route->action == JOB_ACTION_PREPARE || route->action == JOB_ACTION_CHECK)) {
		log_ctx(LOG_ERR, vm, job_action_to_string(route->action), NULL,
			"refused: its configuration file is broken (%s)", problem->diag.lines[0]);
		reply_now(rt, client_id, broken_vm_error(vm, problem));
		return job_free(j);
	}
	j->gen = config_gen_ref(rt->gen);
	j->vm_config = hookd_config_find_vm(rt->gen->cfg, vm);
	j->action = route->action;
	if (!j->vm_config && route->unconfigured == UNCONFIGURED_NO_SUCH_VM) {
		reply_now(rt, client_id,
			  proto_build_error(HOOKD_ERROR_NO_SUCH_VM, "VM %s has no configuration (%s/vms/%s.ini)", vm,
					    rt->conf_dir, vm));
		return job_free(j);
	}
	if (!j->vm_config && route->unconfigured == UNCONFIGURED_NOTHING)
		j->action = JOB_ACTION_NONE;
	j->vm = jobs_get_vm(&rt->jobs, vm);
	if (!j->vm) {
		reply_now(rt, client_id, proto_build_error(HOOKD_ERROR_FAILED, "out of memory"));
		return job_free(j);
	}
	j->vm->last_request_ms = monotonic_ms();
	if (j->from_hook) {
		log_ctx(LOG_DEBUG, vm, hook_op_to_string(j->ev.op), NULL, "event %s %s (%zu bytes of XML)", j->ev.subop,
			j->ev.extra, j->ev.xml_len);
		/* Legacy scripts that will not run: into the log, and kept for status until the next event. */
		for (size_t i = 0; j->ev.warnings && i < json_object_array_length(j->ev.warnings); i++)
			log_ctx(LOG_WARNING, vm, hook_op_to_string(j->ev.op), NULL, "%s",
				json_object_get_string(json_object_array_get_idx(j->ev.warnings, i)));
		json_object_put(j->vm->legacy_warnings);
		j->vm->legacy_warnings = json_object_get(j->ev.warnings);
	}
	/* A VM stopped, or libvirt reconnected after a restart: releases may have been missed meanwhile. */
	if (j->from_hook &&
	    (j->ev.op == HOOK_OP_STOPPED || j->ev.op == HOOK_OP_RELEASE || j->ev.op == HOOK_OP_RECONNECT))
		reconcile_request(rt->reconcile, hook_op_to_string(j->ev.op));
	jobs_enqueue(&rt->jobs, j);
}

/* Say what a configuration with problems means for the user: which VMs are off, which defaults apply. */
void router_log_config_problems(const struct hookd_config *cfg)
{
	if (cfg->global_problems.n > 0) {
		log_error("%s/hookd.conf has problems; its defaults are in use:", cfg->conf_dir);
		for (size_t i = 0; i < cfg->global_problems.n; i++)
			log_error("%s", cfg->global_problems.lines[i]);
	}
	for (size_t i = 0; i < cfg->n_broken; i++) {
		const struct vm_config_problem *b = &cfg->broken[i];

		log_error("VM %s: its configuration is broken; %s:", b->name,
			  b->last_good_kept ? "its last good version is kept, but events are refused until it is fixed"
					    : "events are refused until it is fixed");
		for (size_t k = 0; k < b->diag.n; k++)
			log_error("%s", b->diag.lines[k]);
	}
}

void router_set_reconcile(struct router *rt, struct reconcile *rec)
{
	rt->reconcile = rec;
}

void router_reconcile_release(void *userdata, const char *vm, const char *why, unsigned long long since_ms)
{
	struct router *rt = userdata;
	struct vm_state *v = jobs_get_vm(&rt->jobs, vm);
	struct proto_request req = { 0 };
	struct job *j;

	if (!v)
		return;
	if (v->running || v->queue_head || v->last_request_ms >= since_ms) {
		log_ctx(LOG_INFO, vm, "reconcile", NULL, "not released: a request for it arrived meanwhile");
		return;
	}
	if (rt->jobs.stopping)
		return;
	req.obj = json_object_new_object();
	req.params = json_object_new_object();
	if (!req.obj || !req.params) {
		json_object_put(req.params);
		proto_request_clear(&req);
		return;
	}
	json_object_object_add(req.params, "vm", json_object_new_string(vm));
	json_object_object_add(req.obj, "method", json_object_new_string(HOOKD_METHOD_RELEASE));
	json_object_object_add(req.obj, "parameters", req.params);
	req.method = HOOKD_METHOD_RELEASE;
	j = job_new(&rt->jobs, 0, &req); /* client 0: nobody waits for the reply */
	if (!j)
		return;
	j->action = JOB_ACTION_RELEASE;
	j->origin = "reconcile";
	j->gen = config_gen_ref(rt->gen);
	j->vm_config = hookd_config_find_vm(rt->gen->cfg, vm);
	j->vm = v;
	log_ctx(LOG_WARNING, vm, "reconcile", NULL, "releasing: %s", why);
	jobs_enqueue(&rt->jobs, j);
}

/* ---- life cycle ---- */

static size_t count_kept(const struct hookd_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_broken; i++)
		n += cfg->broken[i].last_good_kept;
	return n;
}

int router_reload(struct router *rt, struct diag *diag)
{
	struct hookd_config *cfg = NULL;
	struct config_gen *g;
	int r;

	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	/* Each file on its own: good files are taken, a broken VM file keeps that VM's last good version (for
	 * status; its events are refused until the file is fixed), a broken hookd.conf gives the defaults. */
	r = hookd_config_load_each(rt->conf_dir, &cfg);
	if (r >= 0)
		r = hookd_config_keep_last_good(cfg, rt->gen->cfg);
	if (r < 0) {
		hookd_config_free(cfg);
		log_error("configuration in %s not reloaded: %s", rt->conf_dir, strerror(-r));
		diag_add(diag, "%s: %s", rt->conf_dir, strerror(-r));
		sd_notify(0, "READY=1\nSTATUS=Running (the last reload failed)");
		return r;
	}
	router_log_config_problems(cfg);
	for (size_t i = 0; i < cfg->global_problems.n; i++)
		diag_add(diag, "%s", cfg->global_problems.lines[i]);
	for (size_t i = 0; i < cfg->n_broken; i++)
		for (size_t k = 0; k < cfg->broken[i].diag.n; k++)
			diag_add(diag, "%s", cfg->broken[i].diag.lines[k]);
	g = config_gen_new(cfg);
	if (!g) {
		hookd_config_free(cfg);
		diag_add(diag, "out of memory");
		sd_notify(0, "READY=1");
		return -ENOMEM;
	}
	config_gen_unref(rt->gen);
	rt->gen = g;
	log_info("configuration reloaded: %zu VMs, %zu broken", cfg->n_vms - count_kept(cfg), cfg->n_broken);
	if (diag->n > 0) {
		sd_notifyf(0, "READY=1\nSTATUS=Running, %zu VMs configured; the configuration has problems",
			   cfg->n_vms);
		return -EINVAL;
	}
	sd_notifyf(0, "READY=1\nSTATUS=Running, %zu VMs configured", cfg->n_vms);
	return 0;
}

int router_new(sd_event *event, struct engine *engine, const char *conf_dir, struct hookd_config *cfg,
	       struct router **ret)
{
	struct router *rt = calloc(1, sizeof(*rt));
	int r;

	if (!rt) {
		hookd_config_free(cfg);
		return -ENOMEM;
	}
	r = jobs_init(&rt->jobs, event, engine);
	/* libxml2 must be initialized once before threads (the engine's) use it. */
	xmlInitParser();
	rt->event = sd_event_ref(event);
	rt->engine = engine;
	rt->conf_dir = strdup(conf_dir);
	rt->gen = config_gen_new(cfg);
	if (!rt->gen)
		hookd_config_free(cfg);
	if (r >= 0 && (!rt->conf_dir || !rt->gen))
		r = -ENOMEM;
	if (r >= 0)
		r = engine_view_new(event, engine, &rt->view);
	if (r < 0) {
		router_free(rt);
		return r;
	}
	*ret = rt;
	return 0;
}

void router_set_server(struct router *rt, struct server *server)
{
	rt->server = server;
	rt->jobs.server = server;
}

void router_shutdown(struct router *rt, void (*on_idle)(void *userdata), void *userdata)
{
	jobs_shutdown(&rt->jobs, on_idle, userdata);
}

unsigned router_running(const struct router *rt)
{
	return rt->jobs.running;
}

bool router_threads_done(const struct router *rt)
{
	return rt->jobs.running == 0 && !engine_view_busy(rt->view) && !reconcile_busy(rt->reconcile);
}

void router_free(struct router *rt)
{
	if (!rt)
		return;
	/* Status requests still waiting for the view are dropped: their server is gone. */
	rt->server = NULL;
	engine_view_free(rt->view);
	jobs_clear(&rt->jobs);
	config_gen_unref(rt->gen);
	free(rt->conf_dir);
	sd_event_unref(rt->event);
	free(rt);
}

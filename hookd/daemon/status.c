#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hookd-config.h"
#include "log.h"
#include "status.h"
#include "util.h"

bool status_job_moves_devices(const struct job *j)
{
	return j && (j->action == JOB_ACTION_PREPARE || j->action == JOB_ACTION_RELEASE);
}

/* The engine's entry (taken) of a VM whose job moves its devices, when the view was read before the job
 * began: what it showed is no longer true, so every device is "moving". */
static json_object *engine_entry_as_moving(json_object *eng)
{
	json_object *copy = NULL, *devices, *moving;

	if (json_object_object_get_ex(eng, "moving", &moving) && json_object_get_boolean(moving))
		return eng;
	if (json_object_deep_copy(eng, &copy, NULL) < 0) {
		json_object_put(eng);
		return NULL;
	}
	json_object_put(eng);
	if (json_object_object_get_ex(copy, "devices", &devices))
		for (size_t i = 0; i < json_object_array_length(devices); i++)
			json_object_object_add(json_object_array_get_idx(devices, i), "state",
					       json_object_new_string("moving"));
	json_object_object_add(copy, "moving", json_object_new_boolean(true));
	return copy;
}

static json_object *status_vm(const struct hookd_config *cfg, const struct jobs *jobs, const char *name,
			      json_object *engine_vms)
{
	const struct vm_config *vc = hookd_config_find_vm(cfg, name);
	const struct vm_config_problem *problem = hookd_config_find_problem(cfg, name);
	struct vm_state *v = jobs_find_vm(jobs, name);
	json_object *o = json_object_new_object(), *events = json_object_new_array(), *eng = NULL;
	unsigned queued = 0;

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "configured", json_object_new_boolean(vc != NULL || problem != NULL));
	if (problem) {
		json_object *lines = json_object_new_array();

		for (size_t i = 0; i < problem->diag.n; i++)
			json_object_array_add(lines, json_object_new_string(problem->diag.lines[i]));
		json_object_object_add(o, "config_problems", lines);
		json_object_object_add(o, "last_good_kept", json_object_new_boolean(problem->last_good_kept));
	}
	json_object_object_add(o, "running_job",
			       v && v->running ? json_object_new_string(job_op_name(v->running)) : NULL);
	if (v)
		for (struct job *j = v->queue_head; j; j = j->next)
			queued++;
	json_object_object_add(o, "queued_jobs", json_object_new_int((int)queued));
	for (unsigned i = 0; v && i < v->n_history; i++) {
		const struct event_record *r = &v->history[(v->head + i) % JOBS_HISTORY];
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
	/* What the hook said with the VM's last event about its legacy scripts: [] when all is well. */
	json_object_object_add(o, "legacy_warnings",
			       v && v->legacy_warnings ? json_object_get(v->legacy_warnings) : json_object_new_array());
	for (size_t i = 0; engine_vms && i < json_object_array_length(engine_vms); i++) {
		json_object *ev = json_object_array_get_idx(engine_vms, i), *n;

		if (json_object_object_get_ex(ev, "name", &n) && streq_ptr(json_object_get_string(n), name)) {
			eng = json_object_get(ev);
			break;
		}
	}
	if (eng && v && status_job_moves_devices(v->running))
		eng = engine_entry_as_moving(eng);
	json_object_object_add(o, "engine", eng);
	return o;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_object *status_check_params(json_object *params)
{
	const char *only = NULL, *why = NULL;

	if (json_object_object_get_ex(params, "vm", NULL) && proto_vm_from_params(params, &only, &why) < 0)
		return proto_build_error(HOOKD_ERROR_INVALID, "invalid parameters: %s", why ? why : "?");
	return NULL;
}

json_object *status_build_reply(const struct hookd_config *cfg, const struct jobs *jobs, json_object *params,
				json_object *engine_vms, uint64_t age_usec, bool outdated)
{
	json_object *vms, *reply_params, *view;
	const char *only = NULL, *why = NULL;
	_cleanup_free_ const char **names = NULL;
	size_t n = 0, cap;

	if (json_object_object_get_ex(params, "vm", NULL) && proto_vm_from_params(params, &only, &why) < 0)
		return proto_build_error(HOOKD_ERROR_INVALID, "invalid parameters: %s", why ? why : "?");

	/* Every VM anyone knows of: configured, seen in a request, or holding engine state. */
	cap = cfg->n_vms + cfg->n_broken + 1 + (engine_vms ? json_object_array_length(engine_vms) : 0);
	for (struct vm_state *v = jobs->vms; v; v = v->next)
		cap++;
	names = calloc(cap, sizeof(char *));
	if (!names)
		return proto_build_error(HOOKD_ERROR_FAILED, "out of memory");
	for (size_t i = 0; i < cfg->n_vms; i++)
		names[n++] = cfg->vms[i]->name;
	for (size_t i = 0; i < cfg->n_broken; i++)
		names[n++] = cfg->broken[i].name;
	for (struct vm_state *v = jobs->vms; v; v = v->next)
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
		json_object_array_add(vms, status_vm(cfg, jobs, names[i], engine_vms));
	}
	if (only && json_object_array_length(vms) == 0) {
		json_object_put(vms);
		return proto_build_error(HOOKD_ERROR_NO_SUCH_VM, "VM %s is not known to hookd", only);
	}
	reply_params = json_object_new_object();
	json_object_object_add(reply_params, "version", json_object_new_string(HOOKD_VERSION));
	json_object_object_add(reply_params, "protocol", json_object_new_int(HOOKD_PROTO_VERSION));
	json_object_object_add(reply_params, "jobs_running", json_object_new_int((int)jobs->running));
	json_object_object_add(reply_params, "stopping", json_object_new_boolean(jobs->stopping));
	/* How old the devices' view is: a device read that blocks leaves the last complete one. */
	view = json_object_new_object();
	json_object_object_add(view, "available", json_object_new_boolean(engine_vms != NULL));
	json_object_object_add(view, "age_ms", json_object_new_int64((int64_t)(age_usec / 1000)));
	/* Read before the last prepare or release finished: that VM may be shown as it was before. */
	json_object_object_add(view, "outdated", json_object_new_boolean(outdated));
	json_object_object_add(reply_params, "device_view", view);
	if (cfg->global_problems.n > 0) {
		json_object *lines = json_object_new_array();

		for (size_t i = 0; i < cfg->global_problems.n; i++)
			json_object_array_add(lines, json_object_new_string(cfg->global_problems.lines[i]));
		json_object_object_add(reply_params, "config_problems", lines);
	}
	json_object_object_add(reply_params, "vms", vms);
	return proto_build_reply(reply_params);
}

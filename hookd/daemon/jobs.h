/* Jobs: one FIFO queue per VM, the engine calls on worker threads, and their hand-back to the event loop
 * through an eventfd, where each finished job becomes its reply, its history record and its log line.
 * Everything here runs on the event loop thread, except the engine call itself. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "engine.h"
#include "proto.h"

/* Last events remembered per VM, for io.hookd.Status. */
#define JOBS_HISTORY 16

struct server;

/* A configuration generation: jobs hold one so a reload never frees a vm_config a worker still reads.
 * References are taken and dropped on the event loop thread only. */
struct config_gen {
	struct hookd_config *cfg;
	unsigned refs;
};
/* cfg is taken on success; NULL (cfg untouched) when out of memory. */
struct config_gen *config_gen_new(struct hookd_config *cfg);
struct config_gen *config_gen_ref(struct config_gen *g);
void config_gen_unref(struct config_gen *g);

/* What the engine does for a job (the router's table decides). */
enum job_action {
	JOB_ACTION_NONE, /* nothing: answered "ok" at once */
	JOB_ACTION_PREPARE,
	JOB_ACTION_RELEASE,
	JOB_ACTION_CHECK, /* dry run: not recorded in the history */
};
const char *job_action_to_string(enum job_action a);

/* One finished event or manual prepare/release, as io.hookd.Status shows it. */
struct event_record {
	char *op;
	char *subop;
	char *extra;
	char *uuid;	    /* from the domain XML, or NULL */
	char *message;	    /* the error's message, or NULL */
	const char *result; /* "ok" or an error name (static strings) */
	size_t xml_len;
	long long time_usec; /* CLOCK_REALTIME when the request arrived */
	unsigned duration_ms;
};

struct vm_state {
	struct vm_state *next; /* owned by jobs.vms */
	char *name;
	struct event_record history[JOBS_HISTORY]; /* a ring: history[(head + i) % N], oldest first */
	unsigned n_history;
	unsigned head;
	struct job *queue_head; /* waiting, FIFO; owned */
	struct job *queue_tail;
	struct job *running;		    /* on a worker thread, or NULL */
	json_object *legacy_warnings;	    /* the hook's "warnings" with its last event (a reference), or NULL */
	unsigned long long last_request_ms; /* monotonic: when a request for this VM last arrived */
};

struct job {
	struct job *next;
	struct jobs *jobs;
	struct vm_state *vm;
	enum job_action action;
	bool from_hook;	    /* io.hookd.Event: ev is set; else hookctl's Prepare/Release/Check */
	const char *origin; /* not from the hook: the history's subop, "manual" when NULL (static) */
	uint64_t client_id;
	struct proto_request req; /* owns the JSON the strings below point into */
	struct proto_event ev;
	struct config_gen *gen;		   /* a reference */
	const struct vm_config *vm_config; /* in gen; NULL when the VM has no configuration */
	long long received_usec;	   /* CLOCK_REALTIME */
	unsigned long long started_ms;	   /* monotonic */
	/* Results, written by the worker. */
	int r;
	bool refused; /* the engine's checks refused it before changing anything (r is then -EPERM) */
	char *message;
	json_object *plan;
};

/* req is taken (left cleared); NULL when out of memory (req is cleared all the same). */
struct job *job_new(struct jobs *q, uint64_t client_id, struct proto_request *req);
void job_free(struct job *j);
/* "prepare", "release", "check", or libvirt's op for the hook's events. */
const char *job_op_name(const struct job *j);

struct jobs {
	struct engine *engine;
	struct server *server; /* where replies go; replies are dropped while NULL */
	struct vm_state *vms;  /* every VM seen in a request; owned */
	unsigned running;      /* jobs on worker threads */
	bool stopping;
	void (*on_idle)(void *userdata);
	void *idle_userdata;
	int efd; /* workers write 1 when they finish */
	sd_event_source *efd_source;
	pthread_mutex_t lock; /* guards done_*: workers append, the loop takes */
	struct job *done_head;
	struct job *done_tail;
	uint64_t changed_usec; /* CLOCK_MONOTONIC when the last prepare or release finished; 0: none yet */
};

/* On error q is still safe to jobs_clear(). */
int jobs_init(struct jobs *q, sd_event *event, struct engine *engine);
void jobs_clear(struct jobs *q);

struct vm_state *jobs_find_vm(const struct jobs *q, const char *name);
/* Found or added; NULL when out of memory. */
struct vm_state *jobs_get_vm(struct jobs *q, const char *name);

/* Queue j (taken; j->vm set) behind the VM's earlier jobs and start what can start. */
void jobs_enqueue(struct jobs *q, struct job *j);

/* Stop taking work: jobs still queued are answered "stopping"; on_idle(userdata) is called once the jobs
 * already running have finished (at once when none runs). */
void jobs_shutdown(struct jobs *q, void (*on_idle)(void *userdata), void *userdata);

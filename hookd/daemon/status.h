/* The io.hookd.Status reply: every VM anyone knows of (configured, seen in a request, or holding engine
 * state), each with its queue, its last events and the engine's view of it. */
#pragma once

#include <json-c/json.h>

#include "config.h"
#include "engine.h"
#include "jobs.h"

/* The reply to send for parameters PARAMS ({vm?}): a proto reply, or a proto error (InvalidParameter,
 * NoSuchVM when the one VM asked for is unknown, Failed when out of memory). engine_vms is the engine's view
 * (engine-view.h; borrowed, NULL when none could be read yet), age_usec how old it is. The caller owns the
 * reply; NULL only when even the error could not be built. outdated: the view was read before the last
 * prepare or release finished (device_view.outdated). Reads nothing: cheap. */
json_object *status_build_reply(const struct hookd_config *cfg, const struct jobs *jobs, json_object *params,
				json_object *engine_vms, uint64_t age_usec, bool outdated);
/* Validate PARAMS before the view is read: NULL when fine, else the error reply (caller owns). */
json_object *status_check_params(json_object *params);
/* A job that moves its VM's devices (prepare, release): reading them now may block. */
bool status_job_moves_devices(const struct job *j);

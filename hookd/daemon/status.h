/* The io.hookd.Status reply: every VM anyone knows of (configured, seen in a request, or holding engine
 * state), each with its queue, its last events and the engine's view of it. */
#pragma once

#include <json-c/json.h>

#include "config.h"
#include "engine.h"
#include "jobs.h"

/* The reply to send for parameters PARAMS ({vm?}): a proto reply, or a proto error (InvalidParameter,
 * NoSuchVM when the one VM asked for is unknown, Failed when out of memory). The caller owns it; NULL only
 * when even the error could not be built. */
json_object *status_build_reply(const struct hookd_config *cfg, const struct jobs *jobs, struct engine *engine,
				json_object *params);

/* Talking to hookd from hookctl: one call, with a readable outcome. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>

#include "hookctl.h"
#include "proto.h"

/* Call method(params) (params taken). -ENOENT / -ECONNREFUSED when hookd does not run (nothing printed);
 * 0 with reply filled otherwise, reply->error set when hookd answered with an error. */
int daemon_call(const struct hookctl *ctx, const char *method, json_object *params, unsigned timeout_ms,
		struct proto_reply *reply);
static inline bool daemon_not_running(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED;
}
/* One line saying what a daemon_call() error means and what to do, for any r < 0 (a static buffer). */
const char *daemon_call_problem(const struct hookctl *ctx, int r);
/* io.hookd.Reload, reporting on stderr. Never fails the caller: the file is already installed. */
void daemon_request_reload(const struct hookctl *ctx);

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "daemon.h"
#include "util.h"

int daemon_call(const struct hookctl *ctx, const char *method, json_object *params, unsigned timeout_ms,
		struct proto_reply *reply)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (!params)
		params = json_object_new_object();
	r = client_connect(ctx->socket_path, &fd);
	if (r < 0) {
		json_object_put(params);
		return r;
	}
	return client_call(fd, method, params, timeout_ms, reply);
}

void daemon_request_reload(const struct hookctl *ctx)
{
	struct proto_reply reply = { 0 };
	int r;

	r = daemon_call(ctx, HOOKD_METHOD_RELOAD, NULL, 30000, &reply);
	if (daemon_not_running(r)) {
		hookctl_note("hookd is not running; it will read the file when it starts.");
		return;
	}
	if (r < 0) {
		hookctl_note("warning: could not ask hookd to reload (%s): run 'systemctl reload hookd'.", strerror(-r));
		return;
	}
	if (reply.error)
		hookctl_note("warning: hookd did not reload: %s", reply.message ? reply.message : reply.error);
	else
		hookctl_note("hookd reloaded its configuration.");
	proto_reply_clear(&reply);
}

int cmd_reload(struct hookctl *ctx, int argc, char **argv)
{
	struct proto_reply reply = { 0 };
	json_object *problems = NULL;
	int r;

	r = daemon_call(ctx, HOOKD_METHOD_RELOAD, NULL, 30000, &reply);
	if (daemon_not_running(r)) {
		hookctl_error("hookd is not running (no answer on %s): nothing to reload.", ctx->socket_path);
		return HOOKCTL_EXIT_NOT_RUNNING;
	}
	if (r < 0) {
		hookctl_error("talking to hookd on %s: %s", ctx->socket_path, strerror(-r));
		return r;
	}
	if (!reply.error) {
		proto_reply_clear(&reply);
		printf("hookd reloaded its configuration.\n");
		return 0;
	}
	/* One line per problem: this is what `systemctl reload hookd` and `systemctl status hookd` show. */
	if (reply.params && json_object_object_get_ex(reply.params, "problems", &problems) &&
	    json_object_is_type(problems, json_type_array) && json_object_array_length(problems) > 0) {
		hookctl_error("hookd refused the new configuration and keeps the running one:");
		for (size_t i = 0; i < json_object_array_length(problems); i++) {
			json_object *line = json_object_array_get_idx(problems, i);

			if (json_object_is_type(line, json_type_string))
				fprintf(stderr, "  %s\n", json_object_get_string(line));
		}
	} else {
		hookctl_error("%s", reply.message ? reply.message : reply.error);
	}
	proto_reply_clear(&reply);
	return HOOKCTL_EXIT_FAILURE;
}

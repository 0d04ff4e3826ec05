#include <errno.h>
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

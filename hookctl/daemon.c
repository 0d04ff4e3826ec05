/* hookctl's calls to hookd, and the human line for each way a call can fail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "daemon.h"
#include "reply-decode.h"
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

const char *daemon_call_problem(const struct hookctl *ctx, int r)
{
	static char line[512];
	const char *sock = ctx->socket_path;

	switch (r) {
	case -ENOENT:
	case -ECONNREFUSED:
		snprintf(line, sizeof(line),
			 "hookd is not running (no answer on %s): start it with 'systemctl start "
			 "hookd.socket'.",
			 sock);
		break;
	case -ETIMEDOUT:
		snprintf(line, sizeof(line),
			 "hookd did not answer on %s in time: it is busy or stuck "
			 "(see 'journalctl -u hookd').",
			 sock);
		break;
	case -EAGAIN:
		snprintf(line, sizeof(line), "hookd is busy: its socket %s takes no more connections now; try again.",
			 sock);
		break;
	case -ECONNRESET:
	case -EPIPE:
		snprintf(line, sizeof(line),
			 "hookd closed the connection on %s without answering "
			 "(see 'journalctl -u hookd').",
			 sock);
		break;
	case -EACCES:
	case -EPERM:
		snprintf(line, sizeof(line),
			 "no permission to use hookd's socket %s: run as root, or be in the group "
			 "it is opened to (see hookd(8)).",
			 sock);
		break;
	case -EBADMSG:
	case -EMSGSIZE:
		snprintf(line, sizeof(line),
			 "hookd's answer on %s is not a valid message: is it the same version as "
			 "hookctl?",
			 sock);
		break;
	case -ENAMETOOLONG:
		snprintf(line, sizeof(line), "the socket path %s is too long for a unix socket.", sock);
		break;
	default:
		snprintf(line, sizeof(line), "talking to hookd on %s failed: %s.", sock, strerror(-r));
	}
	return line;
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
		hookctl_note("warning: could not ask hookd to reload: %s Run 'systemctl reload hookd' once it "
			     "answers.",
			     daemon_call_problem(ctx, r));
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
	_cleanup_free_ char *why = NULL;
	struct proto_reply reply = { 0 };
	json_object *problems = NULL;
	int r;

	r = daemon_call(ctx, HOOKD_METHOD_RELOAD, NULL, 30000, &reply);
	if (daemon_not_running(r)) {
		hookctl_error("hookd is not running (no answer on %s): nothing to reload.", ctx->socket_path);
		return HOOKCTL_EXIT_NOT_RUNNING;
	}
	if (r < 0) {
		hookctl_error("%s", daemon_call_problem(ctx, r));
		return r;
	}
	if (!reply.error) {
		proto_reply_clear(&reply);
		printf("hookd reloaded its configuration.\n");
		return 0;
	}
	/* One line per problem: this is what `systemctl reload hookd` and `systemctl status hookd` show. */
	if (reply_decode_reload_error(reply.params, &why) == 0 &&
	    json_object_object_get_ex(reply.params, "problems", &problems) && problems &&
	    json_object_array_length(problems) > 0) {
		hookctl_error("hookd reloaded all but the files with problems (a broken VM file disables that VM "
			      "and keeps its last good version; a broken hookd.conf gives the defaults):");
		for (size_t i = 0; i < json_object_array_length(problems); i++)
			fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(problems, i)));
	} else {
		hookctl_error("%s", reply.message ? reply.message : reply.error);
	}
	proto_reply_clear(&reply);
	return HOOKCTL_EXIT_FAILURE;
}

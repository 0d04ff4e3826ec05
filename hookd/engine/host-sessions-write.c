/* session-ended, the write side (host-freeing.h): logind's TerminateSession for each graphical session on the
 * seat, each waited for until logind no longer lists it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-freeing.h"
#include "strv.h"
#include "util.h"

static int sessions_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	_cleanup_strv_free_ char **ids = NULL, **left = NULL;
	struct diag ended = { 0 };
	int r;

	if (!ctx->bus)
		return -EOPNOTSUPP;
	/* The sessions now, not those of the check: stopping a display manager ends its greeter's. */
	r = ctx->bus->ops->list_sessions(ctx->bus->data, c->target, &ids, ret_why);
	if (r < 0)
		return r;
	for (size_t i = 0; ids[i]; i++) {
		r = ctx->bus->ops->terminate_session(ctx->bus->data, ids[i], host_job_timeout_ms(ctx), ret_why);
		if (r < 0)
			break;
		diag_add(&ended, "%s", ids[i]);
	}
	/* What was ended is recorded even when a later one failed: status shows it. */
	free(c->applied);
	c->applied = ended.n ? diag_join(&ended, " ") : strdup("");
	diag_clear(&ended);
	if (!c->applied)
		return -ENOMEM;
	if (r < 0)
		return r;
	/* The verify step: none left on the seat. */
	r = ctx->bus->ops->list_sessions(ctx->bus->data, c->target, &left, ret_why);
	if (r < 0)
		return r;
	if (left[0]) {
		if (ret_why &&
		    asprintf(ret_why, "session %s is still there after the sessions were ended", left[0]) < 0)
			*ret_why = NULL;
		return -EBUSY;
	}
	return 0;
}

/* A login session cannot be given back: the user logs in again once the display manager is back. */
static int sessions_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
			    char **ret_why)
{
	return 0;
}

const struct host_change_writer host_session_ended_writer = {
	.kind = HOST_SESSION_ENDED,
	.apply = sessions_apply,
	.restore = sessions_restore,
};

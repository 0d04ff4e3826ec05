/* session-ended, the read side (host-freeing.h): the graphical login sessions on a seat, through logind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-freeing.h"
#include "strv.h"
#include "util.h"

/* The ids joined by spaces ("" for none). NULL on -ENOMEM. */
static char *ids_joined(char *const *ids)
{
	struct diag d = { 0 };
	char *s;

	for (size_t i = 0; ids && ids[i]; i++)
		diag_add(&d, "%s", ids[i]);
	if (d.n != strv_length(ids)) {
		diag_clear(&d);
		return NULL;
	}
	s = d.n ? diag_join(&d, " ") : strdup("");
	diag_clear(&d);
	return s;
}

static int sessions_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	_cleanup_strv_free_ char **ids = NULL;
	int r;

	if (!ctx->bus)
		return -EOPNOTSUPP;
	r = ctx->bus->ops->list_sessions(ctx->bus->data, c->target, &ids, NULL);
	if (r < 0)
		return r;
	*ret_value = ids_joined(ids);
	return *ret_value ? 0 : -ENOMEM;
}

static int sessions_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	_cleanup_strv_free_ char **ids = NULL;

	if (!ctx->bus) {
		*ret_why = strdup("hookd cannot reach logind here");
		return -EOPNOTSUPP;
	}
	return ctx->bus->ops->list_sessions(ctx->bus->data, c->target, &ids, ret_why);
}

static int sessions_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	*ret_value = strdup("end");
	return *ret_value ? 0 : -ENOMEM;
}

const struct host_change_reader host_session_ended_reader = {
	.kind = HOST_SESSION_ENDED,
	.shared = true, /* two VMs may both end the sessions of one seat */
	.read = sessions_read,
	.check = sessions_check,
	.combine = sessions_combine,
};

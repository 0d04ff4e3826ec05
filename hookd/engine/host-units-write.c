/* unit-stopped, the write side (host-freeing.h): StopUnit on prepare, StartUnit (reset-failed first) on release,
 * each job waited for within what is left of the operation (host_job_timeout_ms(ctx)). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-freeing.h"
#include "util.h"

static int set_applied(struct plan_host_change *c, const char *what)
{
	free(c->applied);
	c->applied = strdup(what);
	return c->applied ? 0 : -ENOMEM;
}

static int unit_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	_cleanup_free_ char *state = NULL;
	int r;

	if (!ctx->bus)
		return -EOPNOTSUPP;
	/* Not running before hookd came (or before the first VM that stopped it): nothing to stop, and nothing
	 * to start afterwards. */
	if (!unit_state_running(c->before))
		return set_applied(c, "not-running");
	r = ctx->bus->ops->stop_unit(ctx->bus->data, c->target, host_job_timeout_ms(ctx), ret_why);
	if (r < 0)
		return r;
	/* The verify step: systemd's answer, not the job's word for it. */
	r = ctx->bus->ops->unit_state(ctx->bus->data, c->target, &state, ret_why);
	if (r < 0)
		return r;
	if (unit_state_running(state)) {
		if (ret_why &&
		    asprintf(ret_why, "still %s after it was stopped (something started it again)", state) < 0)
			*ret_why = NULL;
		return -EBUSY;
	}
	return set_applied(c, "stopped");
}

/* VALUE is C->before for the last VM that had the unit stopped, else "stop" (another VM still wants it down). */
static int unit_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value, char **ret_why)
{
	if (!unit_state_running(value) || streq_ptr(c->applied, "not-running"))
		return 0;
	if (!ctx->bus)
		return -EOPNOTSUPP;
	return ctx->bus->ops->start_unit(ctx->bus->data, c->target, host_job_timeout_ms(ctx), ret_why);
}

const struct host_change_writer host_unit_stopped_writer = {
	.kind = HOST_UNIT_STOPPED,
	.apply = unit_apply,
	.restore = unit_restore,
};

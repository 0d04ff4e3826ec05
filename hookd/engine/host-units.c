/* unit-stopped, the read side (host-freeing.h): a unit's ActiveState through the host bus, and the check that
 * systemd knows the unit before anything is stopped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-freeing.h"
#include "util.h"

bool unit_state_running(const char *state)
{
	/* "deactivating" is on its way down already: whoever stops it did not ask hookd to start it again. */
	return state && (streq(state, "active") || streq(state, "activating") || streq(state, "reloading") ||
			 streq(state, "refreshing"));
}

static int no_bus(char **ret_why)
{
	if (ret_why)
		*ret_why = strdup("hookd cannot reach systemd here");
	return -EOPNOTSUPP;
}

static int unit_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	if (!ctx->bus)
		return -EOPNOTSUPP;
	return ctx->bus->ops->unit_state(ctx->bus->data, c->target, ret_value, NULL);
}

static int unit_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	_cleanup_free_ char *state = NULL, *why = NULL;
	int r;

	if (!ctx->bus)
		return no_bus(ret_why);
	r = ctx->bus->ops->unit_state(ctx->bus->data, c->target, &state, &why);
	if (r == -ENOENT) {
		*ret_why = strdup("systemd has no such unit");
		return r;
	}
	if (r < 0)
		*ret_why = TAKE_PTR(why);
	return r;
}

/* Every VM that lists the unit wants it stopped: the combination is "stop". */
static int unit_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	*ret_value = strdup("stop");
	return *ret_value ? 0 : -ENOMEM;
}

const struct host_change_reader host_unit_stopped_reader = {
	.kind = HOST_UNIT_STOPPED,
	.shared = true,
	.read = unit_read,
	.check = unit_check,
	.combine = unit_combine,
};

/* sleep-inhibited, the read side (host-freeing.h): nothing on the host to read (logind lists inhibitors, but
 * hookd's own are what matters, and hookd's process holds them), only that logind can be reached. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-freeing.h"

static int inhibit_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	*ret_value = strdup("");
	return *ret_value ? 0 : -ENOMEM;
}

static int inhibit_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	if (ctx->bus)
		return 0;
	*ret_why = strdup("hookd cannot reach logind here");
	return -EOPNOTSUPP;
}

static int inhibit_combine(const char *before, char *const *wanted, char **ret_value, char **ret_why)
{
	*ret_value = strdup("block");
	return *ret_value ? 0 : -ENOMEM;
}

const struct host_change_reader host_sleep_inhibited_reader = {
	.kind = HOST_SLEEP_INHIBITED,
	.shared = true, /* every VM holds an inhibitor of its own; sleep is blocked while any is held */
	.read = inhibit_read,
	.check = inhibit_check,
	.combine = inhibit_combine,
};

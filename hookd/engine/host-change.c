/* Host changes' names and lifetime (host-change.h); the read side, so hookctl and the journal reader have
 * them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-change.h"

static const char *const kind_names[_HOST_CHANGE_KIND_MAX] = {
	[HOST_UNIT_STOPPED] = "unit-stopped",
	[HOST_SESSION_ENDED] = "session-ended",
	[HOST_SLEEP_INHIBITED] = "sleep-inhibited",
	[HOST_HOLDERS_GONE] = "holders-gone",
	[HOST_HUGEPAGES] = "hugepages",
	[HOST_ALLOWED_CPUS] = "allowed-cpus",
	[HOST_WORKQUEUE_CPUMASK] = "workqueue-cpumask",
	[HOST_CPU_GOVERNOR] = "cpu-governor",
	[HOST_CPU_EPP] = "cpu-epp",
	[HOST_IRQ_AFFINITY] = "irq-affinity",
};

static const char *const step_names[_HOST_CHANGE_STEP_MAX] = {
	[HOST_CHANGE_PLANNED] = "planned",
	[HOST_CHANGE_APPLYING] = "applying",
	[HOST_CHANGE_APPLIED] = "applied",
	[HOST_CHANGE_RESTORED] = "restored",
};

static int lookup(const char *const *names, int n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *host_change_kind_to_string(enum host_change_kind k)
{
	return k >= 0 && k < _HOST_CHANGE_KIND_MAX ? kind_names[k] : NULL;
}

int host_change_kind_from_string(const char *s)
{
	return lookup(kind_names, _HOST_CHANGE_KIND_MAX, s);
}

const char *host_change_step_to_string(enum host_change_step s)
{
	return s >= 0 && s < _HOST_CHANGE_STEP_MAX ? step_names[s] : NULL;
}

int host_change_step_from_string(const char *s)
{
	return lookup(step_names, _HOST_CHANGE_STEP_MAX, s);
}

void plan_host_change_clear(struct plan_host_change *c)
{
	if (!c)
		return;
	free(c->target);
	free(c->wanted);
	free(c->before);
	free(c->applied);
	*c = (struct plan_host_change){ 0 };
}

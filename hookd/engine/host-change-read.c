/* Host changes, the read side: which reader each kind has (read, check, combine), and the reads every kind
 * shares. hookctl links this; the writers are in host-change-write.c. */
#include <errno.h>
#include <stdlib.h>

#include "host-changes.h"
#include "host-governor.h"
#include "host-cpus.h"
#include "host-freeing.h"
#include "host-irqs.h"
#include "topology.h"

/* Each kind's helper fills its entry as its reader is written; NULL: hookd cannot do that kind yet, and a
 * plan asking for it is refused in the check phase. */
static const struct host_change_reader *const readers[_HOST_CHANGE_KIND_MAX] = {
	[HOST_UNIT_STOPPED] = &host_unit_stopped_reader,
	[HOST_SESSION_ENDED] = &host_session_ended_reader,
	[HOST_SLEEP_INHIBITED] = &host_sleep_inhibited_reader,
	[HOST_HOLDERS_GONE] = &host_holders_gone_reader,
	[HOST_HUGEPAGES] = &hugepages_reader,
	[HOST_CPU_GOVERNOR] = &host_governor_reader,
	[HOST_CPU_EPP] = &host_epp_reader,
	[HOST_ALLOWED_CPUS] = &host_allowed_cpus_reader,
	[HOST_WORKQUEUE_CPUMASK] = &host_workqueue_cpumask_reader,
	[HOST_IRQ_AFFINITY] = &host_irq_affinity_reader,
};

const struct host_change_reader *host_change_reader_for(enum host_change_kind k)
{
	return k >= 0 && k < _HOST_CHANGE_KIND_MAX ? readers[k] : NULL;
}

int host_read_sysfs(const struct host_context *ctx, const char *relpath, char **ret)
{
	const struct topology t = { .sysfs_root = ctx->sysfs_root, .proc_root = ctx->proc_root };

	return topology_read_attr(&t, relpath, ret);
}

int host_read_proc(const struct host_context *ctx, const char *relpath, char **ret)
{
	const struct topology t = { .sysfs_root = ctx->proc_root, .proc_root = ctx->proc_root };

	return topology_read_attr(&t, relpath, ret);
}

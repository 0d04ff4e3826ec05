/* Host changes, the write side: which writer each kind has (apply, restore). hookctl never links this. */
#include "host-changes.h"
#include "host-governor.h"
#include "host-cpus.h"
#include "host-freeing.h"
#include "host-irqs.h"

/* Each kind's helper fills its entry as its writer is written; NULL: the kind cannot be applied (its
 * reader, if any, refuses it in the check phase first). */
static const struct host_change_writer *const writers[_HOST_CHANGE_KIND_MAX] = {
	[HOST_UNIT_STOPPED] = &host_unit_stopped_writer,
	[HOST_SESSION_ENDED] = &host_session_ended_writer,
	[HOST_SLEEP_INHIBITED] = &host_sleep_inhibited_writer,
	[HOST_HOLDERS_GONE] = &host_holders_gone_writer,
	[HOST_HUGEPAGES] = &hugepages_writer,
	[HOST_CPU_GOVERNOR] = &host_governor_writer,
	[HOST_CPU_EPP] = &host_epp_writer,
	[HOST_ALLOWED_CPUS] = &host_allowed_cpus_writer,
	[HOST_WORKQUEUE_CPUMASK] = &host_workqueue_cpumask_writer,
	[HOST_IRQ_AFFINITY] = &host_irq_affinity_writer,
};

const struct host_change_writer *host_change_writer_for(enum host_change_kind k)
{
	return k >= 0 && k < _HOST_CHANGE_KIND_MAX ? writers[k] : NULL;
}

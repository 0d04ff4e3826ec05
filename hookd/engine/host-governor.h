/* cpu-governor and energy-performance-preference: the kinds HOST_CPU_GOVERNOR and HOST_CPU_EPP
 * (host-governor.c, the read side; host-governor-write.c, the write side). Fixture trees in the tests: QEMU
 * under TCG has no cpufreq. */
#pragma once

#include "host-changes.h"

extern const struct host_change_reader host_governor_reader;
extern const struct host_change_reader host_epp_reader;
extern const struct host_change_writer host_governor_writer;
extern const struct host_change_writer host_epp_writer;

/* The planner: one HOST_CPU_EPP change per CPU of vm-cpus, then one HOST_CPU_GOVERNOR per CPU (so the EPP is
 * set under the host's governor and restored after the governor is back). Problems (vm-cpus that cannot be
 * resolved, CPUs not online) go to DIAG. 0 or -ENOMEM. */
int host_plan_cpu_governor(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
			   struct diag *diag);

/* For the writer: SYSFS-relative path of cpufreq attribute ATTR of C's CPU in BUF; and C's value now. */
int cpufreq_relpath(const struct plan_host_change *c, const char *attr, char buf[static 128]);
int cpufreq_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value);

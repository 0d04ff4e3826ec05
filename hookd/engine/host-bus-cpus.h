/* systemd's AllowedCPUs property over sd-bus: the two calls behind host_bus_ops' get_allowed_cpus and
 * set_allowed_cpus on the running system's bus (host-bus.c's table calls these with its connection and
 * deadline). The write side: hookctl never links it. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

/* UNIT's AllowedCPUs as a canonical CPU list ("0-3,6"; "" when unset): GetUnit, then the property on the
 * unit's type interface (Slice, Scope, Service, Socket, Mount, Swap). -ENOENT when systemd has no such unit
 * loaded, -EINVAL for a unit name of a type without AllowedCPUs, -ETIMEDOUT after TIMEOUT_USEC per call,
 * else -errno; *ret_why (optional, caller frees) gets one line naming the unit and systemd's error. */
int host_bus_sd_get_allowed_cpus(sd_bus *bus, uint64_t timeout_usec, const char *unit, char **ret_cpus, char **ret_why);

/* SetUnitProperties(UNIT, runtime=true, [("AllowedCPUs", ay)]): CPUS is a non-empty CPU list (an empty value
 * does not reach a running cgroup's cpuset: -EINVAL). Errors as above. */
int host_bus_sd_set_allowed_cpus(sd_bus *bus, uint64_t timeout_usec, const char *unit, const char *cpus,
				 char **ret_why);

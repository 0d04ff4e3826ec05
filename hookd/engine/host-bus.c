/* The running system's systemd and logind behind struct host_bus (host-bus.h): the engine's write side.
 * STUB: every call refuses with -EOPNOTSUPP until the sd-bus implementation replaces this file (helper
 * `freeing`, issue 12); the host changes that need the bus are refused with its one line meanwhile. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-bus.h"

static int unsupported(char **ret_why)
{
	if (ret_why)
		*ret_why = strdup("hookd was built without its systemd bus client");
	return -EOPNOTSUPP;
}

static int stub_unit_state(void *data, const char *unit, char **ret_state, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_unit_job(void *data, const char *unit, unsigned timeout_ms, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_get_allowed_cpus(void *data, const char *unit, char **ret_cpus, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_set_allowed_cpus(void *data, const char *unit, const char *cpus, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_list_sessions(void *data, const char *seat, char ***ret_ids, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_terminate_session(void *data, const char *id, unsigned timeout_ms, char **ret_why)
{
	return unsupported(ret_why);
}

static int stub_inhibit(void *data, const char *what, const char *who, const char *why, int *ret_fd, char **ret_why)
{
	*ret_fd = -1;
	return unsupported(ret_why);
}

static const struct host_bus_ops stub_ops = {
	.unit_state = stub_unit_state,
	.stop_unit = stub_unit_job,
	.start_unit = stub_unit_job,
	.get_allowed_cpus = stub_get_allowed_cpus,
	.set_allowed_cpus = stub_set_allowed_cpus,
	.list_sessions = stub_list_sessions,
	.terminate_session = stub_terminate_session,
	.inhibit = stub_inhibit,
};

int host_bus_system_open(struct host_bus *ret)
{
	*ret = (struct host_bus){ .ops = &stub_ops, .data = NULL };
	return 0;
}

void host_bus_system_close(struct host_bus *b)
{
	if (b)
		*b = (struct host_bus){ 0 };
}

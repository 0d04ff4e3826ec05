/* libvirt, read-only: hookctl never changes a domain. The connection is opened with virConnectOpenReadOnly
 * and libvirt's own error printing is silenced: callers report one line of their own. */
#pragma once

#include <libvirt/libvirt.h>

/* Open URI read-only. -ECONNREFUSED with *ret_error (caller frees) when libvirt cannot be reached. */
int virt_open(const char *uri, virConnectPtr *ret, char **ret_error);
static inline void virt_closep(virConnectPtr *c)
{
	if (*c)
		virConnectClose(*c);
}
#define _cleanup_virt_ __attribute__((cleanup(virt_closep)))

/* The domain's live XML. -ENOENT when there is no such domain. */
int virt_domain_xml(virConnectPtr conn, const char *name, char **ret);
/* "running", "shut off", "paused", ...; -ENOENT when there is no such domain. */
int virt_domain_state(virConnectPtr conn, const char *name, const char **ret);

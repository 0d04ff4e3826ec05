#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/virterror.h>

#include "util.h"
#include "virt.h"

static void quiet(void *userdata, virErrorPtr err)
{
	/* libvirt prints every error on stderr by default; hookctl reports what matters itself. */
}

static char *last_error(void)
{
	virErrorPtr e = virGetLastError();

	return strdup(e && e->message ? e->message : "unknown libvirt error");
}

int virt_open(const char *uri, virConnectPtr *ret, char **ret_error)
{
	virConnectPtr c;

	virSetErrorFunc(NULL, quiet);
	c = virConnectOpenReadOnly(uri);
	if (!c) {
		*ret_error = last_error();
		return -ECONNREFUSED;
	}
	*ret = c;
	return 0;
}

static int lookup(virConnectPtr conn, const char *name, virDomainPtr *ret)
{
	*ret = virDomainLookupByName(conn, name);
	if (*ret)
		return 0;
	return virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
}

int virt_domain_xml(virConnectPtr conn, const char *name, char **ret)
{
	virDomainPtr dom;
	char *xml;
	int r;

	r = lookup(conn, name, &dom);
	if (r < 0)
		return r;
	xml = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	if (!xml)
		return -EIO;
	*ret = xml;
	return 0;
}

int virt_domain_state(virConnectPtr conn, const char *name, const char **ret)
{
	static const char *const names[] = {
		[VIR_DOMAIN_NOSTATE] = "no state",	 [VIR_DOMAIN_RUNNING] = "running",
		[VIR_DOMAIN_BLOCKED] = "blocked",	 [VIR_DOMAIN_PAUSED] = "paused",
		[VIR_DOMAIN_SHUTDOWN] = "shutting down", [VIR_DOMAIN_SHUTOFF] = "shut off",
		[VIR_DOMAIN_CRASHED] = "crashed",	 [VIR_DOMAIN_PMSUSPENDED] = "suspended",
	};
	virDomainPtr dom;
	int state, reason, r;

	r = lookup(conn, name, &dom);
	if (r < 0)
		return r;
	r = virDomainGetState(dom, &state, &reason, 0);
	virDomainFree(dom);
	if (r < 0)
		return -EIO;
	*ret = state >= 0 && (size_t)state < ELEMENTSOF(names) && names[state] ? names[state] : "unknown";
	return 0;
}

/* Which VM claims which PCI function, resolved with the engine's plan code; devices-from-xml VMs with their
 * domain XML from libvirt (read-only) when it has one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "plan.h"
#include "util.h"
#include "virt.h"

static int add_claim(struct claims *c, const char *address, const char *vm, const char *device)
{
	struct claim *grown = realloc(c->items, (c->n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	c->items = grown;
	snprintf(grown[c->n].address, sizeof(grown[c->n].address), "%s", address);
	grown[c->n].vm = vm;
	grown[c->n].device = strdup(device ? device : "?");
	if (!grown[c->n].device)
		return -ENOMEM;
	c->n++;
	return 0;
}

/* The domain XML of a devices-from-xml VM, from libvirt (read-only). NULL with *ret_why when there is none. */
static char *domain_xml(const struct hookctl *ctx, virConnectPtr *conn, bool *tried, const char *vm, char **ret_why)
{
	_cleanup_free_ char *error = NULL;
	char *xml = NULL;
	int r;

	if (!*tried) {
		*tried = true;
		if (virt_open(ctx->connect_uri, conn, &error) < 0)
			*conn = NULL;
	}
	if (!*conn) {
		if (asprintf(ret_why, "libvirt (%s) cannot be reached", ctx->connect_uri) < 0)
			*ret_why = NULL;
		return NULL;
	}
	r = virt_domain_xml(*conn, vm, &xml);
	if (r < 0 &&
	    asprintf(ret_why, r == -ENOENT ? "libvirt has no domain '%s'" : "libvirt did not give the XML of '%s'",
		     vm) < 0)
		*ret_why = NULL;
	return r < 0 ? NULL : xml;
}

static int claims_add_vm(const struct hookctl *ctx, const struct topology *t, struct claims *c, size_t v,
			 virConnectPtr *conn, bool *tried)
{
	const struct vm_config *vm = c->cfg->vms[v];
	struct vm_config without_xml = *vm;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *xml = NULL;
	int r;

	if (vm->devices_from_xml) {
		char *why = NULL;

		xml = domain_xml(ctx, conn, tried, vm->name, &why);
		c->xml_sources[v] = xml ? strdup("libvirt") : why;
		if (!c->xml_sources[v])
			return -ENOMEM;
		/* Without its XML the VM's hostdevs are unknown, which is no fault of its file: resolve the rest. */
		if (!xml) {
			if (vm->n_devices == 0)
				return 0;
			without_xml.devices_from_xml = false;
			vm = &without_xml;
		}
	}
	r = plan_resolve(t, vm, xml, &p, &c->problems);
	if (r == -ENOMEM)
		return r;
	for (size_t i = 0; p && i < p->n_devices; i++) {
		r = add_claim(c, p->devices[i].address, c->cfg->vms[v]->name, p->devices[i].name);
		if (r < 0)
			return r;
	}
	return 0;
}

int claims_load(const struct hookctl *ctx, const struct topology *t, struct claims *ret)
{
	_cleanup_virt_ virConnectPtr conn = NULL;
	struct claims c = { 0 };
	bool tried = false;
	int r;

	r = hookd_config_load(ctx->conf_dir, &c.cfg, &c.problems);
	if (r == -ENOMEM)
		return r;
	if (r < 0 && c.problems.n == 0)
		diag_add(&c.problems, "%s: %s", ctx->conf_dir, strerror(-r));
	if (c.cfg && c.cfg->n_vms > 0) {
		c.xml_sources = calloc(c.cfg->n_vms, sizeof(*c.xml_sources));
		if (!c.xml_sources) {
			claims_clear(&c);
			return -ENOMEM;
		}
	}
	for (size_t v = 0; c.cfg && v < c.cfg->n_vms; v++) {
		r = claims_add_vm(ctx, t, &c, v, &conn, &tried);
		if (r < 0) {
			claims_clear(&c);
			return r;
		}
	}
	*ret = c;
	return 0;
}

const char *claims_xml_source(const struct claims *c, const char *vm)
{
	for (size_t v = 0; c->cfg && c->xml_sources && v < c->cfg->n_vms; v++)
		if (streq(c->cfg->vms[v]->name, vm))
			return c->xml_sources[v];
	return NULL;
}

void claims_clear(struct claims *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i].device);
	free(c->items);
	for (size_t v = 0; c->xml_sources && v < c->cfg->n_vms; v++)
		free(c->xml_sources[v]);
	free(c->xml_sources);
	hookd_config_free(c->cfg);
	diag_clear(&c->problems);
	*c = (struct claims){ 0 };
}

const struct claim *claims_find(const struct claims *c, const char *address, size_t i)
{
	for (size_t k = 0; k < c->n; k++)
		if (streq(c->items[k].address, address) && i-- == 0)
			return &c->items[k];
	return NULL;
}

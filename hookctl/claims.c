#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "plan.h"
#include "util.h"

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

int claims_load(const struct hookctl *ctx, const struct topology *t, struct claims *ret)
{
	struct claims c = { 0 };
	int r;

	r = hookd_config_load(ctx->conf_dir, &c.cfg, &c.problems);
	if (r == -ENOMEM)
		return r;
	if (r < 0 && c.problems.n == 0)
		diag_add(&c.problems, "%s: %s", ctx->conf_dir, strerror(-r));
	for (size_t v = 0; c.cfg && v < c.cfg->n_vms; v++) {
		const struct vm_config *vm = c.cfg->vms[v];
		_cleanup_(plan_freep) struct plan *p = NULL;

		/* Without the domain XML, devices-from-xml adds nothing here; status and check say more. */
		r = plan_resolve(t, vm, NULL, &p, &c.problems);
		if (r == -ENOMEM) {
			claims_clear(&c);
			return r;
		}
		for (size_t i = 0; p && i < p->n_devices; i++) {
			r = add_claim(&c, p->devices[i].address, vm->name, p->devices[i].name);
			if (r < 0) {
				claims_clear(&c);
				return r;
			}
		}
	}
	*ret = c;
	return 0;
}

void claims_clear(struct claims *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i].device);
	free(c->items);
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

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libkmod.h>

#include "modules.h"
#include "modules-internal.h"
#include "topology.h"
#include "util.h"

int modules_new(struct modules **ret)
{
	struct modules *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->ctx = kmod_new(NULL, NULL);
	if (!m->ctx) {
		free(m);
		return -ENOMEM;
	}
	kmod_set_log_priority(m->ctx, 0);
	r = kmod_load_resources(m->ctx);
	if (r < 0) {
		modules_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void modules_free(struct modules *m)
{
	if (!m)
		return;
	kmod_unref(m->ctx);
	free(m);
}

void module_info_clear(struct module_info *i)
{
	free(i->name);
	strv_free(i->holders);
	memset(i, 0, sizeof(*i));
}

static char *normalized(const char *name)
{
	char *s = strdup(name);

	for (char *p = s; p && *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

int modules_inspect(struct modules *m, const char *name, struct module_info *ret)
{
	__attribute__((cleanup(kmod_module_unrefp))) struct kmod_module *mod = NULL;
	__attribute__((cleanup(kmod_list_freep))) struct kmod_list *holders = NULL;
	struct kmod_list *l;
	size_t n = 0;
	int r, state;

	memset(ret, 0, sizeof(*ret));
	ret->name = normalized(name);
	ret->holders = calloc(1, sizeof(char *));
	if (!ret->name || !ret->holders)
		goto oom;
	r = kmod_module_new_from_name(m->ctx, ret->name, &mod);
	if (r < 0) {
		module_info_clear(ret);
		return r;
	}
	state = kmod_module_get_initstate(mod);
	if (state < 0) {
		ret->state = MODULE_ABSENT;
		return 0;
	}
	ret->state = state == KMOD_MODULE_BUILTIN ? MODULE_BUILTIN
		     : state == KMOD_MODULE_LIVE  ? MODULE_LIVE
						  : MODULE_BUSY;
	if (ret->state == MODULE_BUILTIN)
		return 0;
	ret->refcnt = kmod_module_get_refcnt(mod);
	holders = kmod_module_get_holders(mod);
	kmod_list_foreach(l, holders)
	{
		__attribute__((cleanup(kmod_module_unrefp))) struct kmod_module *h = kmod_module_get_module(l);
		char **grown = realloc(ret->holders, (n + 2) * sizeof(char *));

		if (!grown)
			goto oom;
		ret->holders = grown;
		grown[n] = strdup(kmod_module_get_name(h));
		if (!grown[n])
			goto oom;
		grown[++n] = NULL;
	}
	return 0;
oom:
	module_info_clear(ret);
	return -ENOMEM;
}

static ssize_t index_of(const struct module_info *mods, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(mods[i].name, name))
			return (ssize_t)i;
	return -1;
}

int modules_unload_order(const char *vm, const struct module_info *mods, size_t n, size_t *order, size_t *n_order,
			 struct diag *diag)
{
	_cleanup_free_ bool *placed = calloc(n + 1, sizeof(bool));
	size_t problems = diag->n, live = 0;

	*n_order = 0;
	if (!placed)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t holders = strv_length(mods[i].holders);

		if (mods[i].state == MODULE_ABSENT || mods[i].state == MODULE_BUILTIN) {
			placed[i] = true;
			continue;
		}
		live++;
		if (mods[i].state == MODULE_BUSY)
			diag_add(diag, "VM %s: module %s: it is being loaded or unloaded right now", vm, mods[i].name);
		for (char **h = mods[i].holders; h && *h; h++)
			if (index_of(mods, n, *h) < 0)
				diag_add(diag, "VM %s: module %s: it is held by %s, which is not in unload-modules", vm,
					 mods[i].name, *h);
		if (mods[i].refcnt > (int)holders)
			diag_add(diag, "VM %s: module %s: it is in use (%d reference%s besides its holders%s%s)", vm,
				 mods[i].name, mods[i].refcnt - (int)holders, mods[i].refcnt - holders == 1 ? "" : "s",
				 holders ? ": " : "", holders ? mods[i].holders[0] : "");
	}
	if (diag->n > problems)
		return -EBUSY;

	/* Kahn's algorithm in configuration order: a module goes once every holder of it has gone. */
	while (*n_order < live) {
		bool progress = false;

		for (size_t i = 0; i < n; i++) {
			bool ready = !placed[i];

			for (char **h = mods[i].holders; ready && h && *h; h++) {
				ssize_t j = index_of(mods, n, *h);

				ready = j >= 0 && placed[j];
			}
			if (!ready)
				continue;
			placed[i] = true;
			order[(*n_order)++] = i;
			progress = true;
		}
		if (!progress) {
			diag_add(diag, "VM %s: unload-modules: the modules hold each other in a cycle", vm);
			return -EBUSY;
		}
	}
	return 0;
}

bool modules_is_loaded(struct modules *m, const char *name)
{
	__attribute__((cleanup(kmod_module_unrefp))) struct kmod_module *mod = NULL;
	int state;

	if (kmod_module_new_from_name(m->ctx, name, &mod) < 0)
		return false;
	state = kmod_module_get_initstate(mod);
	return state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN || state == KMOD_MODULE_COMING;
}

/* Module unload and load through libkmod: the engine's write side (modules.c only reads). Never
 * KMOD_REMOVE_FORCE; loads apply the blacklist. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libkmod.h>

#include "modules.h"
#include "modules-internal.h"
#include "util.h"

int modules_unload(struct modules *m, const char *name)
{
	__attribute__((cleanup(kmod_module_unrefp))) struct kmod_module *mod = NULL;
	int r;

	r = kmod_module_new_from_name(m->ctx, name, &mod);
	if (r < 0)
		return r;
	r = kmod_module_remove_module(mod, 0);
	if (r == -EWOULDBLOCK || r == -EAGAIN)
		return -EBUSY;
	if (r == -ENOENT)
		return 0; /* already gone */
	return r;
}

int modules_load(struct modules *m, const char *name)
{
	__attribute__((cleanup(kmod_list_freep))) struct kmod_list *list = NULL;
	__attribute__((cleanup(kmod_module_unrefp))) struct kmod_module *mod = NULL;
	int r;

	r = kmod_module_new_from_lookup(m->ctx, name, &list);
	if (r < 0)
		return r;
	if (!list)
		return -ENOENT;
	mod = kmod_module_get_module(list);
	r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
	if (r > 0)
		return -EPERM;
	return r == -EEXIST ? 0 : r;
}

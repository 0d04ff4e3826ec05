/* What modules.c (inspect, unload order: the read side) and modules-write.c (unload, load) share. */
#pragma once

#include <libkmod.h>

struct modules {
	struct kmod_ctx *ctx;
};

static inline void kmod_module_unrefp(struct kmod_module **mod)
{
	if (*mod)
		kmod_module_unref(*mod);
}

static inline void kmod_list_freep(struct kmod_list **l)
{
	if (*l)
		kmod_module_unref_list(*l);
}

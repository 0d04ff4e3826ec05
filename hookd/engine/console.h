/* The boot GPU's console (release-console = yes): framebuffer vtconsoles and the firmware framebuffer
 * (efi-framebuffer.0 / simple-framebuffer.0) let go of the GPU before it moves, and come back after. */
#pragma once

#include <stdbool.h>

#include "diag.h"
#include "kernel.h"
#include "topology.h"

/* Unbind every vtconsole in VTCONS ("vtcon1") and every firmware framebuffer in FBS ("DRIVER/DEVICE"),
 * stopping at the first failure (the caller restores). K carries out the writes, T reads. */
int console_release(const struct kernel *k, char *const *vtcons, char *const *fbs, unsigned timeout_ms,
		    char **ret_error);
/* Bind them back in reverse, each only when it is not bound already; every failure goes to DIAG, prefixed
 * by PREFIX. Returns the first error. */
int console_restore(const struct topology *t, const struct kernel *k, char *const *vtcons, char *const *fbs,
		    unsigned timeout_ms, const char *prefix, struct diag *diag);
/* True when every vtconsole in VTCONS is bound. */
bool console_bound(const struct topology *t, char *const *vtcons);

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "pci.h"
#include "util.h"

static int vtcon_write(const struct kernel *k, const char *vtcon, const char *value, unsigned timeout_ms)
{
	char rel[96];

	snprintf(rel, sizeof(rel), "class/vtconsole/%s/bind", vtcon);
	return kernel_write(k, rel, value, timeout_ms);
}

/* "efi-framebuffer/efi-framebuffer.0" -> write "efi-framebuffer.0" to drivers/efi-framebuffer/ACTION */
static int fb_write(const struct kernel *k, const char *fb, const char *action, unsigned timeout_ms)
{
	const char *slash = strchr(fb, '/');
	char rel[256];

	if (!slash || strchr(slash + 1, '/'))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "bus/platform/drivers/%.*s/%s", (int)(slash - fb), fb, action);
	return kernel_write(k, rel, slash + 1, timeout_ms);
}

int console_release(const struct kernel *k, char *const *vtcons, char *const *fbs, unsigned timeout_ms,
		    char **ret_error)
{
	int r;

	*ret_error = NULL;
	for (char *const *v = vtcons; v && *v; v++) {
		r = vtcon_write(k, *v, "0", timeout_ms);
		if (r < 0) {
			if (asprintf(ret_error, "cannot unbind the console %s: %s", *v, strerror(-r)) < 0)
				*ret_error = NULL;
			return r;
		}
	}
	for (char *const *f = fbs; f && *f; f++) {
		r = fb_write(k, *f, "unbind", timeout_ms);
		if (r < 0) {
			if (asprintf(ret_error, "cannot unbind the firmware framebuffer %s: %s", *f, strerror(-r)) < 0)
				*ret_error = NULL;
			return r;
		}
	}
	return 0;
}

int console_restore(const struct topology *t, const struct kernel *k, char *const *vtcons, char *const *fbs,
		    unsigned timeout_ms, const char *prefix, struct diag *diag)
{
	int first = 0, r;

	for (size_t i = strv_length(fbs); i-- > 0;) {
		_cleanup_free_ char *bound = NULL;

		if (asprintf(&bound, "%s/bus/platform/drivers/%s", t->sysfs_root, fbs[i]) < 0)
			return -ENOMEM;
		if (access(bound, F_OK) == 0)
			continue; /* bound already */
		r = fb_write(k, fbs[i], "bind", timeout_ms);
		if (r < 0) {
			diag_add(diag, "%scannot bind the firmware framebuffer %s again: %s", prefix, fbs[i],
				 strerror(-r));
			first = first ? first : r;
		}
	}
	for (size_t i = strv_length(vtcons); i-- > 0;) {
		_cleanup_free_ char *bind = NULL;
		char rel[96];

		snprintf(rel, sizeof(rel), "class/vtconsole/%s/bind", vtcons[i]);
		if (topology_read_attr(t, rel, &bind) >= 0 && streq(bind, "1"))
			continue;
		r = vtcon_write(k, vtcons[i], "1", timeout_ms);
		if (r < 0) {
			diag_add(diag, "%scannot bind the console %s again: %s", prefix, vtcons[i], strerror(-r));
			first = first ? first : r;
		}
	}
	return first;
}

bool console_bound(const struct topology *t, char *const *vtcons)
{
	for (char *const *v = vtcons; v && *v; v++) {
		_cleanup_free_ char *bind = NULL;
		char rel[96];

		snprintf(rel, sizeof(rel), "class/vtconsole/%s/bind", *v);
		if (topology_read_attr(t, rel, &bind) < 0 || !streq(bind, "1"))
			return false;
	}
	return true;
}

/* From a VM's freeing keys to host changes (host-freeing.h), the read side: hookctl check plans them as
 * prepare does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "host-freeing.h"
#include "kernel.h"
#include "strv.h"
#include "util.h"

#define SEAT_NAME_MAX 64

/* A planned change that is already there (two GPUs on one seat) is no problem. */
static int add(struct plan *p, enum host_change_kind kind, const char *target, const char *wanted)
{
	int r = plan_add_host_change(p, kind, target, wanted);

	return r == -EEXIST ? 0 : r;
}

int host_inhibit_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag)
{
	return vm->inhibit_sleep ? add(p, HOST_SLEEP_INHIBITED, "sleep", "block") : 0;
}

int host_units_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag)
{
	for (size_t i = 0; i < vm->n_stop_units; i++) {
		int r = add(p, HOST_UNIT_STOPPED, vm->stop_units[i], "stop");

		if (r < 0)
			return r;
	}
	return 0;
}

static bool seat_name_valid(const char *s)
{
	size_t len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return len > 0 && len <= SEAT_NAME_MAX && s[len] == '\0';
}

int drm_card_seat(const char *card_dir, const char *udev_data_dir, char **ret)
{
	_cleanup_free_ char *path = NULL, *dev = NULL, *db = NULL;
	char *line, *save = NULL;

	/* udev's database entry of the card: "E:ID_SEAT=seat1" among its properties. */
	if (udev_data_dir && asprintf(&path, "%s/dev", card_dir) > 0 && read_text_file(path, 64, &dev) >= 0) {
		dev[strcspn(dev, "\n")] = '\0';
		free(path);
		path = NULL;
		if (asprintf(&path, "%s/c%s", udev_data_dir, dev) > 0 && read_text_file(path, 65536, &db) >= 0)
			for (line = strtok_r(db, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				if (startswith(line, "E:ID_SEAT=") && seat_name_valid(line + strlen("E:ID_SEAT="))) {
					*ret = strdup(line + strlen("E:ID_SEAT="));
					return *ret ? 0 : -ENOMEM;
				}
	}
	*ret = strdup("seat0");
	return *ret ? 0 : -ENOMEM;
}

static bool is_card(const char *name, void *userdata)
{
	return startswith(name, "card") && name[4] && strspn(name + 4, "0123456789") == strlen(name + 4);
}

int host_sessions_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag)
{
	/* Only the running system's udev knows the seats of the running system's cards. */
	const char *udev_data = kernel_sysfs_root_is_live(ctx->sysfs_root) ? "/run/udev/data" : NULL;
	bool any_card = false;
	int r;

	if (!vm->end_sessions)
		return 0;
	for (size_t i = 0; i < p->n_devices; i++) {
		_cleanup_strv_free_ char **cards = NULL;
		_cleanup_free_ char *dir = NULL;

		if (asprintf(&dir, "%s/bus/pci/devices/%s/drm", ctx->sysfs_root, p->devices[i].address) < 0)
			return -ENOMEM;
		r = strv_from_dir(dir, NULL, is_card, NULL, &cards);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		for (size_t j = 0; cards[j]; j++) {
			_cleanup_free_ char *seat = NULL, *card_dir = NULL;

			if (asprintf(&card_dir, "%s/%s", dir, cards[j]) < 0)
				return -ENOMEM;
			r = drm_card_seat(card_dir, udev_data, &seat);
			if (r >= 0)
				r = add(p, HOST_SESSION_ENDED, seat, "end");
			if (r < 0)
				return r;
			any_card = true;
		}
	}
	/* A GPU without a DRM card now (nvidia without modeset, one on vfio-pci already): the first seat. */
	return any_card ? 0 : add(p, HOST_SESSION_ENDED, "seat0", "end");
}

int host_holders_gone_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag)
{
	char wanted[16];

	/* Only after freeing: without it, a held device is refused at once, naming who holds it. */
	if (vm->n_stop_units == 0 && !vm->end_sessions)
		return 0;
	snprintf(wanted, sizeof(wanted), "%u", vm->holders_timeout_ms);
	for (size_t i = 0; i < p->n_devices; i++) {
		int r = add(p, HOST_HOLDERS_GONE, p->devices[i].address, wanted);

		if (r < 0)
			return r;
	}
	return 0;
}

bool plan_awaits_holders(const struct plan *p, const char *address)
{
	for (size_t i = 0; i < p->n_host_changes; i++)
		if (p->host_changes[i].kind == HOST_HOLDERS_GONE && streq(p->host_changes[i].target, address))
			return true;
	return false;
}

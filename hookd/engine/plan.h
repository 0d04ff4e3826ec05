/* The plan: which devices (with the drivers they had), which modules and which consoles one VM's prepare
 * moves, in order, and how far each step got. check, apply, rollback, release, status and the dry run all
 * read this one structure; the journal is this structure on disk. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "config.h"
#include "diag.h"
#include "host-change.h"
#include "topology.h"

/* How far one device got. Release acts on every device past PLANNED that is not RESTORED. */
enum device_step {
	DEVICE_PLANNED,	 /* nothing done yet */
	DEVICE_MOVING,	 /* journaled before the first write: anything between host driver and vfio-pci */
	DEVICE_ON_VFIO,	 /* verified on vfio-pci */
	DEVICE_STUCK,	 /* a write did not finish before its deadline */
	DEVICE_RESTORED, /* verified back on its original driver, driver_override cleared */
	_DEVICE_STEP_MAX,
};

enum module_step {
	MODULE_PLANNED,
	MODULE_UNLOADING, /* journaled before the unload */
	MODULE_UNLOADED,
	MODULE_RELOADED,
	_MODULE_STEP_MAX,
};

enum console_step {
	CONSOLE_UNTOUCHED,
	CONSOLE_RELEASING, /* journaled before the first unbind */
	CONSOLE_RESTORED,
	_CONSOLE_STEP_MAX,
};

enum plan_phase {
	PHASE_PREPARING,
	PHASE_PREPARED,
	PHASE_FAILED, /* prepare or release failed; what could be undone has been (the steps say how far) */
	PHASE_RELEASING,
	_PHASE_MAX,
};

struct plan_device {
	char *name; /* config name ("gpu"), "gpu+group" for whole-group members, "hostdev" */
	char address[13];
	char *original_driver;	      /* NULL: it had no driver */
	char *original_module;	      /* the module behind original_driver, NULL when built in */
	char *reset_method;	      /* written on prepare; or NULL */
	char *reset_method_before;    /* reset_method as found before prepare ("flr bus", "" for none),
					* written back on release; NULL: the kernel has no such attribute */
	char *driver_override_before; /* driver_override as found just before prepare set it; NULL: unset */
	int iommu_group;
	bool boot_vga;
	enum device_step step;
};

struct plan_module {
	char *name;
	enum module_step step;
};

struct plan {
	char *vm;
	enum plan_phase phase;
	struct plan_device *devices;
	size_t n_devices;
	struct plan_module *modules; /* unload order; reloaded in reverse */
	size_t n_modules;
	bool release_console;
	char **vtconsoles;   /* framebuffer vtconsoles to unbind ("vtcon1"), NULL-terminated */
	char **firmware_fbs; /* "efi-framebuffer/efi-framebuffer.0", NULL-terminated */
	enum console_step console;
	/* Host changes (host-change.h), applied in this order before the devices move, undone in reverse. */
	struct plan_host_change *host_changes;
	size_t n_host_changes;
	char *error; /* the first failure, one line */
};

struct plan *plan_new(const char *vm);
void plan_free(struct plan *p);
static inline void plan_freep(struct plan **p)
{
	plan_free(*p);
}

/* Resolve the VM's device set (addresses, matches, whole-group, the domain XML's hostdevs) against the
 * topology and record each device's driver now. Every problem is added to DIAG as one line
 * ("VM win10: 0000:0a:00.0 (gpu): reason"); returns -EINVAL when there was any. */
int plan_resolve(const struct topology *t, const struct vm_config *vm, const char *domain_xml, struct plan **ret,
		 struct diag *diag);

/* Human-readable label "0000:0a:00.0 (gpu)" of device D, written into BUF (returned). */
const char *plan_device_label(const struct plan_device *d, char buf[static 96]);

struct plan_device *plan_find_device(const struct plan *p, const char *address);

/* The plan as JSON (the journal's and the dry run's format) and back. */
json_object *plan_to_json(const struct plan *p);
int plan_from_json(json_object *o, struct plan **ret);

const char *device_step_to_string(enum device_step s);
const char *plan_phase_to_string(enum plan_phase s);

/* Configuration: the global hookd.conf and one INI file per VM (CONF_DIR/vms/<vm>.ini), parsed with inih.
 * This module only parses and validates text: it never looks at /sys (that is topology's job).
 * Every parser collects ALL problems of a file as "label:line: message" (or "label: message" for the file as
 * a whole) in the diag and then fails with -EINVAL and no result: a file with any error is not used.
 * The file formats are documented in hookd.vm.ini(5) and hookd.conf(5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* One [device.NAME] section. Exactly one of address / match is set. */
struct vm_device_config {
	char *name;          /* "gpu" for [device.gpu] */
	char *address;       /* canonical "0000:0a:00.0", or NULL when chosen by match */
	bool has_match;
	unsigned vendor;     /* match = VENDOR:DEVICE, hex */
	unsigned device;
	bool match_many;     /* match-many = yes: the match may resolve to several devices */
	bool whole_group;    /* whole-group = yes: also take every other endpoint of its IOMMU group */
	char *reset_method;  /* written to reset_method on prepare, "default" restored on release; or NULL */
	unsigned line;       /* line of the section header, for messages */
};

struct vm_config {
	char *name;               /* the libvirt domain name */
	char *path;               /* the file it came from */
	char **unload_modules;    /* unloaded in this order before detaching, loaded in reverse after release */
	size_t n_unload_modules;
	bool release_console;     /* boot GPU opt-in: unbind vtconsoles and the firmware framebuffer */
	bool devices_from_xml;    /* also take the <hostdev> PCI devices of the domain XML */
	bool whole_group;         /* default of whole-group for every device */
	struct vm_device_config *devices;
	size_t n_devices;
};

struct hookd_config {
	char *conf_dir;
	unsigned operation_timeout_ms;  /* [daemon] operation-timeout: one prepare or release in all */
	unsigned sysfs_timeout_ms;      /* [daemon] sysfs-timeout: one blocking sysfs write (unbind, probe) */
	unsigned hook_timeout_ms;       /* [hook] timeout: how long the hook waits for the daemon */
	struct vm_config **vms;         /* owned; sorted by name */
	size_t n_vms;
};

#define HOOKD_DEFAULT_OPERATION_TIMEOUT_MS 60000u
#define HOOKD_DEFAULT_SYSFS_TIMEOUT_MS 10000u
#define HOOKD_DEFAULT_HOOK_TIMEOUT_MS 90000u
/* A configuration file (per-VM or hookd.conf) larger than this is refused before parsing. */
#define HOOKD_VM_CONFIG_MAX (256u * 1024u)

/* Canonicalize a PCI address: "0a:00.0" or "0000:0a:00.0" (any case) -> "0000:0a:00.0", lower case as in sysfs.
 * 0 or -EINVAL (device > 1f, function > 7, 5-digit domains, anything else). */
int pci_address_canonical(const char *in, char out[static 13]);

/* Parse a per-VM INI from text. label names the text in messages ("vms/win10.ini").
 * On error returns -EINVAL and every problem is in diag as "label:line: message". */
int vm_config_parse_string(const char *vm_name, const char *text, const char *label, struct vm_config **ret,
			   struct diag *diag);
/* Parse CONF_DIR/vms/<vm_name>.ini. The name is validated before any path is built. -ENOENT (and nothing in
 * diag) when the VM has no file, which is not an error for callers; -EINVAL for a bad name or content; another
 * -errno when the file cannot be read. Messages name the file by its full path. */
int vm_config_load(const char *conf_dir, const char *vm_name, struct vm_config **ret, struct diag *diag);
void vm_config_free(struct vm_config *c);

/* Parse CONF_DIR/hookd.conf (optional: defaults when absent) and every CONF_DIR/vms/ *.ini in byte order
 * (hidden files and names not ending in .ini, e.g. backups "x.ini~", are skipped; no vms/ means no VMs).
 * All-or-nothing: any error returns < 0 (-EINVAL for content, -errno for I/O) with every problem in diag, and
 * nothing is returned. */
int hookd_config_load(const char *conf_dir, struct hookd_config **ret, struct diag *diag);
/* Parse hookd.conf from text (tests, the fuzzer). conf_dir and vms stay empty; -EINVAL with diag on errors. */
int hookd_config_parse_global_string(const char *text, const char *label, struct hookd_config **ret,
				     struct diag *diag);
/* Just hookd.conf's timeouts (the hook needs no more). Missing file -> defaults, returns 0. */
int hookd_config_load_global(const char *conf_dir, struct hookd_config **ret, struct diag *diag);
const struct vm_config *hookd_config_find_vm(const struct hookd_config *c, const char *vm_name);
void hookd_config_free(struct hookd_config *c);

static inline void vm_config_freep(struct vm_config **c)
{
	vm_config_free(*c);
}
static inline void hookd_config_freep(struct hookd_config **c)
{
	hookd_config_free(*c);
}

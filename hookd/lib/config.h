/* Configuration: the global hookd.conf and one INI file per VM (CONF_DIR/vms/<vm>.ini), parsed with inih.
 * This module only parses and validates text: it never looks at /sys (that is topology's job).
 * Every parser collects ALL problems of a file as "label:line: message" (or "label: message" for the file as
 * a whole) in the diag and then fails with -EINVAL and no result: a file with any error is not used.
 * The file formats are documented in hookd.vm.ini(5) and hookd.conf(5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "diag.h"

/* What a file was when it was read: a file whose stamp differs has changed (or appeared, or gone) since. */
struct config_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};
/* Stamp PATH now (exists = false when it is missing). 0 or -errno. */
int config_stamp_get(const char *path, struct config_stamp *ret);
bool config_stamp_equal(const struct config_stamp *a, const struct config_stamp *b);

/* One [device.NAME] section. Exactly one of address / match is set. */
struct vm_device_config {
	char *name;    /* "gpu" for [device.gpu] */
	char *address; /* canonical "0000:0a:00.0", or NULL when chosen by match */
	bool has_match;
	unsigned vendor; /* match = VENDOR:DEVICE, hex */
	unsigned device;
	bool match_many;    /* match-many = yes: the match may resolve to several devices */
	bool whole_group;   /* whole-group = yes: also take every other endpoint of its IOMMU group */
	char *reset_method; /* written to reset_method on prepare, "default" restored on release; or NULL */
	unsigned line;	    /* line of the section header, for messages */
};

/* [vm] hugepages and hugepage-size: the pages hookd reserves for the VM (sized by host-hugepages-size.h). */
enum hugepages_mode {
	HUGEPAGES_OFF,	 /* no `hugepages` key: hookd reserves nothing */
	HUGEPAGES_AUTO,	 /* `hugepages = auto`: sized from the domain XML */
	HUGEPAGES_COUNT, /* `hugepages = COUNT`: COUNT pages in all */
};
struct hugepages_request {
	enum hugepages_mode mode;
	uint64_t count;	   /* HUGEPAGES_COUNT: 1 .. HUGEPAGES_COUNT_MAX */
	uint64_t size_kib; /* `hugepage-size`; 0: the XML's, else the host's default size */
};
#define HUGEPAGES_COUNT_MAX (UINT64_C(1) << 32)
/* "auto" or a page count; 0 or -EINVAL. */
int hugepages_value_parse(const char *s, struct hugepages_request *req);
/* A page size: a number with K, M or G (optionally followed by "iB" or "B", any case; all powers of 1024, as
 * page sizes are) or a bare number of KiB: "2M", "1GiB", "2048kB", "2048". 0 or -EINVAL. */
int hugepage_size_parse(const char *s, uint64_t *ret_kib);

/* Every field is copied by vm_config_dup() (config-each.c): a new field must be added there too. */
struct vm_config {
	char *name;		   /* the libvirt domain name */
	char *path;		   /* the file it came from */
	struct config_stamp stamp; /* of that file, taken before it was read */
	char **unload_modules;	   /* unloaded in this order before detaching, loaded in reverse after release */
	size_t n_unload_modules;
	bool release_console;  /* boot GPU opt-in: unbind vtconsoles and the firmware framebuffer */
	bool devices_from_xml; /* also take the <hostdev> PCI devices of the domain XML */
	bool whole_group;      /* default of whole-group for every device */
	char *vm_cpus;	       /* vm-cpus: "auto" or a canonical CPU list (vmcpus.h); NULL when not set */
	/* Freeing the devices, each opt-in (hookd.vm.ini(5)): */
	char **stop_units; /* stop-units: stopped in this order before the devices move, started in reverse
			    * after release; NULL-terminated */
	size_t n_stop_units;
	bool end_sessions;	     /* end-sessions: end the graphical login sessions on the GPU's seat */
	bool inhibit_sleep;	     /* inhibit-sleep: a logind sleep inhibitor while the VM holds its devices */
	bool holders_timeout_set;    /* holders-timeout was given */
	unsigned holders_timeout_ms; /* holders-timeout: wait this long for the devices' holders to go (0: do
				      * not wait); VM_DEFAULT_HOLDERS_TIMEOUT_MS when not given */
	char *cpu_governor;	     /* cpu-governor: the scaling governor for vm-cpus while the VM runs; or NULL */
	char *energy_performance_preference; /* energy-performance-preference, likewise; or NULL */
	bool isolate_cpus;		     /* isolate-cpus: take vm-cpus from the host's slices while the VM runs */
	bool steer_irqs;		     /* steer-irqs: the devices' IRQs onto vm-cpus, the host's off them */
	struct vm_device_config *devices;
	size_t n_devices;
	struct hugepages_request hugepages;
};

/* A VM whose file does not parse (hookd_config_load_each): only that VM is affected. */
struct vm_config_problem {
	char *name;		   /* the VM (file name, control characters shown as '?') */
	struct config_stamp stamp; /* of the broken file */
	struct diag diag;	   /* "path:line: message" */
	bool last_good_kept;	   /* the VM's previous good version is in vms (a reload kept it) */
};

struct hookd_config {
	char *conf_dir;
	unsigned operation_timeout_ms; /* [daemon] operation-timeout: one prepare or release in all */
	unsigned sysfs_timeout_ms;     /* [daemon] sysfs-timeout: one blocking sysfs write (unbind, probe) */
	unsigned hook_timeout_ms;      /* [hook] timeout: how long the hook waits for the daemon */
	struct vm_config **vms;	       /* owned; sorted by name */
	size_t n_vms;
	/* Filled by hookd_config_load_each() only (the all-or-nothing loaders fail instead): */
	struct vm_config_problem *broken; /* owned; VMs whose file is broken */
	size_t n_broken;
	struct diag global_problems; /* hookd.conf's problems: its defaults are in use */
};

#define HOOKD_DEFAULT_OPERATION_TIMEOUT_MS 60000u
#define HOOKD_DEFAULT_SYSFS_TIMEOUT_MS 10000u
#define HOOKD_DEFAULT_HOOK_TIMEOUT_MS 90000u
#define VM_DEFAULT_HOLDERS_TIMEOUT_MS 10000u
#define VM_MAX_HOLDERS_TIMEOUT_MS 600000u
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
/* The daemon's loader: every file on its own. hookd.conf with problems gives the defaults (the problems are in
 * global_problems); a broken VM file disables that VM alone (an entry in broken); an unreadable vms/
 * directory is a global problem. Only -ENOMEM (or -EINVAL for bad arguments) fails. */
int hookd_config_load_each(const char *conf_dir, struct hookd_config **ret);
/* The VM's entry in broken, or NULL. */
const struct vm_config_problem *hookd_config_find_problem(const struct hookd_config *c, const char *vm_name);
/* Is CONF_DIR/vms/<vm_name>.ini what c read (same stamp, or absent both times)? When not, *ret is a copy of c
 * with that one file read again (good: in vms; broken: in broken; gone: in neither) and 1 is returned;
 * otherwise 0 and *ret is NULL. -EINVAL for a name that cannot be a file, -ENOMEM. */
int hookd_config_refresh_vm(const struct hookd_config *c, const char *vm_name, struct hookd_config **ret);
/* For each VM broken in fresh that old holds a good version of, put a copy of that version into fresh
 * (the problem stays, marked last_good_kept). 0 or -ENOMEM. */
int hookd_config_keep_last_good(struct hookd_config *fresh, const struct hookd_config *old);
/* Deep copies. NULL when out of memory. */
struct vm_config *vm_config_dup(const struct vm_config *c);
struct hookd_config *hookd_config_dup(const struct hookd_config *c);

/* Parse hookd.conf from text (tests, the fuzzer). conf_dir and vms stay empty; -EINVAL with diag on errors. */
int hookd_config_parse_global_string(const char *text, const char *label, struct hookd_config **ret, struct diag *diag);
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

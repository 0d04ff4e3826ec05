/* A read-only view of sysfs (and of the few /proc files that say what the host uses), rooted at a
 * directory so tests can aim it at a fixture tree or a guest's real /sys. Nothing here writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "strv.h"

struct topology {
	const char *sysfs_root;  /* "/sys" or a fixture tree; not owned */
	const char *proc_root;   /* "/proc" or a fixture tree; not owned */
};

/* What one PCI function looks like right now. */
struct pci_function {
	char address[13];        /* "0000:0a:00.0" */
	unsigned vendor, device;
	unsigned class;          /* 24 bits: 0x030000 VGA, 0x060400 PCI bridge */
	char *driver;            /* bound driver's name, NULL when unbound */
	char *driver_override;   /* NULL when empty */
	int iommu_group;         /* -1 when the device has none */
	bool boot_vga;
};

#define PCI_CLASS_BRIDGE_PCI 0x0604u
#define PCI_CLASS_DISPLAY_VGA 0x0300u

/* Read one sysfs attribute as a trimmed string. -ENOENT etc. */
int topology_read_attr(const struct topology *t, const char *relpath, char **ret);

bool topology_device_exists(const struct topology *t, const char *address);
/* Fill f for ADDRESS. -ENODEV when the device is not there. */
int topology_function(const struct topology *t, const char *address, struct pci_function *f);
/* The same without reading driver_override: the kernel takes the device lock to show it, so the read
 * blocks for as long as an unbind of that device is stuck. */
int topology_function_unlocked(const struct topology *t, const char *address, struct pci_function *f);
void pci_function_clear(struct pci_function *f);

/* Current driver name of ADDRESS, *ret NULL when unbound. */
int topology_driver(const struct topology *t, const char *address, char **ret);
/* Module backing driver DRIVER (its drivers/X/module link), *ret NULL when built in or unknown. */
int topology_driver_module(const struct topology *t, const char *driver, char **ret);

/* Every PCI function, sorted by address. */
int topology_list_functions(const struct topology *t, char ***ret);
/* Every member of IOMMU group GROUP, sorted. */
int topology_group_members(const struct topology *t, int group, char ***ret);
/* True when the kernel has an IOMMU turned on (/sys/kernel/iommu_groups is not empty). */
bool topology_iommu_enabled(const struct topology *t);

/* Why the host still uses ADDRESS's storage: a one-line reason ("nvme0n1p1 is mounted on /data") or NULL
 * when nothing (a mounted namespace or partition, a swap, a holder such as dm/md/LVM). */
int topology_storage_user(const struct topology *t, const char *address, char **ret_reason);

/* Framebuffer virtual consoles currently bound ("vtcon1"), sorted. */
int topology_bound_fb_vtconsoles(const struct topology *t, char ***ret);
/* Firmware framebuffers bound to their platform driver, as "DRIVER/DEVICE" ("efi-framebuffer/efi-framebuffer.0"). */
int topology_bound_firmware_fbs(const struct topology *t, char ***ret);

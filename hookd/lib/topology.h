/* A read-only view of sysfs (and of the few /proc files that say what the host uses), rooted at a
 * directory so tests can aim it at a fixture tree or a guest's real /sys. Nothing here writes.
 *
 * Which reads may block: the kernel takes a device's lock to show a few attributes (driver_override), and
 * an unbind holds that lock for as long as the driver's remove() runs (forever for nvidia with the GPU
 * open). Every call below reads only attributes that never take it, except the ones whose name ends in
 * _within, which run on a helper thread and give up at their deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "strv.h"

struct topology {
	const char *sysfs_root; /* "/sys" or a fixture tree; not owned */
	const char *proc_root;	/* "/proc" or a fixture tree; not owned */
	/* Where block device nodes are, for the exclusive-open probe; not owned. NULL: "/dev" when sysfs_root
	 * is "/sys", and no probe at all against a fixture tree, so a test never opens this machine's disks. */
	const char *dev_root;
};

/* What one PCI function looks like right now. */
struct pci_function {
	char address[13]; /* "0000:0a:00.0" */
	unsigned vendor, device;
	unsigned class;	 /* 24 bits: 0x030000 VGA, 0x060400 PCI bridge */
	char *driver;	 /* bound driver's name, NULL when unbound */
	int iommu_group; /* -1 when the device has none */
	bool boot_vga;
};

#define PCI_CLASS_BRIDGE_PCI 0x0604u
#define PCI_CLASS_DISPLAY_VGA 0x0300u

/* What a function is to the host, from its 24-bit class code. */
enum pci_role {
	PCI_ROLE_ENDPOINT,    /* may go to a VM */
	PCI_ROLE_BRIDGE,      /* PCI-to-PCI bridge or root port (0x0604, 0x0609) or CardBus bridge (0x0607):
				* routes the group's traffic; VFIO accepts it in a group whatever its driver */
	PCI_ROLE_HOST_BRIDGE, /* any other bridge class: host, ISA/LPC, ... VFIO counts it like an endpoint
				* (in the way when it has a driver), but it is the host's own */
};
enum pci_role pci_class_role(unsigned class);
/* Mass storage (class 0x01xx): NVMe, SATA/AHCI, SAS, RAID, IDE, SCSI. */
bool pci_class_is_storage(unsigned class);

/* Read one sysfs attribute as a trimmed string. -ENOENT etc. */
int topology_read_attr(const struct topology *t, const char *relpath, char **ret);

bool topology_device_exists(const struct topology *t, const char *address);
/* Fill f for ADDRESS from attributes that never take the device lock. -ENODEV when the device is not there. */
int topology_function(const struct topology *t, const char *address, struct pci_function *f);
void pci_function_clear(struct pci_function *f);

/* Read one attribute on a helper thread, giving up after TIMEOUT_MS (-ETIMEDOUT; the thread is left to
 * finish on its own). For attributes whose read takes the device lock. */
int topology_read_attr_within(const struct topology *t, const char *relpath, unsigned timeout_ms, char **ret);
/* ADDRESS's driver_override, *ret NULL when unset. Takes the device lock: blocked while an unbind of the
 * device runs, so bounded by TIMEOUT_MS (-ETIMEDOUT). */
int topology_driver_override_within(const struct topology *t, const char *address, unsigned timeout_ms, char **ret);

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

/* Why the host still uses a disk behind ADDRESS: a one-line reason ("nvme0n1p1 is mounted on /data") or
 * NULL when nothing. Every block device whose sysfs path lies below the function is looked at (a
 * controller of any class: NVMe, AHCI, SAS, RAID, a USB controller with a disk on it), partitions
 * included: mounted, swap, a holder (dm, md, LVM), and, on the real machine, anything else that holds it
 * open exclusively, found by asking the kernel: a read-only O_EXCL open of its node that fails with EBUSY. */
int topology_storage_user(const struct topology *t, const char *address, char **ret_reason);

/* Framebuffer virtual consoles currently bound ("vtcon1"), sorted. */
int topology_bound_fb_vtconsoles(const struct topology *t, char ***ret);
/* Firmware framebuffers bound to their platform driver, as "DRIVER/DEVICE" ("efi-framebuffer/efi-framebuffer.0"). */
int topology_bound_firmware_fbs(const struct topology *t, char ***ret);

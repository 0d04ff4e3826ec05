/* Every write hookd makes to sysfs, each under a deadline: unbind runs the driver's remove(), which can
 * block for as long as the driver likes (nvidia with the GPU open: forever). A write that misses its
 * deadline is abandoned on its own thread and reported as -ETIMEDOUT; the caller marks the device stuck.
 * This module knows nothing about VMs. */
#pragma once

/* Write VALUE to SYSFS_ROOT/RELPATH within TIMEOUT_MS. 0, -errno of the write, or -ETIMEDOUT. */
int sysfs_write(const char *sysfs_root, const char *relpath, const char *value, unsigned timeout_ms);

/* driver_override = DRIVER, or cleared when DRIVER is NULL. */
int pci_set_driver_override(const char *sysfs_root, const char *address, const char *driver, unsigned timeout_ms);
/* Unbind ADDRESS from whatever driver has it; 0 when it had none. */
int pci_unbind(const char *sysfs_root, const char *address, unsigned timeout_ms);
/* Ask the bus to find a driver (drivers_probe). Success says nothing about the result: read the link. */
int pci_probe(const char *sysfs_root, const char *address, unsigned timeout_ms);
int pci_set_reset_method(const char *sysfs_root, const char *address, const char *method, unsigned timeout_ms);

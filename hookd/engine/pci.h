/* Every write hookd makes to a PCI device, each under a deadline: unbind runs the driver's remove(), which can
 * block for as long as the driver likes (nvidia with the GPU open: forever), and a probe runs the driver's
 * probe(). A write that misses its deadline is abandoned on its own thread and reported as -ETIMEDOUT; the
 * caller reads the outcome back from the tree and marks the device stuck. This module knows nothing about
 * VMs. */
#pragma once

#include "kernel.h"

/* Write VALUE to the file SYSFS_ROOT/RELPATH (truncating, as the shell's echo does) within TIMEOUT_MS: the
 * running kernel's write (its /proc writes too, with the proc root as SYSFS_ROOT). 0, -errno of open or write,
 * or -ETIMEDOUT. */
int sysfs_write(const char *sysfs_root, const char *relpath, const char *value, unsigned timeout_ms);

/* driver_override = DRIVER, or cleared when DRIVER is NULL. */
int pci_set_driver_override(const struct kernel *k, const char *address, const char *driver, unsigned timeout_ms);
/* Unbind ADDRESS from whatever driver has it; 0 when it had none. */
int pci_unbind(const struct kernel *k, const char *address, unsigned timeout_ms);
/* Ask the bus to find a driver (drivers_probe). Success says nothing about the result: a probe that fails
 * still returns success, and the driver link appears while the probe is still running. Read it back after
 * a write that returned; after -ETIMEDOUT the probe is still running. */
int pci_probe(const struct kernel *k, const char *address, unsigned timeout_ms);
int pci_set_reset_method(const struct kernel *k, const char *address, const char *method, unsigned timeout_ms);

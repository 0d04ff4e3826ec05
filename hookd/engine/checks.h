/* The facts hookd decides by, one function each, called by the engine and by hookctl alike: is a group
 * viable, is a function the host's own, what does the host lose with it, what state is a device in; and
 * the checks made on a plan before anything is touched. All read-only, and none reads an attribute that
 * takes a device's lock (see topology.h), so none can hang behind a stuck unbind. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "engine.h"
#include "plan.h"
#include "topology.h"

/* Does F keep its IOMMU group from VFIO when the VM does not take F itself? Bridges (pci_class_role()
 * PCI_ROLE_BRIDGE) never do; every other function does while a driver other than vfio-pci or pci-stub has
 * it. Host and ISA bridges count like endpoints here, as the kernel counts them. */
bool group_member_in_the_way(const struct pci_function *f);

/* The members of IOMMU group GROUP that keep it from VFIO: those TAKEN(address, userdata) says no to and
 * that are in the way. *ret is an array of *ret_n functions, sorted by address (free with
 * pci_functions_free). 0 or -errno (-ENOENT: no such group). */
int group_blockers(const struct topology *t, int group, bool (*taken)(const char *address, void *userdata),
		   void *userdata, struct pci_function **ret, size_t *ret_n);
void pci_functions_free(struct pci_function *v, size_t n);

/* Why F is the host's own and never goes to a VM ("it is a PCI bridge or root port (class 0x060400,
 * pcieport): ..."), written to BUF and returned; NULL for a function a VM may take. */
const char *host_own_reason(const struct pci_function *f, char buf[static 128]);

/* What the host loses when ADDRESS leaves it: one line such as "xhci_hcd, and below it network interface
 * enx00e04c680001, USB device 1-1 (USB 10/100/1000 LAN)", or *ret NULL when nothing (no driver, or only
 * vfio-pci / pci-stub). Caller frees. 0 or -errno. */
int host_loses(const struct topology *t, const char *address, char **ret);

/* Two functions of one card: same domain, bus and slot ("0000:0a:00.0" and "0000:0a:00.1"). */
bool same_slot(const char *a, const char *b);

/* A device's state as status shows it: the live driver compared with the original one, from what the
 * journal says (P and D; both NULL when hookd holds nothing for it) and what sysfs shows now (LIVE; NULL
 * when the device is gone). OVERRIDE_SET: driver_override is set, as far as it could be read. The journal's
 * step only says what hookd last did. */
enum device_state {
	DEVICE_STATE_ON_HOST, /* on its original driver (or any host driver, without a journal) */
	DEVICE_STATE_ON_VFIO,
	DEVICE_STATE_MOVING,	/* between the two */
	DEVICE_STATE_STUCK,	/* a kernel step did not finish in time */
	DEVICE_STATE_MISSING,	/* not on the bus */
	DEVICE_STATE_NO_DRIVER, /* it had a driver and, with no operation running, has none now */
	_DEVICE_STATE_MAX,
};
enum device_state device_state_of(const struct plan *p, const struct plan_device *d, const struct pci_function *live,
				  bool override_set);
const char *device_state_to_string(enum device_state s);

/* How long one device's holder scan may take before the checks give up on it (a scan takes milliseconds;
 * reading a process stuck in the kernel never returns). */
#define HOLDER_SCAN_TIMEOUT_MS 5000u

/* Who holds plan device D (holders.h), as the checks say it: one line in DIAG when anything does, "VM
 * win10: 0000:0a:00.0 (gpu) is in use by pid 1234 (Xorg, user alice, display-manager.service) and 2 more
 * (hookctl check win10 lists them)", or for a disk the host uses "VM win10: LABEL: in use by the host:
 * nvme0n1p1 is mounted on /data"; every holder with what it holds in ALL (may be NULL); processes that
 * could not be read in WARNINGS (may be NULL). A scan that does not finish within TIMEOUT_MS is a line in
 * DIAG too. 0 or -ENOMEM. */
int check_holders(const struct topology *t, const struct plan *p, const struct plan_device *d, const char *label,
		  unsigned timeout_ms, struct diag *diag, struct diag *warnings, struct diag *all);

/* A device status asks about, while it is on the host: ADDRESS in IOMMU group IOMMU_GROUP (or -1), and the
 * JSON object its holders are added to (borrowed). */
struct status_holders_query {
	const char *address;
	int iommu_group;
	json_object *device;
};

/* For status: what holds each of the N devices of QUERIES, in one pass over /proc for them all (chunked by
 * HOLDERS_SCAN_MAX_SETS), added to its JSON object as "holders": ["pid 1234 (Xorg, user alice,
 * display-manager.service): /dev/dri/card0", ...] when anything does, or "holders_error": "..." when the
 * scan did not finish within TIMEOUT_MS or could not be made. Nothing is added to a device nothing holds.
 * Never waits longer than TIMEOUT_MS per chunk. */
void status_add_holders(const struct topology *t, const struct status_holders_query *queries, size_t n,
			unsigned timeout_ms);

/* Everything that must hold before anything is touched: IOMMU on, every group viable, no device the host's
 * own (bridges) or in use (check_holders: a process with one of its nodes open or mapped, a disk the host
 * uses), no boot framebuffer console left bound, every reset-method possible on this kernel and device.
 * Adds one line per problem to DIAG, one line per group member the host would lose to WARNINGS (may be
 * NULL), and every holder to HOLDERS (may be NULL). 0 when nothing is wrong, ENGINE_REFUSED (> 0) when DIAG
 * got a line, -errno when the checks could not be made. */
int plan_check_devices(const struct topology *t, const struct plan *p, struct diag *diag, struct diag *warnings,
		       struct diag *holders);

/* A device of P that the domain XML (XML, NUL-terminated) also lists as <hostdev managed='yes'>: libvirt would
 * detach it itself on start and give it back itself on stop, before hookd's release, and the two would fight
 * over it. One line per such device to DIAG. 0; -ENOMEM. An XML that does not parse adds nothing here (the
 * steps that need it say so). */
int plan_check_managed_hostdevs(const struct plan *p, const char *xml, struct diag *diag);

/* Who holds a device: every process that has one of its nodes open or mapped, and every kernel user, found
 * read-only under the topology's sysfs and proc roots. The engine's read side: check, prepare (before any
 * write, and again just before each unbind), status, and the daemon's reconcile all ask here.
 *
 * A device's nodes (device_nodes_of): the character and block nodes of every class device below the PCI
 * function in the subsystems a VM's device is used through (drm cards and render nodes, graphics
 * framebuffers, the sound card's ALSA nodes, the NVMe character, generic and block nodes with their
 * partitions, a vfio-dev cdev), /dev/nvidiaN for a function on nvidia (with nvidiactl, nvidia-modeset and
 * nvidia-uvm when it is the only one), its sysfs resource files, and its IOMMU group's /dev/vfio/N.
 * Nothing read takes a device's lock (not even uevent), so a device stuck in an unbind never holds a scan.
 *
 * The process scan reads each /proc/PID once: the links in fd/ (and, on the live /proc, what each /dev
 * link is, by device number, so a node opened under another path or in a container counts), then maps.
 * Linear in the number of processes, whatever the number of nodes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"
#include "topology.h"

struct holder_scan_ctx {
	const struct topology *topo; /* sysfs_root, proc_root, dev_root; not owned */
	/* CLOCK_MONOTONIC ms (clock.h's monotonic_ms) after which a scan stops with -ETIMEDOUT, keeping what it
	 * found so far; 0: no bound. status passes a short one: it must never hang. */
	uint64_t deadline_ms;
};

enum device_node_type {
	DEVICE_NODE_CHAR,
	DEVICE_NODE_BLOCK,
	DEVICE_NODE_SYSFS, /* a sysfs file (resourceN); PATH is a prefix: "/sys/devices/.../0000:0a:00.0/resource" */
};

struct device_node {
	char *path; /* as a process sees it: "/dev/dri/card0", "/dev/snd/pcmC0D3p", "/dev/vfio/28" */
	enum device_node_type type;
	unsigned major, minor; /* CHAR and BLOCK with a known number; both 0 when unknown */
};

struct device_nodes {
	struct device_node *v; /* sorted by path */
	size_t n;
};

/* Every node of the PCI function ADDRESS (in IOMMU group GROUP, or -1), as above. -ENODEV when the function is
 * not there, -ENOMEM. */
int device_nodes_of(const struct topology *t, const char *address, int group, struct device_nodes *ret);
/* Add one node; keeps the set sorted and unique. 0 or -ENOMEM. */
int device_nodes_add(struct device_nodes *s, const char *path, enum device_node_type type, unsigned major,
		     unsigned minor);
void device_nodes_clear(struct device_nodes *s);

enum holder_kind {
	HOLDER_PROCESS,
	HOLDER_KERNEL, /* a disk mounted, swapped on, below dm/md, or held exclusively (WHAT says which) */
};

struct holder {
	enum holder_kind kind;
	pid_t pid;  /* PROCESS */
	char *comm; /* /proc/PID/comm ("Xorg"); NULL when it could not be read */
	uid_t uid;  /* valid when has_uid */
	bool has_uid;
	char *user;	 /* the uid's name ("alice"); NULL when it has none */
	char *unit;	 /* systemd unit ("display-manager.service", "user@1000.service"); NULL: none */
	char *user_unit; /* inside user@UID.service: "pipewire.service"; NULL: none */
	char *session;	 /* login session ("2" for session-2.scope); NULL: none */
	/* What it holds, one entry each: "/dev/dri/card0", "mapped /dev/nvidia0", "mapped resource0"; for a
	 * kernel user the one reason ("nvme0n1p1 is mounted on /data"). NULL-terminated. */
	char **what;
};

struct holders {
	struct holder *v; /* processes by pid, then kernel users */
	size_t n;
	/* Processes whose fd/ or maps could not be read (another user's, without the privilege): what they
	 * hold is unknown. The first such pid, for a message. */
	size_t n_unreadable;
	pid_t first_unreadable;
};

/* The processes holding any of NODES (not the caller itself, on the live /proc). Adds to *RET (start from
 * (struct holders){ 0 }). 0; -ETIMEDOUT past ctx->deadline_ms (*RET keeps what was found); -errno when
 * the proc root cannot be listed. */
int holders_scan_nodes(const struct holder_scan_ctx *ctx, const struct device_nodes *nodes, struct holders *ret);

/* Everything holding plan device D: the processes with one of its nodes open or mapped (D's own IOMMU group's
 * node included), then the kernel users of the disks behind it (topology_storage_user). Adds to *RET, as
 * holders_scan_nodes. */
int holders_scan(const struct holder_scan_ctx *ctx, const struct plan_device *d, struct holders *ret);

/* holders_scan on a helper thread, waited for at most TIMEOUT_MS: reading a process's maps waits for its
 * memory lock, which a process stuck in the kernel can hold for ever, and status and the check before an
 * unbind must not wait with it. -ETIMEDOUT then (*RET unchanged; the thread finishes on its own and frees
 * what it found). Otherwise as holders_scan. */
int holders_scan_within(const struct holder_scan_ctx *ctx, const struct plan_device *d, unsigned timeout_ms,
			struct holders *ret);

/* Most devices one scan takes at once: a plan's devices (a VM's PCI functions, a handful). */
#define HOLDERS_SCAN_MAX_SETS 32u

/* holders_scan for N plan devices (DEVICES[K]'s holders added to RETS[K], with only what each holds of that
 * device) in ONE pass over the proc root: a check of N devices costs one scan, not N. -E2BIG when N is over
 * HOLDERS_SCAN_MAX_SETS; otherwise as holders_scan (on -ETIMEDOUT every *RET keeps what was found). */
int holders_scan_devices(const struct holder_scan_ctx *ctx, const struct plan_device *devices, size_t n,
			 struct holders *rets);
/* holders_scan_devices bounded as holders_scan_within. */
int holders_scan_devices_within(const struct holder_scan_ctx *ctx, const struct plan_device *devices, size_t n,
				unsigned timeout_ms, struct holders *rets);

void holders_clear(struct holders *h);

/* One holder in words, without what it holds: "pid 1234 (Xorg, user alice, display-manager.service)",
 * "pid 88 (pipewire, user alice, pipewire.service of user@1000.service)", "pid 7 (gnome-shell, user alice,
 * session 2)"; a kernel user is its reason. Caller frees; NULL on -ENOMEM. */
char *holder_name(const struct holder *h);
/* holder_name, then ": " and what it holds, comma-separated ("... : /dev/dri/card0, mapped resource1"). */
char *holder_describe(const struct holder *h);

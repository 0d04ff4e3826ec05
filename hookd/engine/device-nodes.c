/* A PCI function's nodes, read from sysfs (and, for NVIDIA, /proc/driver/nvidia): what a process must have
 * open or mapped to hold the function. Read-only; nothing here takes a device's lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "holders.h"
#include "util.h"

/* Class devices deeper than this below the function are not its own (a USB controller's tree). */
#define NODE_WALK_DEPTH 5
/* The character devices the NVIDIA driver registers with a fixed major (nvidia-uvm's is dynamic). */
#define NVIDIA_MAJOR 195u
#define NVIDIA_CTL_MINOR 255u
#define NVIDIA_MODESET_MINOR 254u

void device_nodes_clear(struct device_nodes *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	*s = (struct device_nodes){ 0 };
}

int device_nodes_add(struct device_nodes *s, const char *path, enum device_node_type type, unsigned major,
		     unsigned minor)
{
	struct device_node *grown;
	size_t at = 0;

	while (at < s->n && strcmp(s->v[at].path, path) < 0)
		at++;
	if (at < s->n && streq(s->v[at].path, path))
		return 0;
	grown = realloc(s->v, (s->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->v = grown;
	memmove(&grown[at + 1], &grown[at], (s->n - at) * sizeof(*grown));
	grown[at] = (struct device_node){ .path = strdup(path), .type = type, .major = major, .minor = minor };
	s->n++;
	return grown[at].path ? 0 : -ENOMEM;
}

/* The subsystems whose nodes hold a passed-through function (a USB controller's input devices do not: the
 * kernel revokes them on unplug). */
static bool subsystem_holds(const char *subsystem)
{
	static const char *const holding[] = {
		"drm", "graphics", "sound", "nvme", "nvme-generic", "block", "vfio-dev"
	};

	for (size_t i = 0; i < ELEMENTSOF(holding); i++)
		if (streq(subsystem, holding[i]))
			return true;
	return false;
}

static char *read_small(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *text = NULL;
	size_t len;

	if (fd < 0 || read_full_fd(fd, 4096, &text, &len) < 0)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

/* The subsystem of the class device at DIRFD: its subsystem link's last component; without a link (a
 * fixture's bare disk), a disk or partition is recognised by its holders/ or partition entries. */
static char *subsystem_of(int dirfd)
{
	char target[256];
	ssize_t n = readlinkat(dirfd, "subsystem", target, sizeof(target) - 1);
	const char *base;

	if (n > 0) {
		target[n] = '\0';
		base = strrchr(target, '/');
		return strdup(base ? base + 1 : target);
	}
	if (faccessat(dirfd, "partition", F_OK, 0) == 0 || faccessat(dirfd, "holders", F_OK, 0) == 0)
		return strdup("block");
	return NULL;
}

/* Where devtmpfs puts the node of class device NAME in SUBSYSTEM, as the subsystems' devnode callbacks name
 * it (drm_devnode "dri/%s", sound_devnode "snd/%s", vfio's "vfio/devices/%s"; the others under their own
 * name). Not read from the uevent attribute: showing it takes the device's lock on some kernels, and a
 * device being removed (a sound card whose unbind waits for its files) holds that lock for ever. */
static const char *devnode_dir(const char *subsystem)
{
	if (streq(subsystem, "drm"))
		return "dri/";
	if (streq(subsystem, "sound"))
		return "snd/";
	if (streq(subsystem, "vfio-dev"))
		return "vfio/devices/";
	return "";
}

/* Add the node of the class device at DIRFD (named NAME in sysfs) when it has one in a holding subsystem. */
static int add_class_device(struct device_nodes *s, int dirfd, const char *name)
{
	_cleanup_free_ char *dev = read_small(dirfd, "dev"), *subsystem = NULL, *path = NULL;
	unsigned major, minor;

	if (!dev || sscanf(dev, "%u:%u", &major, &minor) != 2)
		return 0;
	subsystem = subsystem_of(dirfd);
	if (!subsystem || !subsystem_holds(subsystem))
		return 0;
	if (asprintf(&path, "/dev/%s%s", devnode_dir(subsystem), name) < 0)
		return -ENOMEM;
	return device_nodes_add(s, path, streq(subsystem, "block") ? DEVICE_NODE_BLOCK : DEVICE_NODE_CHAR, major,
				minor);
}

static bool looks_like_pci_address(const char *name)
{
	unsigned a, b, c, d;
	char end;

	return sscanf(name, "%4x:%2x:%2x.%1x%c", &a, &b, &c, &d, &end) == 4;
}

static int walk(const struct topology *t, struct device_nodes *s, int dirfd, const char *name, unsigned depth);

/* With native NVMe multipath the controller shows hidden path devices (nvme0c0n1) and the disk the host
 * uses is the subsystem's head (nvme0n1), a virtual device: walk that instead. */
static int add_nvme_head(const struct topology *t, struct device_nodes *s, const char *name)
{
	unsigned subsys, ctrl, nsid;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;
	char head[64];

	if (sscanf(name, "nvme%uc%un%u", &subsys, &ctrl, &nsid) != 3)
		return 0;
	snprintf(head, sizeof(head), "nvme%un%u", subsys, nsid);
	if (asprintf(&dir, "%s/class/block/%s", t->sysfs_root, head) < 0)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	return walk(t, s, fd, head, NODE_WALK_DEPTH - 1);
}

/* The class devices below DIRFD (not other PCI functions, not through symbolic links), DEPTH levels down. */
static int walk(const struct topology *t, struct device_nodes *s, int dirfd, const char *name, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	r = add_class_device(s, dirfd, name);
	if (r < 0 || depth >= NODE_WALK_DEPTH)
		return r;
	fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int child = -1;
		struct stat st;

		if (de->d_name[0] == '.' || looks_like_pci_address(de->d_name))
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
				continue;
		} else if (de->d_type != DT_DIR)
			continue;
		r = add_nvme_head(t, s, de->d_name);
		if (r < 0)
			return r;
		child = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0)
			continue;
		r = walk(t, s, child, de->d_name, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* How processes see sysfs path REAL (resolved under the sysfs root): "/sys/devices/...". */
static char *as_seen_by_processes(const struct topology *t, const char *real)
{
	_cleanup_free_ char *root = realpath(t->sysfs_root, NULL);
	size_t len;
	char *out;

	if (!root)
		return NULL;
	len = strlen(root);
	if (strncmp(real, root, len) != 0 || (real[len] != '/' && real[len] != '\0'))
		return NULL;
	if (asprintf(&out, "/sys%s", real + len) < 0)
		return NULL;
	return out;
}

/* "Device Minor: 0" of /proc/driver/nvidia/gpus/ADDRESS/information; -1 when unknown. */
static int nvidia_minor(const struct topology *t, const char *address)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	const char *at;
	unsigned minor;

	if (asprintf(&path, "%s/driver/nvidia/gpus/%s/information", t->proc_root, address) < 0 ||
	    read_full_file(path, 65536, &text, NULL) < 0)
		return -1;
	at = strstr(text, "Device Minor:");
	if (!at || sscanf(at + strlen("Device Minor:"), " %u", &minor) != 1 || minor >= NVIDIA_MODESET_MINOR)
		return -1;
	return (int)minor;
}

/* Is ADDRESS the only function bound to nvidia? Then nvidiactl and the others are its own. */
static bool only_nvidia_function(const struct topology *t, const char *address)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_strv_free_ char **names = NULL;

	if (asprintf(&dir, "%s/bus/pci/drivers/nvidia", t->sysfs_root) < 0 ||
	    strv_from_dir(dir, NULL, NULL, NULL, &names) < 0)
		return false;
	for (char **n = names; *n; n++)
		if (looks_like_pci_address(*n) && !streq(*n, address))
			return false;
	return true;
}

static int add_nvidia_nodes(const struct topology *t, struct device_nodes *s, const char *address)
{
	char path[64];
	int minor = nvidia_minor(t, address), r = 0;

	if (minor >= 0) {
		snprintf(path, sizeof(path), "/dev/nvidia%d", minor);
		r = device_nodes_add(s, path, DEVICE_NODE_CHAR, NVIDIA_MAJOR, (unsigned)minor);
	}
	if (r < 0 || !only_nvidia_function(t, address))
		return r;
	r = device_nodes_add(s, "/dev/nvidiactl", DEVICE_NODE_CHAR, NVIDIA_MAJOR, NVIDIA_CTL_MINOR);
	if (r >= 0)
		r = device_nodes_add(s, "/dev/nvidia-modeset", DEVICE_NODE_CHAR, NVIDIA_MAJOR, NVIDIA_MODESET_MINOR);
	if (r >= 0)
		r = device_nodes_add(s, "/dev/nvidia-uvm", DEVICE_NODE_CHAR, 0, 0);
	if (r >= 0)
		r = device_nodes_add(s, "/dev/nvidia-uvm-tools", DEVICE_NODE_CHAR, 0, 0);
	return r;
}

static int add_vfio_group(const struct topology *t, struct device_nodes *s, int group)
{
	_cleanup_free_ char *dev = NULL;
	char rel[64], path[64];
	unsigned major = 0, minor = 0;

	snprintf(rel, sizeof(rel), "class/vfio/%d/dev", group);
	if (topology_read_attr(t, rel, &dev) < 0 || sscanf(dev, "%u:%u", &major, &minor) != 2)
		major = minor = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	return device_nodes_add(s, path, DEVICE_NODE_CHAR, major, minor);
}

int device_nodes_of(const struct topology *t, const char *address, int group, struct device_nodes *ret)
{
	_cleanup_free_ char *link = NULL, *real = NULL, *seen = NULL, *resource = NULL, *driver = NULL;
	_cleanup_close_ int fd = -1;
	struct device_nodes s = { 0 };
	int r;

	*ret = (struct device_nodes){ 0 };
	if (asprintf(&link, "%s/bus/pci/devices/%s", t->sysfs_root, address) < 0)
		return -ENOMEM;
	real = realpath(link, NULL);
	if (!real)
		return errno == ENOENT ? -ENODEV : -errno;
	fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	r = walk(t, &s, fd, address, 0);
	if (r >= 0 && topology_driver(t, address, &driver) >= 0 && streq_ptr(driver, "nvidia"))
		r = add_nvidia_nodes(t, &s, address);
	if (r >= 0 && group >= 0)
		r = add_vfio_group(t, &s, group);
	/* resource0, resource0_wc, resource1, ...: one prefix for all of them. */
	seen = as_seen_by_processes(t, real);
	if (r >= 0 && seen) {
		if (asprintf(&resource, "%s/resource", seen) < 0)
			r = -ENOMEM;
		else
			r = device_nodes_add(&s, resource, DEVICE_NODE_SYSFS, 0, 0);
	}
	if (r < 0) {
		device_nodes_clear(&s);
		return r;
	}
	*ret = s;
	return 0;
}

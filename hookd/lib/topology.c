#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "mountinfo.h"
#include "topology.h"
#include "util.h"

static char *path_join(const char *root, const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", root, rel) < 0)
		return NULL;
	return p;
}

static int read_trimmed(const char *path, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[4096];
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

int topology_read_attr(const struct topology *t, const char *relpath, char **ret)
{
	_cleanup_free_ char *p = path_join(t->sysfs_root, relpath);

	if (!p)
		return -ENOMEM;
	return read_trimmed(p, ret);
}

/* Last path component of the symlink RELPATH under sysfs, or -ENOENT. */
static int read_link_name(const struct topology *t, const char *relpath, char **ret)
{
	_cleanup_free_ char *p = path_join(t->sysfs_root, relpath);
	char target[PATH_MAX];
	ssize_t n;
	const char *slash;

	if (!p)
		return -ENOMEM;
	n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return negative_errno();
	target[n] = '\0';
	slash = strrchr(target, '/');
	*ret = strdup(slash ? slash + 1 : target);
	return *ret ? 0 : -ENOMEM;
}

static bool path_exists(const char *root, const char *rel)
{
	_cleanup_free_ char *p = path_join(root, rel);

	return p && access(p, F_OK) == 0;
}

bool topology_device_exists(const struct topology *t, const char *address)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", address);
	return path_exists(t->sysfs_root, rel);
}

static int read_hex_attr(const struct topology *t, const char *address, const char *attr, unsigned *ret)
{
	_cleanup_free_ char *s = NULL;
	char rel[96], *end;
	unsigned long v;
	int r;

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/%s", address, attr);
	r = topology_read_attr(t, rel, &s);
	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int topology_driver(const struct topology *t, const char *address, char **ret)
{
	char rel[96];
	int r;

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", address);
	r = read_link_name(t, rel, ret);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

int topology_driver_module(const struct topology *t, const char *driver, char **ret)
{
	_cleanup_free_ char *rel = NULL;
	int r;

	if (asprintf(&rel, "bus/pci/drivers/%s/module", driver) < 0)
		return -ENOMEM;
	r = read_link_name(t, rel, ret);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

void pci_function_clear(struct pci_function *f)
{
	free(f->driver);
	memset(f, 0, sizeof(*f));
	f->iommu_group = -1;
}

enum pci_role pci_class_role(unsigned class)
{
	unsigned cls = class >> 8;

	if (cls == 0x0604 || cls == 0x0607 || cls == 0x0609)
		return PCI_ROLE_BRIDGE;
	if ((class >> 16) == 0x06)
		return PCI_ROLE_HOST_BRIDGE;
	return PCI_ROLE_ENDPOINT;
}

bool pci_class_is_storage(unsigned class)
{
	return (class >> 16) == 0x01;
}

int topology_function(const struct topology *t, const char *address, struct pci_function *f)
{
	_cleanup_free_ char *group = NULL, *boot_vga = NULL;
	char rel[96];
	int r;

	memset(f, 0, sizeof(*f));
	f->iommu_group = -1;
	if (strlen(address) != 12 || !topology_device_exists(t, address))
		return -ENODEV;
	memcpy(f->address, address, 13);
	r = read_hex_attr(t, address, "vendor", &f->vendor);
	if (r >= 0)
		r = read_hex_attr(t, address, "device", &f->device);
	if (r >= 0)
		r = read_hex_attr(t, address, "class", &f->class);
	if (r >= 0)
		r = topology_driver(t, address, &f->driver);
	if (r < 0) {
		pci_function_clear(f);
		return r;
	}
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", address);
	if (read_link_name(t, rel, &group) >= 0)
		f->iommu_group = atoi(group);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/boot_vga", address);
	f->boot_vga = topology_read_attr(t, rel, &boot_vga) >= 0 && streq(boot_vga, "1");
	return 0;
}

/* One bounded read, shared by the caller and its thread; whichever lets go last frees it. */
struct read_job {
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
	char *path;
	char *value;
};

static void read_job_unref(struct read_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j->path);
	free(j->value);
	free(j);
}

static void *reader(void *arg)
{
	struct read_job *j = arg;
	char *value = NULL;
	int r = read_trimmed(j->path, &value);

	pthread_mutex_lock(&j->lock);
	j->result = r;
	j->value = value;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	read_job_unref(j);
	return NULL;
}

int topology_read_attr_within(const struct topology *t, const char *relpath, unsigned timeout_ms, char **ret)
{
	struct read_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t cattr;
	pthread_attr_t tattr;
	pthread_t thread;
	struct timespec deadline;
	int r;

	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 2);
	j->path = path_join(t->sysfs_root, relpath);
	if (!j->path) {
		free(j);
		return -ENOMEM;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	pthread_attr_init(&tattr);
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&tattr, 64 * 1024);
	r = -pthread_create(&thread, &tattr, reader, j);
	pthread_attr_destroy(&tattr);
	if (r < 0) {
		atomic_store(&j->refs, 1);
		read_job_unref(j);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &deadline) == ETIMEDOUT)
			break;
	r = j->done ? j->result : -ETIMEDOUT;
	if (r >= 0)
		*ret = TAKE_PTR(j->value);
	pthread_mutex_unlock(&j->lock);
	read_job_unref(j);
	return r;
}

int topology_driver_override_within(const struct topology *t, const char *address, unsigned timeout_ms, char **ret)
{
	_cleanup_free_ char *value = NULL;
	char rel[96];
	int r;

	if (strlen(address) != 12)
		return -ENODEV;
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", address);
	r = topology_read_attr_within(t, rel, timeout_ms, &value);
	if (r < 0)
		return r;
	/* "(null)" is the kernel's way of saying unset. */
	*ret = *value && !streq(value, "(null)") ? TAKE_PTR(value) : NULL;
	return 0;
}

/* Sorted names in sysfs directory REL (no hidden entries), filtered by KEEP when given. */
static int list_dir(const struct topology *t, const char *rel, bool (*keep)(const char *name, void *userdata),
		    char ***ret)
{
	_cleanup_free_ char *p = path_join(t->sysfs_root, rel);

	if (!p)
		return -ENOMEM;
	return strv_from_dir(p, NULL, keep, NULL, ret);
}

int topology_list_functions(const struct topology *t, char ***ret)
{
	return list_dir(t, "bus/pci/devices", NULL, ret);
}

int topology_group_members(const struct topology *t, int group, char ***ret)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
	return list_dir(t, rel, NULL, ret);
}

bool topology_iommu_enabled(const struct topology *t)
{
	_cleanup_strv_free_ char **groups = NULL;

	return list_dir(t, "kernel/iommu_groups", NULL, &groups) >= 0 && groups[0];
}

/* One block device of a controller: its name and "major:minor". */
struct blockdev {
	char *name;
	char *dev;
	char *holder; /* first holder (dm-0, md0), or NULL */
};

struct blockdevs {
	struct blockdev *v;
	size_t n;
};

static void blockdevs_clear(struct blockdevs *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].dev);
		free(b->v[i].holder);
	}
	free(b->v);
}

/* Add one block device (sysfs REL, name NAME) unless it is there already. */
static int blockdev_add_one(const struct topology *t, struct blockdevs *b, const char *rel, const char *name)
{
	_cleanup_free_ char *dev = NULL, *dev_rel = NULL, *holders_rel = NULL;
	_cleanup_strv_free_ char **holders = NULL;
	struct blockdev *grown;

	for (size_t i = 0; i < b->n; i++)
		if (streq(b->v[i].name, name))
			return 0;
	if (asprintf(&dev_rel, "%s/dev", rel) < 0 || asprintf(&holders_rel, "%s/holders", rel) < 0)
		return -ENOMEM;
	if (topology_read_attr(t, dev_rel, &dev) < 0)
		return 0; /* not a block device */
	grown = realloc(b->v, (b->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	b->v = grown;
	grown[b->n] = (struct blockdev){ .name = strdup(name), .dev = TAKE_PTR(dev) };
	if (list_dir(t, holders_rel, NULL, &holders) >= 0 && holders[0])
		grown[b->n].holder = strdup(holders[0]);
	b->n++;
	return grown[b->n - 1].name ? 0 : -ENOMEM;
}

/* Add the block device at sysfs REL (name NAME) and its partitions. */
static int blockdevs_add(const struct topology *t, struct blockdevs *b, const char *rel, const char *name)
{
	_cleanup_strv_free_ char **children = NULL;
	int r;

	r = blockdev_add_one(t, b, rel, name);
	if (r < 0)
		return r;

	/* Partitions are subdirectories named after the disk that carry a "partition" file. */
	r = list_dir(t, rel, NULL, &children);
	if (r < 0)
		return 0;
	for (char **c = children; *c; c++) {
		_cleanup_free_ char *child_rel = NULL, *part_rel = NULL;

		if (!startswith(*c, name) || streq(*c, name))
			continue;
		if (asprintf(&child_rel, "%s/%s", rel, *c) < 0 || asprintf(&part_rel, "%s/partition", child_rel) < 0)
			return -ENOMEM;
		if (!path_exists(t->sysfs_root, part_rel))
			continue;
		r = blockdevs_add(t, b, child_rel, *c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every namespace block device of the NVMe controller(s) of ADDRESS, with partitions. With native NVMe
 * multipath the controller only shows hidden path devices (nvme0c0n1); the usable disk is the subsystem's
 * head (nvme0n1), found under block/. */
static int collect_nvme_blockdevs(const struct topology *t, const char *address, struct blockdevs *b)
{
	_cleanup_strv_free_ char **ctrls = NULL;
	char rel[128];
	int r;

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/nvme", address);
	if (list_dir(t, rel, NULL, &ctrls) < 0)
		return 0; /* not an NVMe controller, or no driver bound */
	for (char **c = ctrls; *c; c++) {
		_cleanup_strv_free_ char **entries = NULL;
		_cleanup_free_ char *ctrl_rel = NULL;

		if (asprintf(&ctrl_rel, "%s/%s", rel, *c) < 0)
			return -ENOMEM;
		if (list_dir(t, ctrl_rel, NULL, &entries) < 0)
			continue;
		for (char **e = entries; *e; e++) {
			_cleanup_free_ char *ns_rel = NULL;
			unsigned subsys, ctrl, nsid;
			char head[64];

			if (sscanf(*e, "nvme%uc%un%u", &subsys, &ctrl, &nsid) == 3) {
				snprintf(head, sizeof(head), "nvme%un%u", subsys, nsid);
				if (asprintf(&ns_rel, "block/%s", head) < 0)
					return -ENOMEM;
				r = blockdevs_add(t, b, ns_rel, head);
			} else if (startswith(*e, *c) && (*e)[strlen(*c)] == 'n') {
				if (asprintf(&ns_rel, "%s/%s", ctrl_rel, *e) < 0)
					return -ENOMEM;
				r = blockdevs_add(t, b, ns_rel, *e);
			} else
				continue;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static char *proc_path(const struct topology *t, const char *rel)
{
	return path_join(t->proc_root, rel);
}

/* A mount of one of b's block devices, by device number or by source path. */
static int find_mount(const struct topology *t, const struct blockdevs *b, char **ret_reason)
{
	_cleanup_free_ char *path = proc_path(t, "self/mountinfo");
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : negative_errno();
	while (getline(&line, &cap, f) > 0) {
		struct mountinfo_entry m;
		char devno[32];
		int r;

		r = mountinfo_parse_line(line, &m);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue;
		snprintf(devno, sizeof(devno), "%u:%u", m.major, m.minor);
		for (size_t i = 0; i < b->n; i++) {
			if (streq(devno, b->v[i].dev) ||
			    (m.source[0] == '/' && streq(basename_of(m.source), b->v[i].name))) {
				r = asprintf(ret_reason, "%s is mounted on %s", b->v[i].name, m.mount_point) < 0
					    ? -ENOMEM
					    : 1;
				mountinfo_entry_clear(&m);
				return r;
			}
		}
		mountinfo_entry_clear(&m);
	}
	return 0;
}

static int find_swap(const struct topology *t, const struct blockdevs *b, char **ret_reason)
{
	_cleanup_free_ char *path = proc_path(t, "swaps");
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : negative_errno();
	while (getline(&line, &cap, f) > 0) {
		char file[1024];

		if (sscanf(line, "%1023s", file) != 1 || file[0] != '/')
			continue; /* the header line */
		for (size_t i = 0; i < b->n; i++)
			if (streq(basename_of(file), b->v[i].name)) {
				if (asprintf(ret_reason, "%s is used as swap", b->v[i].name) < 0)
					return -ENOMEM;
				return 1;
			}
	}
	return 0;
}

/* Every block device (partitions included) whose sysfs path lies below ADDRESS's, from class/block: the
 * disks of any controller, however many layers (ata, scsi, usb) lie between. A hidden NVMe multipath
 * device (nvme0c0n1) stands for its subsystem's head (nvme0n1), which is what the host uses. */
static int collect_blockdevs_below(const struct topology *t, const char *address, struct blockdevs *b)
{
	_cleanup_free_ char *dev_path = NULL, *resolved_dev = NULL;
	_cleanup_strv_free_ char **names = NULL;
	char rel[64];
	size_t len;

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", address);
	dev_path = path_join(t->sysfs_root, rel);
	if (!dev_path)
		return -ENOMEM;
	resolved_dev = realpath(dev_path, NULL);
	if (!resolved_dev || list_dir(t, "class/block", NULL, &names) < 0)
		return 0;
	len = strlen(resolved_dev);
	for (char **n = names; *n; n++) {
		_cleanup_free_ char *link = NULL, *resolved = NULL, *block_rel = NULL;
		unsigned subsys, ctrl, nsid;
		int r;

		if (asprintf(&block_rel, "class/block/%s", *n) < 0 || !(link = path_join(t->sysfs_root, block_rel)))
			return -ENOMEM;
		resolved = realpath(link, NULL);
		if (!resolved || strncmp(resolved, resolved_dev, len) != 0 || resolved[len] != '/')
			continue;
		if (sscanf(*n, "nvme%uc%un%u", &subsys, &ctrl, &nsid) == 3) {
			char head[64], head_rel[96];

			snprintf(head, sizeof(head), "nvme%un%u", subsys, nsid);
			snprintf(head_rel, sizeof(head_rel), "class/block/%s", head);
			r = blockdev_add_one(t, b, head_rel, head);
		} else {
			r = blockdev_add_one(t, b, block_rel, *n);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *probe_dev_root(const struct topology *t)
{
	if (t->dev_root)
		return t->dev_root;
	return streq(t->sysfs_root, "/sys") ? "/dev" : NULL;
}

/* Ask the kernel whether anything holds BD exclusively (a mount, swap, dm/md/LVM, a zpool, a program with
 * O_EXCL): a read-only O_EXCL open fails with EBUSY then. Only on a node that is the block device sysfs
 * names (same major:minor), never on anything else. 1 when held, 0 when not or when it cannot be asked. */
static int held_exclusively(const struct topology *t, const struct blockdev *bd)
{
	const char *root = probe_dev_root(t);
	_cleanup_free_ char *node = NULL;
	unsigned major_nr, minor_nr;
	struct stat st;
	int fd;

	if (!root || sscanf(bd->dev, "%u:%u", &major_nr, &minor_nr) != 2)
		return 0;
	node = path_join(root, bd->name);
	if (!node)
		return -ENOMEM;
	if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != makedev(major_nr, minor_nr))
		return 0;
	fd = open(node, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == EBUSY ? 1 : 0;
	close(fd);
	return 0;
}

int topology_storage_user(const struct topology *t, const char *address, char **ret_reason)
{
	struct blockdevs b = { 0 };
	int r;

	*ret_reason = NULL;
	r = collect_nvme_blockdevs(t, address, &b);
	if (r >= 0)
		r = collect_blockdevs_below(t, address, &b);
	for (size_t i = 0; r >= 0 && i < b.n; i++)
		if (b.v[i].holder) {
			r = asprintf(ret_reason, "%s is held by %s (device-mapper, md or LVM)", b.v[i].name,
				     b.v[i].holder) < 0
				    ? -ENOMEM
				    : 1;
			break;
		}
	if (r == 0 && b.n > 0)
		r = find_mount(t, &b, ret_reason);
	if (r == 0 && b.n > 0)
		r = find_swap(t, &b, ret_reason);
	for (size_t i = 0; r == 0 && i < b.n; i++) {
		r = held_exclusively(t, &b.v[i]);
		if (r > 0 && asprintf(ret_reason,
				      "%s is held open exclusively (the kernel refuses an exclusive open: "
				      "a mount, swap, RAID/LVM member or a program such as a VM or a backup uses it)",
				      b.v[i].name) < 0)
			r = -ENOMEM;
	}
	blockdevs_clear(&b);
	return r < 0 ? r : 0;
}

static bool is_vtcon(const char *name, void *userdata)
{
	return startswith(name, "vtcon");
}

int topology_bound_fb_vtconsoles(const struct topology *t, char ***ret)
{
	_cleanup_strv_free_ char **all = NULL, **out = NULL;
	size_t n = 0;
	int r;

	out = calloc(1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	r = list_dir(t, "class/vtconsole", is_vtcon, &all);
	if (r < 0 && r != -ENOENT)
		return r;
	for (char **c = all; c && *c; c++) {
		_cleanup_free_ char *name = NULL, *bind = NULL, *name_rel = NULL, *bind_rel = NULL;

		if (asprintf(&name_rel, "class/vtconsole/%s/name", *c) < 0 ||
		    asprintf(&bind_rel, "class/vtconsole/%s/bind", *c) < 0)
			return -ENOMEM;
		if (topology_read_attr(t, name_rel, &name) < 0 || topology_read_attr(t, bind_rel, &bind) < 0)
			continue;
		if (strstr(name, "frame buffer device") && streq(bind, "1")) {
			r = strv_push(&out, &n, *c);
			if (r < 0)
				return r;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int topology_bound_firmware_fbs(const struct topology *t, char ***ret)
{
	static const char *const drivers[] = { "efi-framebuffer", "simple-framebuffer" };
	_cleanup_strv_free_ char **out = calloc(1, sizeof(char *));
	size_t n = 0;
	int r;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++) {
		_cleanup_strv_free_ char **entries = NULL;
		char rel[96];

		snprintf(rel, sizeof(rel), "bus/platform/drivers/%s", drivers[i]);
		if (list_dir(t, rel, NULL, &entries) < 0)
			continue;
		for (char **e = entries; *e; e++) {
			char item[192];

			/* Bound devices appear as links named after the device: "efi-framebuffer.0". */
			if (!startswith(*e, drivers[i]) || (*e)[strlen(drivers[i])] != '.')
				continue;
			snprintf(item, sizeof(item), "%s/%s", drivers[i], *e);
			r = strv_push(&out, &n, item);
			if (r < 0)
				return r;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

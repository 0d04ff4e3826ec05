/* The holder scan (hookd/engine/holders.c, device-nodes.c) on fixture sysfs and /proc trees: a device's
 * nodes, the processes that hold them open or mapped, named by command, user, unit and session, the kernel
 * users of a disk, and the scan's bound. Fixture trees only: never the host's /proc or /sys. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "clock.h"
#include "engine-fixture.h"
#include "holders.h"
#include "proc-fixture.h"
#include "util.h"

/* A uid no test machine names, so the scan reports the number. */
#define NO_SUCH_UID 3999999u

static struct fixture f;
static struct topology t;

/* The GPU of engine-fixture.h with its DRM, framebuffer and NVIDIA nodes, its audio function's ALSA card, and
 * a desktop's processes: Xorg and a greeter, a sound server, a persistence daemon, a BAR mapper, and
 * unrelated processes. */
static void make_desktop(void)
{
	fx_machine(&f);
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	fx_class_node(&f, GPU, "drm/card0", "drm", 226, 0, "dri/card0");
	fx_class_node(&f, GPU, "drm/renderD128", "drm", 226, 128, "dri/renderD128");
	fx_write(&f, "sys", "bus/pci/devices/" GPU "/drm/card0/card0-HDMI-A-1/status", "connected");
	fx_class_node(&f, GPU, "graphics/fb0", "graphics", 29, 0, "fb0");
	fx_write(&f, "proc", "driver/nvidia/gpus/" GPU "/information", "Model: \t\t TU104\nDevice Minor: \t 0\n");
	fx_link(&f, "bus/pci/drivers/nvidia/" GPU, "../../devices/" GPU);
	fx_class_node(&f, GPU_AUDIO, "sound/card1/controlC1", "sound", 116, 10, "snd/controlC1");
	fx_class_node(&f, GPU_AUDIO, "sound/card1/pcmC1D3p", "sound", 116, 11, "snd/pcmC1D3p");
	fx_class_node(&f, GPU_AUDIO, "sound/card1/hwC1D0", "sound", 116, 12, "snd/hwC1D0");
	/* A jack's input device below the audio function is not one of its holding nodes. */
	fx_class_node(&f, GPU_AUDIO, "sound/card1/input12/event12", "input", 13, 76, "input/event12");
	/* The boot GPU's node, which the desktop holds too, is not the GPU's. */
	fx_class_node(&f, IGPU, "drm/card1", "drm", 226, 1, "dri/card1");

	fx_process(&f, 1234, "Xorg", 0, "/system.slice/display-manager.service");
	fx_process_fd(&f, 1234, 0, "/dev/null");
	fx_process_fd(&f, 1234, 3, "socket:[4711]");
	fx_process_fd(&f, 1234, 11, "/dev/dri/card0");
	fx_process_fd(&f, 1234, 12, "/dev/dri/card1");
	fx_process_map(&f, 1234, "/dev/dri/card0");
	fx_process(&f, 1300, "gnome-shell", NO_SUCH_UID, "/user.slice/user-1000.slice/session-2.scope");
	fx_process_fd(&f, 1300, 20, "/dev/dri/renderD128");
	fx_process(&f, 1400, "pipewire", 0, "/user.slice/user-0.slice/user@0.service/session.slice/pipewire.service");
	fx_process_fd(&f, 1400, 30, "/dev/snd/pcmC1D3p");
	fx_process_fd(&f, 1400, 31, "/dev/snd/controlC1");
	fx_process_fd(&f, 1400, 32, "/dev/input/event12");
	fx_process(&f, 900, "nvidia-persiste", 0, "/system.slice/nvidia-persistenced.service");
	fx_process_fd(&f, 900, 4, "/dev/nvidiactl");
	fx_process_fd(&f, 900, 5, "/dev/nvidia0");
	fx_process(&f, 1500, "bar-reader", 0, "/system.slice/ssh.service");
	fx_process_map(&f, 1500, "/sys/bus/pci/devices/" GPU "/resource1");
	fx_process_map(&f, 1500, "/sys/bus/pci/devices/" GPU_AUDIO "/resource0");
	/* Unrelated: a shell with a terminal and files, a kernel thread, a near-miss path. */
	fx_process(&f, 1, "systemd", 0, "/init.scope");
	fx_process_fd(&f, 1, 0, "/dev/null");
	fx_process_fd(&f, 1, 7, "/run/systemd/private");
	fx_kernel_thread(&f, 2, "kthreadd");
	fx_process(&f, 1600, "bash", 0, "/user.slice/user-0.slice/session-3.scope");
	fx_process_fd(&f, 1600, 0, "/dev/pts/0");
	fx_process_fd(&f, 1600, 5, "/dev/dri/card00");
	fx_process_fd(&f, 1600, 6, "/home/alice/dev/dri/card0");
}

static struct plan_device plan_device_of(const char *address, int group)
{
	struct plan_device d = { .iommu_group = group };

	snprintf(d.address, sizeof(d.address), "%s", address);
	return d;
}

static char *names_of(const struct holders *h)
{
	char *s = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&s, &len);

	CHECK(out);
	for (size_t i = 0; i < h->n; i++) {
		_cleanup_free_ char *d = holder_describe(&h->v[i]);

		CHECK(d);
		fprintf(out, "%s\n", d);
	}
	CHECK(fclose(out) == 0);
	return s;
}

static void test_nodes_of_gpu(void)
{
	struct device_nodes n;
	const char *want[] = { "/dev/dri/card0",  "/dev/dri/renderD128",
			       "/dev/fb0",	  "/dev/nvidia-modeset",
			       "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
			       "/dev/nvidia0",	  "/dev/nvidiactl",
			       "/dev/vfio/28",	  "/sys/bus/pci/devices/" GPU "/resource" };

	make_desktop();
	CHECK_INT(device_nodes_of(&t, GPU, 28, &n), 0);
	CHECK_INT(n.n, ELEMENTSOF(want));
	for (size_t i = 0; i < n.n; i++)
		CHECK_STR(n.v[i].path, want[i]);
	CHECK_INT(n.v[0].type, DEVICE_NODE_CHAR);
	CHECK_INT(n.v[0].major, 226);
	CHECK_INT(n.v[1].minor, 128);
	CHECK_INT(n.v[9].type, DEVICE_NODE_SYSFS);
	device_nodes_clear(&n);

	/* A second function on nvidia: nvidiactl and the others are no longer this GPU's alone. */
	fx_link(&f, "bus/pci/drivers/nvidia/0000:0b:00.0", "../../devices/0000:0b:00.0");
	CHECK_INT(device_nodes_of(&t, GPU, 28, &n), 0);
	CHECK_INT(n.n, 6);
	CHECK_STR(n.v[3].path, "/dev/nvidia0");
	device_nodes_clear(&n);

	CHECK_INT(device_nodes_of(&t, "0000:63:00.0", -1, &n), -ENODEV);
	fx_clear(&f);
}

static void test_nodes_of_audio_and_nvme(void)
{
	struct device_nodes n;

	make_desktop();
	CHECK_INT(device_nodes_of(&t, GPU_AUDIO, 28, &n), 0);
	CHECK_INT(n.n, 5);
	CHECK_STR(n.v[0].path, "/dev/snd/controlC1");
	CHECK_STR(n.v[1].path, "/dev/snd/hwC1D0");
	CHECK_STR(n.v[2].path, "/dev/snd/pcmC1D3p");
	CHECK_STR(n.v[3].path, "/dev/vfio/28");
	device_nodes_clear(&n);

	/* The NVMe controller's character node and its disk with a partition (bare fixture disks without
	 * uevent or subsystem: named after their directory). */
	fx_class_node(&f, NVME_A, "nvme/nvme0", "nvme", 240, 0, "nvme0");
	CHECK_INT(device_nodes_of(&t, NVME_A, 14, &n), 0);
	CHECK_INT(n.n, 5);
	CHECK_STR(n.v[0].path, "/dev/nvme0");
	CHECK_INT(n.v[0].type, DEVICE_NODE_CHAR);
	CHECK_STR(n.v[1].path, "/dev/nvme0n1");
	CHECK_INT(n.v[1].type, DEVICE_NODE_BLOCK);
	CHECK_INT(n.v[1].major, 259);
	CHECK_STR(n.v[2].path, "/dev/nvme0n1p1");
	CHECK_INT(n.v[2].minor, 1);
	CHECK_STR(n.v[3].path, "/dev/vfio/14");
	device_nodes_clear(&n);
	fx_clear(&f);
}

static void test_nodes_of_nvme_multipath(void)
{
	struct device_nodes n;

	fx_init(&f);
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	fx_device(&f, NVME_B, 0x144d, 0xa808, 0x010802, "nvme", 15);
	fx_class_node(&f, NVME_B, "nvme/nvme1", "nvme", 240, 1, "nvme1");
	/* The hidden path device below the controller; the head is a virtual device under class/block. */
	fx_write(&f, "sys", "bus/pci/devices/" NVME_B "/nvme/nvme1/nvme1c1n1/hidden", "1");
	fx_write(&f, "sys", "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/dev", "259:5");
	fx_write(&f, "sys", "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/nvme1n1p2/dev", "259:6");
	fx_write(&f, "sys", "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/nvme1n1p2/partition", "2");
	fx_link(&f, "class/block/nvme1n1", "../../devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1");
	fx_dir(&f, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/holders");
	CHECK_INT(device_nodes_of(&t, NVME_B, -1, &n), 0);
	CHECK_INT(n.n, 4);
	CHECK_STR(n.v[0].path, "/dev/nvme1");
	CHECK_STR(n.v[1].path, "/dev/nvme1n1");
	CHECK_STR(n.v[2].path, "/dev/nvme1n1p2");
	CHECK_INT(n.v[2].type, DEVICE_NODE_BLOCK);
	device_nodes_clear(&n);
	fx_clear(&f);
}

static void test_scan_names_every_holder(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device gpu, audio;
	_cleanup_free_ char *names = NULL, *audio_names = NULL;

	make_desktop();
	gpu = plan_device_of(GPU, 28);
	CHECK_INT(holders_scan(&ctx, &gpu, &h), 0);
	names = names_of(&h);
	CHECK_STR(names, "pid 900 (nvidia-persiste, user root, nvidia-persistenced.service): /dev/nvidia0, "
			 "/dev/nvidiactl\n"
			 "pid 1234 (Xorg, user root, display-manager.service): /dev/dri/card0, mapped /dev/dri/card0\n"
			 "pid 1300 (gnome-shell, uid 3999999, session 2): /dev/dri/renderD128\n"
			 "pid 1500 (bar-reader, user root, ssh.service): mapped resource1\n");
	CHECK_INT(h.n_unreadable, 0);
	/* The short name, as prepare's refusal shows it. */
	{
		_cleanup_free_ char *name = holder_name(&h.v[1]);

		CHECK_STR(name, "pid 1234 (Xorg, user root, display-manager.service)");
	}
	holders_clear(&h);

	audio = plan_device_of(GPU_AUDIO, 28);
	CHECK_INT(holders_scan(&ctx, &audio, &h), 0);
	audio_names = names_of(&h);
	CHECK_STR(audio_names, "pid 1400 (pipewire, user root, pipewire.service of user@0.service): "
			       "/dev/snd/controlC1, /dev/snd/pcmC1D3p\n"
			       "pid 1500 (bar-reader, user root, ssh.service): mapped resource0\n");
	holders_clear(&h);
	fx_clear(&f);
}

static void test_scan_nothing_holds(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device d;

	make_desktop();
	d = plan_device_of(GPU_USB, 28);
	CHECK_INT(holders_scan(&ctx, &d, &h), 0);
	CHECK_INT(h.n, 0);
	/* A device that is not there is held by nobody. */
	d = plan_device_of("0000:63:00.0", -1);
	CHECK_INT(holders_scan(&ctx, &d, &h), 0);
	CHECK_INT(h.n, 0);
	fx_clear(&f);
}

static void test_scan_vfio_group(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct device_nodes n = { 0 };
	_cleanup_free_ char *names = NULL;

	make_desktop();
	fx_process(&f, 4000, "qemu-system-x86", 64055, "/machine.slice/machine-qemu\\x2d1\\x2dnas.scope/libvirt");
	fx_process_fd(&f, 4000, 40, "/dev/vfio/vfio");
	fx_process_fd(&f, 4000, 41, "/dev/vfio/14");
	CHECK_INT(device_nodes_add(&n, "/dev/vfio/14", DEVICE_NODE_CHAR, 0, 0), 0);
	CHECK_INT(holders_scan_nodes(&ctx, &n, &h), 0);
	CHECK_INT(h.n, 1);
	CHECK_INT(h.v[0].pid, 4000);
	names = names_of(&h);
	CHECK(strstr(names, "machine-qemu\\x2d1\\x2dnas.scope): /dev/vfio/14\n"));
	holders_clear(&h);
	device_nodes_clear(&n);
	fx_clear(&f);
}

static void test_scan_kernel_users(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device d;
	_cleanup_free_ char *names = NULL;

	make_desktop();
	fx_link(&f, "class/block/nvme0n1", "../../bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1");
	fx_link(&f, "class/block/nvme0n1p1", "../../bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/nvme0n1p1");
	fx_write(&f, "proc", "self/mountinfo", "30 1 259:1 / /data rw - ext4 /dev/nvme0n1p1 rw");
	fx_process(&f, 5000, "fio", 0, "/user.slice/user-0.slice/session-3.scope");
	fx_process_fd(&f, 5000, 3, "/dev/nvme0n1");
	d = plan_device_of(NVME_A, 14);
	CHECK_INT(holders_scan(&ctx, &d, &h), 0);
	names = names_of(&h);
	CHECK_STR(names, "pid 5000 (fio, user root, session 3): /dev/nvme0n1\n"
			 "nvme0n1p1 is mounted on /data\n");
	CHECK_INT(h.v[1].kind, HOLDER_KERNEL);
	holders_clear(&h);
	fx_clear(&f);
}

static void test_scan_unreadable_and_vanished(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device d;
	char path[256];

	make_desktop();
	/* A process whose fd/ cannot be listed: counted, never taken for "holds nothing". */
	fx_write(&f, "proc", "7000/fd", "not a directory");
	snprintf(path, sizeof(path), "%s/7000/exe", f.proc);
	CHECK(symlink("/usr/bin/true", path) == 0);
	/* A pid directory that vanished between the listing and the read. */
	fx_write(&f, "proc", "7001", "gone");
	snprintf(path, sizeof(path), "%s/7002", f.proc);
	fx_mkdir_p(path);
	d = plan_device_of(GPU_USB, 28);
	CHECK_INT(holders_scan(&ctx, &d, &h), 0);
	CHECK_INT(h.n, 0);
	CHECK_INT(h.n_unreadable, 1);
	CHECK_INT(h.first_unreadable, 7000);
	holders_clear(&h);
	fx_clear(&f);
}

static void test_scan_holder_without_names(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device d;
	_cleanup_free_ char *name = NULL;
	char path[256];

	make_desktop();
	/* Only fd/ and exe: no comm, status or cgroup (they went between the reads). Still a holder, named by
	 * pid. */
	snprintf(path, sizeof(path), "%s/8000/fd", f.proc);
	fx_mkdir_p(path);
	snprintf(path, sizeof(path), "%s/8000/exe", f.proc);
	CHECK(symlink("/usr/bin/true", path) == 0);
	fx_process_fd(&f, 8000, 3, "/dev/fb0");
	d = plan_device_of(GPU, 28);
	CHECK_INT(holders_scan(&ctx, &d, &h), 0);
	CHECK_INT(h.n, 5);
	name = holder_name(&h.v[4]);
	CHECK_STR(name, "pid 8000 (?)");
	holders_clear(&h);
	fx_clear(&f);
}

static void test_scan_deadline(void)
{
	struct holder_scan_ctx ctx = { .topo = &t, .deadline_ms = 1 };
	struct holders h = { 0 };
	struct plan_device d;

	make_desktop();
	d = plan_device_of(GPU, 28);
	/* A deadline already past: the scan stops at once, and says so. */
	CHECK(monotonic_ms() > 1);
	CHECK_INT(holders_scan(&ctx, &d, &h), -ETIMEDOUT);
	CHECK_INT(h.n, 0);
	holders_clear(&h);
	fx_clear(&f);
}

/* A process whose maps cannot be read (its memory lock held by a thread stuck in the kernel; a FIFO stands in
 * for it here): the bounded scan gives up at its deadline, and the unbounded one's result is the same when
 * nothing blocks. */
static void test_scan_within_bound(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device d;
	char path[256];
	int fd;

	make_desktop();
	d = plan_device_of(GPU, 28);
	CHECK_INT(holders_scan_within(&ctx, &d, 60000, &h), 0);
	CHECK_INT(h.n, 4);
	CHECK_INT(h.v[1].pid, 1234);
	holders_clear(&h);

	fx_process(&f, 9000, "stuck", 0, "/system.slice/stuck.service");
	snprintf(path, sizeof(path), "%s/9000/maps", f.proc);
	CHECK(unlink(path) == 0);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK_INT(holders_scan_within(&ctx, &d, 200, &h), -ETIMEDOUT);
	CHECK_INT(h.n, 0);
	/* Let the abandoned scan finish: a writer that goes away gives its reader end-of-file. */
	fd = open(path, O_WRONLY | O_NONBLOCK);
	CHECK(fd >= 0);
	close(fd);
	fx_clear(&f);
}

/* A process without memory (no exe link: a kernel thread, or one exiting) is passed over after one read:
 * its fd/ and maps are never opened, so nothing there names it, and nothing there counts as unreadable. */
static void test_scan_passes_over_kernel_threads(void)
{
	struct holder_scan_ctx ctx = { .topo = &t };
	struct holders h = { 0 };
	struct plan_device gpu;
	char path[1024];

	make_desktop();
	fx_kernel_thread(&f, 3, "kworker/0:1");
	fx_process_fd(&f, 3, 4, "/dev/dri/card0");
	fx_kernel_thread(&f, 4, "kworker/1:1");
	snprintf(path, sizeof(path), "%s/4/maps", f.proc);
	CHECK(unlink(path) == 0);
	CHECK(mkdir(path, 0700) == 0); /* maps that cannot be read */
	gpu = plan_device_of(GPU, 28);
	CHECK_INT(holders_scan(&ctx, &gpu, &h), 0);
	CHECK_INT(h.n, 4);
	for (size_t i = 0; i < h.n; i++)
		CHECK(h.v[i].pid != 3 && h.v[i].pid != 4);
	CHECK_INT(h.n_unreadable, 0);
	holders_clear(&h);
	fx_clear(&f);
}

int main(void)
{
	RUN(test_nodes_of_gpu);
	RUN(test_nodes_of_audio_and_nvme);
	RUN(test_nodes_of_nvme_multipath);
	RUN(test_scan_names_every_holder);
	RUN(test_scan_passes_over_kernel_threads);
	RUN(test_scan_nothing_holds);
	RUN(test_scan_vfio_group);
	RUN(test_scan_kernel_users);
	RUN(test_scan_unreadable_and_vanished);
	RUN(test_scan_holder_without_names);
	RUN(test_scan_deadline);
	RUN(test_scan_within_bound);
	return 0;
}

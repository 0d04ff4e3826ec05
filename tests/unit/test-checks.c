/* The engine's checks on a fixture shaped like a desktop host: the host's own devices (a root port, the
 * AHCI controller whose disk holds /) are refused; group members the host uses are named with what it
 * loses; a host bridge with a driver spoils a group for the engine and for hookctl's verdict alike; reads
 * that would take a device's lock (a FIFO stands in for it) never hold resolve, check or status up; the
 * journal lock has a deadline; a journal that cannot be written is said so; a journal read back is
 * validated; reset_method is written back as it was found. Fixture trees only, never /sys. */
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "checks.h"
#include "config.h"
#include "engine.h"
#include "journal.h"
#include "plan.h"
#include "sysfs-fixture.h"
#include "util.h"

#define ROOT_PORT "0000:00:01.0"
#define AHCI "0000:00:17.0"
#define HOST_BRIDGE "0000:00:00.0"
#define GPU "0000:0b:00.0"
#define GPU_AUDIO "0000:0b:00.1"
#define XHCI_NET "0000:0c:00.0"
#define PSP "0000:0c:00.2"
#define XHCI "0000:0c:00.3"
#define GROUP_BRIDGE "0000:00:08.1"
#define GROUP_HOST_BRIDGE "0000:00:08.0"
#define GPU2 "0000:0d:00.0"
#define NVME "0000:04:00.0"

static struct fixture f;
static struct topology t;
static struct engine *e;

static void make_host(void)
{
	const char *disk = "bus/pci/devices/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda";
	char rel[256];

	fx_init(&f);
	fx_device(&f, ROOT_PORT, 0x8086, 0x7ab8, 0x060400, "pcieport", 1);
	/* The SATA controller and its disk, whose second partition is / */
	fx_device(&f, AHCI, 0x8086, 0x7ae2, 0x010601, "ahci", 5);
	snprintf(rel, sizeof(rel), "%s/dev", disk);
	fx_write(&f, "sys", rel, "8:0");
	snprintf(rel, sizeof(rel), "%s/sda2/dev", disk);
	fx_write(&f, "sys", rel, "8:2");
	snprintf(rel, sizeof(rel), "%s/sda2/partition", disk);
	fx_write(&f, "sys", rel, "2");
	fx_link(&f, "class/block/sda", "../../bus/pci/devices/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda");
	fx_link(&f, "class/block/sda2", "../../bus/pci/devices/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2");
	fx_write(&f, "proc", "self/mountinfo", "22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw");

	/* An AMD GPU whose group also holds two xHCI controllers (a USB network adapter on one), the platform
	 * security processor, a bridge and a host bridge without a driver. */
	fx_device(&f, GPU, 0x1002, 0x73bf, 0x030000, "amdgpu", 30);
	fx_device(&f, GPU_AUDIO, 0x1002, 0xab28, 0x040300, "snd_hda_intel", 30);
	fx_device(&f, XHCI_NET, 0x1022, 0x15b6, 0x0c0330, "xhci_hcd", 30);
	fx_device(&f, PSP, 0x1022, 0x15c7, 0x108000, "ccp", 30);
	fx_device(&f, XHCI, 0x1022, 0x15b7, 0x0c0330, "xhci_hcd", 30);
	fx_device(&f, GROUP_BRIDGE, 0x1022, 0x14eb, 0x060400, "pcieport", 30);
	fx_device(&f, GROUP_HOST_BRIDGE, 0x1022, 0x14ea, 0x060000, NULL, 30);
	fx_write(&f, "sys", "bus/pci/devices/" XHCI_NET "/usb1/1-1/product", "USB 10/100/1000 LAN");
	fx_dir(&f, "bus/pci/devices/" XHCI_NET "/usb1/1-1/1-1:1.0/net/enx00e04c680001");
	fx_link(&f, "class/net/enx00e04c680001",
		"../../bus/pci/devices/" XHCI_NET "/usb1/1-1/1-1:1.0/net/enx00e04c680001");
	fx_link(&f, "bus/usb/devices/usb1", "../../../bus/pci/devices/" XHCI_NET "/usb1");
	fx_link(&f, "bus/usb/devices/1-1", "../../../bus/pci/devices/" XHCI_NET "/usb1/1-1");
	fx_link(&f, "bus/usb/devices/1-1:1.0", "../../../bus/pci/devices/" XHCI_NET "/usb1/1-1/1-1:1.0");

	/* A second GPU sharing its group with a host bridge that has a driver (an EDAC driver does that). */
	fx_device(&f, GPU2, 0x10de, 0x2484, 0x030000, "nvidia", 31);
	fx_device(&f, HOST_BRIDGE, 0x8086, 0x3e0f, 0x060000, "ie31200_edac", 31);

	fx_device(&f, NVME, 0x144d, 0xa808, 0x010802, "nvme", 14);
}

static struct vm_config *vm(const char *name, const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	if (vm_config_parse_string(name, text, "vms/test.ini", &c, &d) < 0) {
		_cleanup_free_ char *all = diag_join(&d, "\n");

		fprintf(stderr, "config does not parse:\n%s\n", all);
		exit(1);
	}
	return c;
}

/* Resolve and check TEXT: the problems joined by "\n" (NULL when none); the warnings in *ret_warnings. */
static char *problems_of(const char *text, char **ret_warnings)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("win10", text);
	_cleanup_(plan_freep) struct plan *p = NULL;
	struct diag d = { 0 }, w = { 0 };
	char *all;
	int r;

	r = plan_resolve(&t, c, NULL, &p, &d);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		CHECK_INT(plan_check_devices(&t, p, &d, &w, NULL), d.n > 0 ? ENGINE_REFUSED : 0);
	all = diag_join(&d, "\n");
	if (ret_warnings)
		*ret_warnings = diag_join(&w, "\n");
	diag_clear(&d);
	diag_clear(&w);
	return all;
}

static void test_host_own_devices(void)
{
	_cleanup_free_ char *port = problems_of("[device.rp]\naddress = 00:01.0\n", NULL);
	_cleanup_free_ char *sata = problems_of("[device.sata]\naddress = 00:17.0\n", NULL);
	_cleanup_free_ char *host_bridge = problems_of("[device.hb]\naddress = 00:00.0\n", NULL);

	CHECK_STR(port, "VM win10: " ROOT_PORT " (rp): it is a PCI bridge or root port (class 0x060400, pcieport): "
			"the host's own, it never goes to a VM");
	CHECK_STR(sata, "VM win10: " AHCI " (sata): in use by the host: sda2 is mounted on /");
	CHECK(host_bridge && strstr(host_bridge, "it is a host or ISA bridge (class 0x060000, ie31200_edac)"));
	/* Nothing of a refusal was recorded anywhere. */
	{
		_cleanup_(vm_config_freep) struct vm_config *c = vm("win10", "[device.rp]\naddress = 00:01.0\n");
		_cleanup_free_ char *msg = NULL;
		_cleanup_strv_free_ char **journals = NULL;

		CHECK_INT(engine_prepare(e, c, NULL, &msg), ENGINE_REFUSED);
		CHECK(msg && strstr(msg, "root port"));
		CHECK_INT(journal_list(f.run, &journals), 0);
		CHECK(journals[0] == NULL);
	}
}

static void test_storage_behind_any_controller(void)
{
	_cleanup_free_ char *swap = NULL, *held = NULL, *free_disk = NULL;

	/* Not mounted, but swap. */
	fx_write(&f, "proc", "self/mountinfo", "22 1 0:21 / / rw - tmpfs tmpfs rw");
	fx_write(&f, "proc", "swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 1048572 0 -2");
	swap = problems_of("[device.sata]\naddress = 00:17.0\n", NULL);
	CHECK_STR(swap, "VM win10: " AHCI " (sata): in use by the host: sda2 is used as swap");
	fx_write(&f, "proc", "swaps", "Filename\tType\tSize\tUsed\tPriority");

	/* Held by device-mapper. */
	fx_dir(&f, "bus/pci/devices/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2/holders/dm-0");
	held = problems_of("[device.sata]\naddress = 00:17.0\n", NULL);
	CHECK_STR(held, "VM win10: " AHCI " (sata): in use by the host: sda2 is held by dm-0 (device-mapper, md or "
			"LVM)");
	CHECK(rmdir(strcat(strcpy((char[512]){ 0 }, f.sys),
			   "/bus/pci/devices/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2/holders/dm-0")) ==
	      0);

	/* A disk nobody uses may go (the exclusive-open probe never runs against a fixture: no dev_root). */
	free_disk = problems_of("[device.sata]\naddress = 00:17.0\n", NULL);
	CHECK(free_disk == NULL);
	fx_write(&f, "proc", "self/mountinfo", "22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw");
}

static void test_exclusive_probe_stays_in_its_root(void)
{
	struct topology probe = t;
	char dev[256];
	_cleanup_free_ char *reason = NULL;

	/* A dev root the test controls, holding a regular file where the node would be: not a block device
	 * with sda's numbers, so it is not opened, and nothing is reported beyond the mount. */
	snprintf(dev, sizeof(dev), "%s/dev", f.base);
	fx_mkdir_p(dev);
	fx_write(&f, "dev", "sda", "not a block device");
	probe.dev_root = dev;
	fx_write(&f, "proc", "self/mountinfo", "22 1 0:21 / / rw - tmpfs tmpfs rw");
	CHECK_INT(topology_storage_user(&probe, AHCI, &reason), 0);
	CHECK(reason == NULL);
	fx_write(&f, "proc", "self/mountinfo", "22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw");
}

static void test_group_members_the_host_uses(void)
{
	_cleanup_free_ char *warnings = NULL;
	_cleanup_free_ char *problems = problems_of("[device.gpu]\naddress = 0b:00.0\nwhole-group = yes\n", &warnings);
	_cleanup_free_ char *loses = NULL;

	/* Viable once every member goes (bridge and driverless host bridge stay behind) ... */
	CHECK(problems == NULL);
	/* ... but the host is told what it gives up: not the GPU's own audio, the rest of the group. */
	CHECK_STR(warnings,
		  "VM win10: " XHCI_NET " (gpu+group): taken with its IOMMU group, the host loses it: xhci_hcd, and "
		  "below it network interface enx00e04c680001, USB device 1-1 (USB 10/100/1000 LAN)\n"
		  "VM win10: " PSP " (gpu+group): taken with its IOMMU group, the host loses it: ccp\n"
		  "VM win10: " XHCI " (gpu+group): taken with its IOMMU group, the host loses it: xhci_hcd");
	CHECK_INT(host_loses(&t, GPU_AUDIO, &loses), 0);
	CHECK_STR(loses, "snd_hda_intel");
}

static bool takes_gpu2(const char *address, void *userdata)
{
	(void)userdata;
	return streq(address, GPU2);
}

static void test_host_bridge_counts_like_an_endpoint(void)
{
	_cleanup_free_ char *problems = problems_of("[device.gpu]\naddress = 0d:00.0\nwhole-group = yes\n", NULL);
	struct pci_function *blockers = NULL;
	size_t n = 0;

	CHECK_STR(problems, "VM win10: " GPU2 " (gpu): IOMMU group 31 is not viable and cannot be made so: the host's "
			    "own " HOST_BRIDGE " (8086:3e0f on ie31200_edac) has a driver VFIO does not accept");
	/* The one function hookctl iommu asks too. */
	CHECK_INT(group_blockers(&t, 31, takes_gpu2, NULL, &blockers, &n), 0);
	CHECK_INT(n, 1);
	CHECK_STR(blockers[0].address, HOST_BRIDGE);
	pci_functions_free(blockers, n);
	/* Without its driver it is no obstacle; a bridge never is. */
	CHECK_INT(group_blockers(&t, 30, NULL, NULL, &blockers, &n), 0);
	for (size_t i = 0; i < n; i++)
		CHECK(!streq(blockers[i].address, GROUP_BRIDGE) && !streq(blockers[i].address, GROUP_HOST_BRIDGE));
	pci_functions_free(blockers, n);
}

static void on_alarm(int sig)
{
	static const char msg[] = "a read blocked on a device lock (the FIFO): check failed\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* driver_override and unbind as FIFOs: opening either blocks like the kernel's device lock does while an
 * unbind runs. Resolve, check, the engine's dry run and status must not wait on them. alarm() turns a hang
 * into a failure with a message; it is not a timing threshold. */
static void test_no_read_takes_a_device_lock(void)
{
	char path[512];
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[device.ssd]\nmatch = 144d:a808\n[device.gpu]\naddress = 0b:00.0\nwhole-group = yes\n");
	_cleanup_(plan_freep) struct plan *p = plan_new("stuck");
	json_object *o = NULL, *v;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/" NVME "/driver_override", f.sys);
	CHECK(unlink(path) == 0 && mkfifo(path, 0600) == 0);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/nvme/unbind", f.sys);
	CHECK(unlink(path) == 0 && mkfifo(path, 0600) == 0);
	signal(SIGALRM, on_alarm);
	alarm(20);

	_cleanup_free_ char *problems = problems_of("[device.ssd]\nmatch = 144d:a808\n", NULL);
	CHECK(problems == NULL);
	CHECK_INT(engine_check(e, c, NULL, &o), 0);
	CHECK(json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v));
	json_object_put(o);

	/* Status of a VM whose NVMe is being moved: shown as moving, without waiting for the lock. */
	p->devices = calloc(1, sizeof(*p->devices));
	p->devices[0] = (struct plan_device){
		.name = strdup("ssd"), .original_driver = strdup("nvme"), .iommu_group = 14, .step = DEVICE_MOVING
	};
	memcpy(p->devices[0].address, NVME, 13);
	p->n_devices = 1;
	p->phase = PHASE_PREPARING;
	CHECK_INT(journal_init(f.run), 0);
	CHECK_INT(journal_save(f.run, p), 0);
	CHECK_INT(engine_status(e, "stuck", &o), 0);
	v = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
	v = json_object_array_get_idx(json_object_object_get(v, "devices"), 0);
	CHECK_STR(json_object_get_string(json_object_object_get(v, "state")), "moving");
	CHECK_STR(json_object_get_string(json_object_object_get(v, "held_by")), "stuck");
	json_object_put(o);
	CHECK_INT(journal_remove(f.run, "stuck"), 0);

	alarm(0);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/" NVME "/driver_override", f.sys);
	/* Let status's abandoned reader go: it is still waiting in open(). */
	{
		int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

		if (w >= 0)
			close(w);
	}
	CHECK(unlink(path) == 0);
	fx_write(&f, "sys", "bus/pci/devices/" NVME "/driver_override", "(null)");
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/nvme/unbind", f.sys);
	CHECK(unlink(path) == 0);
	fx_write(&f, "sys", "bus/pci/drivers/nvme/unbind", "%s", "");
}

static void test_journal_lock_has_a_deadline(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("win10", "[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;
	_cleanup_close_ int held = -1;
	char path[512];
	json_object *o = NULL, *v;

	CHECK_INT(journal_init(f.run), 0);
	snprintf(path, sizeof(path), "%s/state/.lock", f.run);
	held = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(held >= 0 && flock(held, LOCK_EX) == 0);
	CHECK_INT(journal_lock(f.run, 50), -ETIMEDOUT);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), ENGINE_REFUSED);
	CHECK(msg && strstr(msg, "has held the journal lock") && strstr(msg, "nothing was changed"));
	/* A dry run reads the claims without the lock rather than wait. */
	CHECK_INT(engine_check(e, c, NULL, &o), 0);
	CHECK(json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v));
	json_object_put(o);
}

/* A journal holding NVME on vfio-pci, as prepare leaves it. */
static void save_prepared(const char *name, const char *reset_method, const char *before)
{
	_cleanup_(plan_freep) struct plan *p = plan_new(name);

	p->devices = calloc(1, sizeof(*p->devices));
	p->devices[0] = (struct plan_device){
		.name = strdup("ssd"), .original_driver = strdup("nvme"), .iommu_group = 14, .step = DEVICE_ON_VFIO
	};
	if (reset_method) {
		p->devices[0].reset_method = strdup(reset_method);
		p->devices[0].reset_method_before = strdup(before);
	}
	memcpy(p->devices[0].address, NVME, 13);
	p->n_devices = 1;
	p->phase = PHASE_PREPARED;
	CHECK_INT(journal_init(f.run), 0);
	CHECK_INT(journal_save(f.run, p), 0);
}

static char *read_sys(const char *rel)
{
	char *s = NULL;

	CHECK_INT(topology_read_attr(&t, rel, &s), 0);
	return s;
}

static void test_reset_method_written_back(void)
{
	_cleanup_free_ char *msg = NULL, *now = NULL;

	fx_write(&f, "sys", "bus/pci/devices/" NVME "/reset_method", "bus");
	save_prepared("nas", "bus", "device_specific flr bus");
	CHECK_INT(engine_release(e, "nas", &msg), 0);
	now = read_sys("bus/pci/devices/" NVME "/reset_method");
	CHECK_STR(now, "device_specific flr bus");
}

#ifdef HOOKD_FAULT_INJECTION
/* Needs -Dfault-injection=true (both CI builds have it; a package build does not). */
static void test_full_journal_is_reported(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *override = NULL;
	_cleanup_strv_free_ char **journals = NULL;
	json_object *o = NULL, *v;

	/* Prepare: the claim cannot be recorded, so nothing is done, and the message says why. */
	setenv("HOOKD_FAULT", "fail-at:journal:nas", 1);
	CHECK(engine_prepare(e, c, NULL, &msg) < 0);
	CHECK(msg && startswith(msg, "VM nas: cannot record the claim in the journal under "));
	CHECK(strstr(msg, "nothing was changed: no space left on the file system"));
	CHECK_INT(journal_list(f.run, &journals), 0);
	CHECK(journals[0] == NULL);

	/* Release: every device is still tried, and what could not be recorded is reported. The fixture's
	 * driver link stays on vfio-pci, so the NVMe does not come back and the journal must keep it. */
	unsetenv("HOOKD_FAULT");
	save_prepared("nas", NULL, NULL);
	fx_write(&f, "sys", "bus/pci/devices/" NVME "/driver_override", "vfio-pci");
	fx_write(&f, "sys", "bus/pci/drivers/vfio-pci/unbind", "%s", "");
	fx_link(&f, "bus/pci/devices/" NVME "/driver", "../../drivers/vfio-pci");
	setenv("HOOKD_FAULT", "fail-at:journal:nas", 1);
	CHECK(engine_release(e, "nas", &msg2) < 0);
	CHECK(msg2 && strstr(msg2, "it is on vfio-pci, not on nvme as before"));
	CHECK(strstr(msg2, "could not be recorded in the journal"));
	override = read_sys("bus/pci/devices/" NVME "/driver_override");
	CHECK_STR(override, ""); /* the release went ahead: driver_override was cleared */
	fx_link(&f, "bus/pci/devices/" NVME "/driver", "../../drivers/nvme");
	/* Status says the journal is behind, instead of a silent "prepared". */
	CHECK_INT(engine_status(e, "nas", &o), 0);
	v = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
	CHECK(strstr(json_object_get_string(json_object_object_get(v, "error")), "the journal could not be written"));
	json_object_put(o);
	unsetenv("HOOKD_FAULT");
	free(msg2);
	msg2 = NULL;
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK_INT(engine_status(e, "nas", &o), 0);
	v = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
	CHECK(json_object_object_get(v, "error") == NULL);
	json_object_put(o);
}
#endif

/* What a journal says is used to build sysfs paths and values: it is validated like any input. */
static void test_journal_validated(void)
{
	static const char *const bad[] = {
		/* an address that walks out of bus/pci/devices */
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"ssd\",\"address\":\"../../../..\","
		"\"step\":\"on-vfio\"}],\"modules\":[],\"vtconsoles\":[],\"firmware_framebuffers\":[],\"console\":"
		"\"untouched\"}",
		/* a driver name that is a path */
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"ssd\",\"address\":\"0000:04:00.0\","
		"\"original_driver\":\"../../../../etc\",\"step\":\"on-vfio\"}],\"modules\":[],\"vtconsoles\":[],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		/* a value with a newline, to be written to reset_method */
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"ssd\",\"address\":\"0000:04:00.0\","
		"\"reset_method\":\"bus\\nflr\",\"step\":\"on-vfio\"}],\"modules\":[],\"vtconsoles\":[],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		/* a vtconsole that is a path, a module that is not a module name */
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[],\"vtconsoles\":[\"../vtcon1\"],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[{\"name\":\"a/b\",\"step\":"
		"\"unloaded\"}],\"vtconsoles\":[],\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		/* a VM name that is not one, a group that is not a number, the same device twice, trailing junk */
		"{\"vm\":\"../nas\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[],\"vtconsoles\":[],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"ssd\",\"address\":\"0000:04:00.0\","
		"\"iommu_group\":\"14\",\"step\":\"on-vfio\"}],\"modules\":[],\"vtconsoles\":[],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"a\",\"address\":\"0000:04:00.0\","
		"\"step\":\"on-vfio\"},{\"name\":\"b\",\"address\":\"0000:04:00.0\",\"step\":\"on-vfio\"}],"
		"\"modules\":[],\"vtconsoles\":[],\"firmware_framebuffers\":[],\"console\":\"untouched\"}",
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[],\"vtconsoles\":[],"
		"\"firmware_framebuffers\":[],\"console\":\"untouched\"} {}",
	};
	static const char good[] =
		"{\"vm\":\"nas\",\"phase\":\"prepared\",\"devices\":[{\"name\":\"ssd\",\"address\":\"0000:04:00.0\","
		"\"original_driver\":\"nvme\",\"reset_method\":\"bus\",\"reset_method_before\":\"flr bus\","
		"\"iommu_group\":14,\"step\":\"on-vfio\"}],\"modules\":[],\"vtconsoles\":[\"vtcon1\"],"
		"\"firmware_framebuffers\":[\"efi-framebuffer/efi-framebuffer.0\"],\"console\":\"releasing\"}\n";
	_cleanup_free_ char *msg = NULL;
	struct plan *p = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		if (journal_parse(bad[i], strlen(bad[i]), NULL, &p) != -EINVAL) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(!"a bad journal was accepted");
		}
	}
	CHECK_INT(journal_parse(good, strlen(good), "nas", &p), 0);
	CHECK_STR(p->devices[0].reset_method_before, "flr bus");
	plan_free(p);
	CHECK_INT(journal_parse(good, strlen(good), "other", &p), -EINVAL);

	/* On disk: the engine refuses to act on it and says so. */
	CHECK_INT(journal_init(f.run), 0);
	fx_write(&f, "run", "state/nas.state", "%s", bad[0]);
	CHECK_INT(journal_load(f.run, "nas", &p), -EINVAL);
	CHECK(engine_release(e, "nas", &msg) < 0);
	CHECK(msg && strstr(msg, "its journal cannot be read"));
	CHECK_INT(journal_remove(f.run, "nas"), 0);
}

int main(void)
{
	struct engine_options opts;

	make_host();
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	opts = (struct engine_options){ .sysfs_root = f.sys,
					.proc_root = f.proc,
					.run_dir = f.run,
					.sysfs_timeout_ms = 500,
					.operation_timeout_ms = 5000 };
	CHECK_INT(engine_new(&opts, &e), 0);
	RUN(test_host_own_devices);
	RUN(test_storage_behind_any_controller);
	RUN(test_exclusive_probe_stays_in_its_root);
	RUN(test_group_members_the_host_uses);
	RUN(test_host_bridge_counts_like_an_endpoint);
	RUN(test_no_read_takes_a_device_lock);
	RUN(test_journal_lock_has_a_deadline);
	RUN(test_reset_method_written_back);
#ifdef HOOKD_FAULT_INJECTION
	RUN(test_full_journal_is_reported);
#endif
	RUN(test_journal_validated);
	engine_free(e);
	fx_clear(&f);
	return 0;
}

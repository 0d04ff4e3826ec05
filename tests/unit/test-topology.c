/* topology (the read-only sysfs view) and domxml against fixture trees. */
#include "domxml.h"
#include "engine-fixture.h"
#include "topology.h"
#include "util.h"

static struct fixture f;
static struct topology t;

static void test_function(void)
{
	struct pci_function fn;

	CHECK_INT(topology_function(&t, GPU, &fn), 0);
	CHECK_INT(fn.vendor, 0x10de);
	CHECK_INT(fn.device, 0x1e04);
	CHECK_INT(fn.class, 0x030000);
	CHECK_STR(fn.driver, "nvidia");
	CHECK_INT(fn.iommu_group, 28);
	CHECK(!fn.boot_vga);
	pci_function_clear(&fn);

	CHECK_INT(topology_function(&t, IGPU, &fn), 0);
	CHECK(fn.boot_vga);
	pci_function_clear(&fn);

	CHECK_INT(topology_function(&t, "0000:7f:00.0", &fn), -ENODEV);
	CHECK_INT(topology_function(&t, "../../../etc", &fn), -ENODEV);
	CHECK(!topology_device_exists(&t, "0000:7f:00.0"));

	fx_device(&f, "0000:09:00.0", 0x1b36, 0x0010, 0x010802, NULL, -1);
	fx_write(&f, "sys", "bus/pci/devices/0000:09:00.0/driver_override", "vfio-pci");
	CHECK_INT(topology_function(&t, "0000:09:00.0", &fn), 0);
	CHECK(fn.driver == NULL);
	CHECK_INT(fn.iommu_group, -1);
	pci_function_clear(&fn);
	{
		_cleanup_free_ char *override = NULL, *unset = NULL;

		CHECK_INT(topology_driver_override_within(&t, "0000:09:00.0", 1000, &override), 0);
		CHECK_STR(override, "vfio-pci");
		/* "(null)" is the kernel's way of saying unset */
		CHECK_INT(topology_driver_override_within(&t, GPU, 1000, &unset), 0);
		CHECK(unset == NULL);
	}
}

static void test_lists(void)
{
	_cleanup_strv_free_ char **all = NULL, **members = NULL;
	_cleanup_free_ char *module = NULL, *builtin = NULL;

	CHECK_INT(topology_list_functions(&t, &all), 0);
	CHECK_STR(all[0], ROOT_PORT);
	CHECK_STR(all[1], IGPU);
	CHECK_STR(all[2], NVME_A);
	CHECK_INT(topology_group_members(&t, 28, &members), 0);
	CHECK_INT(strv_length(members), 5);
	CHECK_STR(members[0], ROOT_PORT);
	CHECK_STR(members[4], GPU_UCSI);
	CHECK(topology_iommu_enabled(&t));

	CHECK_INT(topology_driver_module(&t, "nvidia", &module), 0);
	CHECK_STR(module, "nvidia");
	CHECK_INT(topology_driver_module(&t, "pcieport", &builtin), 0);
	CHECK(builtin == NULL);
}

static void test_iommu_off(void)
{
	struct fixture g;
	struct topology u;

	fx_init(&g);
	fx_device(&g, GPU, 0x10de, 0x1e04, 0x030000, "nvidia", -1);
	u = (struct topology){ .sysfs_root = g.sys, .proc_root = g.proc };
	CHECK(!topology_iommu_enabled(&u));
	fx_dir(&g, "kernel/iommu_groups");
	CHECK(!topology_iommu_enabled(&u));
	fx_clear(&g);
}

static void expect_storage(const char *address, const char *want)
{
	_cleanup_free_ char *reason = NULL;

	CHECK_INT(topology_storage_user(&t, address, &reason), 0);
	if (want)
		CHECK_STR(reason, want);
	else if (reason)
		CHECK_STR(reason, "(nothing)");
}

static void test_storage(void)
{
	expect_storage(NVME_A, NULL);
	expect_storage(GPU, NULL);

	/* Mounted partition, found by major:minor. */
	fx_write(&f, "proc", "self/mountinfo",
		 "21 1 0:20 / / rw - overlay overlay rw\n"
		 "40 21 259:1 / /data rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw");
	expect_storage(NVME_A, "nvme0n1p1 is mounted on /data");
	/* By source name when the device number differs (e.g. btrfs reports an anonymous one). */
	fx_write(&f, "proc", "self/mountinfo", "40 21 0:44 / /srv rw - btrfs /dev/nvme0n1 rw");
	expect_storage(NVME_A, "nvme0n1 is mounted on /srv");
	expect_storage(NVME_B, NULL);
	fx_write(&f, "proc", "self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw");

	fx_write(&f, "proc", "swaps",
		 "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
		 "/dev/nvme0n1p1                          partition\t8388604\t\t0\t\t-2");
	expect_storage(NVME_A, "nvme0n1p1 is used as swap");
	fx_write(&f, "proc", "swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority");

	fx_dir(&f, "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/holders/dm-0");
	expect_storage(NVME_A, "nvme0n1 is held by dm-0 (device-mapper, md or LVM)");

	/* Native multipath: the controller shows nvme1c1n1, the disk is block/nvme1n1. */
	fx_dir(&f, "bus/pci/devices/" NVME_B "/nvme/nvme1/nvme1c1n1");
	fx_write(&f, "sys", "block/nvme1n1/dev", "259:5");
	fx_dir(&f, "block/nvme1n1/holders");
	expect_storage(NVME_B, NULL);
	fx_write(&f, "proc", "self/mountinfo", "50 21 259:5 / /home rw - xfs /dev/nvme1n1 rw");
	expect_storage(NVME_B, "nvme1n1 is mounted on /home");
	fx_write(&f, "proc", "self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw");
}

static void test_console(void)
{
	_cleanup_strv_free_ char **vt = NULL, **fbs = NULL, **none = NULL;

	CHECK_INT(topology_bound_fb_vtconsoles(&t, &vt), 0);
	CHECK_INT(strv_length(vt), 1);
	CHECK_STR(vt[0], "vtcon1");
	CHECK_INT(topology_bound_firmware_fbs(&t, &none), 0);
	CHECK_INT(strv_length(none), 0);
	fx_write(&f, "sys", "bus/platform/drivers/efi-framebuffer/bind", "%s", "");
	fx_link(&f, "bus/platform/drivers/efi-framebuffer/efi-framebuffer.0",
		"../../../../devices/platform/efi-framebuffer.0");
	CHECK_INT(topology_bound_firmware_fbs(&t, &fbs), 0);
	CHECK_INT(strv_length(fbs), 1);
	CHECK_STR(fbs[0], "efi-framebuffer/efi-framebuffer.0");
}

static void test_domxml(void)
{
	static const char xml[] =
		"<domain type='kvm'><name>win10</name><devices>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><source>"
		"<address domain='0x0000' bus='0x0a' slot='0x00' function='0x0'/></source>"
		"<address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/></hostdev>"
		"<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product "
		"id='0xc52b'/></source></hostdev>"
		"<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x04' slot='0x00' "
		"function='0x0'/></source></hostdev>"
		"<interface type='network'><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"
		"</interface></devices></domain>";
	_cleanup_strv_free_ char **v = NULL, **empty = NULL, **bad = NULL;
	_cleanup_free_ char *error = NULL, *error2 = NULL;

	CHECK_INT(domxml_pci_hostdevs(xml, strlen(xml), &v, &error), 0);
	CHECK_INT(strv_length(v), 2);
	CHECK_STR(v[0], "0000:0a:00.0");
	CHECK_STR(v[1], "0000:04:00.0");
	{
		_cleanup_strv_free_ char **managed = NULL;

		CHECK_INT(domxml_managed_pci_hostdevs(xml, strlen(xml), &managed, &error), 0);
		CHECK_INT(strv_length(managed), 1); /* 04:00.0 has no managed attribute: libvirt's "no" */
		CHECK_STR(managed[0], "0000:0a:00.0");
	}
	CHECK_INT(domxml_pci_hostdevs("<domain/>", 9, &empty, &error), 0);
	CHECK_INT(strv_length(empty), 0);
	CHECK_INT(domxml_pci_hostdevs("<domain", 7, &bad, &error), -EINVAL);
	CHECK(error && strstr(error, "does not parse"));
	{
		static const char badaddr[] = "<domain><devices><hostdev mode='subsystem' type='pci'><source>"
					      "<address domain='0x0000' bus='0x1ff' slot='0x00' function='0x0'/>"
					      "</source></hostdev></devices></domain>";

		CHECK_INT(domxml_pci_hostdevs(badaddr, strlen(badaddr), &bad, &error2), -EINVAL);
		CHECK(error2 && strstr(error2, "malformed"));
	}
}

static void test_domxml_uuid(void)
{
	static const char xml[] = "<domain type='kvm'><name>win10</name>"
				  "<uuid>0b6d6c6e-1111-2222-3333-444455556666</uuid><devices/></domain>";
	static const char nested[] = "<domain><devices><uuid>not-the-domain's</uuid></devices></domain>";
	static const char other_root[] = "<network><uuid>0b6d6c6e-1111-2222-3333-444455556666</uuid></network>";
	_cleanup_free_ char *uuid = NULL, *none = NULL;
	char long_uuid[200];

	CHECK_INT(domxml_uuid(xml, strlen(xml), &uuid), 0);
	CHECK_STR(uuid, "0b6d6c6e-1111-2222-3333-444455556666");
	CHECK_INT(domxml_uuid(nested, strlen(nested), &none), -ENOENT);
	CHECK_INT(domxml_uuid(other_root, strlen(other_root), &none), -EINVAL);
	CHECK_INT(domxml_uuid("<domain", 7, &none), -EINVAL);
	CHECK_INT(domxml_uuid("", 0, &none), -EINVAL);
	snprintf(long_uuid, sizeof(long_uuid), "<domain><uuid>%0*d</uuid></domain>", DOMXML_UUID_MAX + 1, 0);
	CHECK_INT(domxml_uuid(long_uuid, strlen(long_uuid), &none), -ENOENT);
	CHECK(none == NULL);
}

int main(void)
{
	fx_machine(&f);
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	RUN(test_function);
	RUN(test_lists);
	RUN(test_iommu_off);
	RUN(test_storage);
	RUN(test_console);
	RUN(test_domxml);
	RUN(test_domxml_uuid);
	fx_clear(&f);
	return 0;
}

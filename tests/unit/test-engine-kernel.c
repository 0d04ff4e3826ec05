/* prepare, release, rollback and recovery end to end through the fake kernel (fake-kernel.h): devices really
 * move in the fixture tree, modules load and unload in order, and the kernel's slow or failing steps (an
 * unbind that blocks holding the device lock, a probe that blocks then fails, a device that disappears)
 * are reached on purpose. Fixture trees only, never /sys. */
#include <sys/stat.h>

#include "engine-rig.h"
#include "engine.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "topology.h"
#include "util.h"

static struct engine_rig rig;

/* Field FIELD of VM NAME's status, or of its device I (I >= 0). Static buffer; "" for null. */
static const char *status_of(const char *name, int i, const char *field)
{
	static char buf[512];
	json_object *st = NULL, *v;

	CHECK_INT(engine_status(rig.e, name, &st), 0);
	v = json_object_array_get_idx(json_object_object_get(st, "vms"), 0);
	CHECK(v);
	if (i >= 0)
		v = json_object_array_get_idx(json_object_object_get(v, "devices"), (size_t)i);
	CHECK(v);
	v = json_object_object_get(v, field);
	snprintf(buf, sizeof(buf), "%s", v ? json_object_get_string(v) : "");
	json_object_put(st);
	return buf;
}

/* ---- success paths ---- */

static void test_prepare_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	rig_setup(&rig);
	CHECK(!fk_module_loaded(rig.k, "vfio_pci"));
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK(msg == NULL);
	CHECK_STR(rig_driver(&rig, NVME_A), "vfio-pci");
	CHECK_STR(rig_override(&rig, NVME_A), "vfio-pci");
	CHECK(fk_module_loaded(rig.k, "vfio_pci"));
	CHECK_STR(rig_log_lines(&rig, NVME_A),
		  "override " NVME_A " vfio-pci|unbind " NVME_A " nvme|bind " NVME_A " vfio-pci");
	CHECK_STR(status_of("nas", -1, "state"), "prepared");
	CHECK_STR(status_of("nas", 0, "state"), "on-vfio");
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme"); /* its twin is left alone */

	fk_log_clear(rig.k);
	CHECK_INT(engine_release(rig.e, "nas", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	CHECK_STR(rig_log_lines(&rig, NVME_A),
		  "unbind " NVME_A " vfio-pci|override " NVME_A " (null)|bind " NVME_A " nvme");
	CHECK(!rig_journal_exists(&rig, "nas"));
	rig_teardown(&rig);
}

/* A device the domain XML also gives libvirt to manage (<hostdev managed='yes'>) is refused before any write,
 * naming it: libvirt would detach it again and give it back before hookd's release. managed='no' (or no
 * managed attribute, libvirt's default) is hookd's to move. */
static void test_managed_hostdev_refused(void)
{
	static const char managed[] =
		"<domain><name>nas</name><devices>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><source>"
		"<address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source></hostdev>"
		"</devices></domain>";
	static const char unmanaged[] =
		"<domain><name>nas</name><devices>"
		"<hostdev mode='subsystem' type='pci'><source>"
		"<address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source></hostdev>"
		"</devices></domain>";
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	rig_setup(&rig);
	CHECK_INT(engine_prepare(rig.e, c, managed, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM nas: " NVME_A " (a) is a <hostdev managed='yes'> in the domain XML: libvirt would move it "
		       "too, and back before hookd; set managed='no' on it (virsh edit nas)");
	CHECK_STR(fk_log(rig.k), "");
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK(!rig_journal_exists(&rig, "nas"));
	CHECK_INT(engine_prepare(rig.e, c, unmanaged, &msg2), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "vfio-pci");
	CHECK_INT(engine_release(rig.e, "nas", &msg3), 0);
	rig_teardown(&rig);
}

/* nvidia's stack, listed in the wrong order: unloaded holders first, the GPU moves when its driver goes,
 * and on release the driver's module comes back first and binds the GPU by itself. */
static void test_whole_group_with_modules(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nunload-modules = nvidia nvidia_modeset nvidia_drm\n"
				"[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	const char *members[] = { GPU, GPU_AUDIO, GPU_USB, GPU_UCSI };

	rig_setup(&rig);
	fk_add_module(rig.k, "nvidia_modeset", true, NULL);
	fk_add_module(rig.k, "nvidia_drm", true, NULL);
	fk_module_depends(rig.k, "nvidia_modeset", "nvidia");
	fk_module_depends(rig.k, "nvidia_drm", "nvidia_modeset");
	fk_module_depends(rig.k, "nvidia_drm", "nvidia");

	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_STR(rig_log_lines(&rig, "load "), "unload nvidia_drm|unload nvidia_modeset|unload nvidia|load vfio_pci");
	for (size_t i = 0; i < ELEMENTSOF(members); i++)
		CHECK_STR(rig_driver(&rig, members[i]), "vfio-pci");
	CHECK_STR(rig_driver(&rig, ROOT_PORT), "pcieport"); /* the bridge stays with the host */
	CHECK_STR(status_of("win10", -1, "state"), "prepared");

	fk_log_clear(rig.k);
	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "snd_hda_intel");
	CHECK_STR(rig_driver(&rig, GPU_USB), "xhci_hcd");
	CHECK_STR(rig_driver(&rig, GPU_UCSI), "nvidia-gpu");
	for (size_t i = 0; i < ELEMENTSOF(members); i++)
		CHECK_STR(rig_override(&rig, members[i]), "(null)");
	/* nvidia's own load bound the GPU; the modules that hold it come back after it. */
	CHECK_STR(rig_log_lines(&rig, "load "), "load nvidia|load nvidia_modeset|load nvidia_drm");
	CHECK_STR(rig_log_lines(&rig, "bind " GPU " nvidia"), "bind " GPU " nvidia");
	CHECK(!rig_journal_exists(&rig, "win10"));
	rig_teardown(&rig);
}

static void test_module_in_use(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_(vm_config_freep) struct vm_config *partial =
		rig_vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	rig_setup(&rig);
	/* A process holds the GPU open: refused before anything changes. */
	fk_module_set_users(rig.k, "nvidia", 1);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM win10: module nvidia: it is in use (1 reference besides its holders)");
	CHECK_STR(fk_log(rig.k), "");
	CHECK(fk_module_loaded(rig.k, "nvidia"));

	/* A holder that is not in the list: refused too. */
	fk_module_set_users(rig.k, "nvidia", 0);
	fk_add_module(rig.k, "nvidia_drm", true, NULL);
	fk_module_depends(rig.k, "nvidia_drm", "nvidia");
	CHECK_INT(engine_prepare(rig.e, partial, NULL, &msg2), ENGINE_REFUSED);
	CHECK(strstr(msg2, "module nvidia: it is held by nvidia_drm, which is not in unload-modules"));
	CHECK_STR(fk_log(rig.k), "");
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	rig_teardown(&rig);
}

/* On release, loading the driver's module probes the GPU from the module's init; that probe blocks, then
 * fails. The load is bounded like a write, and the GPU is stuck, not back. */
static void test_module_load_probe_blocks(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	rig_setup(&rig);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK(!fk_module_loaded(rig.k, "nvidia"));
	fk_inject(rig.k, GPU, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK_INT(engine_release(rig.e, "win10", &msg2), -ETIMEDOUT);
	CHECK(strstr(msg2,
		     "VM win10: " GPU " (gpu): the kernel did not finish loading module nvidia (its init probes "
		     "the device) within 2000 ms; it is stuck until the kernel lets go, then run: hookctl release "
		     "win10"));
	CHECK(fk_blocked(rig.k, GPU));
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "snd_hda_intel"); /* the others are back */
	p = rig_journal(&rig, "win10");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("win10", -1, "state"), "stuck");

	fk_unblock(rig.k, GPU);
	CHECK_STR(rig_driver(&rig, GPU), "");
	CHECK_INT(engine_release(rig.e, "win10", &msg3), 0);
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	CHECK(!rig_journal_exists(&rig, "win10"));
	rig_teardown(&rig);
}

/* reset_method: the method asked for while the VM runs, and what was there before once it is released; a
 * method the device does not offer is refused by the checks, as the kernel would refuse it. */
static void test_reset_method(void)
{
	_cleanup_(vm_config_freep) struct vm_config *good =
		rig_vm("nas", "[device.a]\naddress = 04:00.0\nreset-method = flr\n");
	_cleanup_(vm_config_freep) struct vm_config *bad =
		rig_vm("nas", "[device.a]\naddress = 04:00.0\nreset-method = pm\n");
	struct topology t = { 0 };
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;

	fx_machine(&rig.f);
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/reset_method", "flr bus");
	rig_start(&rig);
	rig_up(&rig);
	t = (struct topology){ .sysfs_root = rig.f.sys, .proc_root = rig.f.proc };
	CHECK_INT(engine_prepare(rig.e, good, NULL, &msg), 0);
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m1), 0);
	CHECK_STR(m1, "flr");
	CHECK_INT(engine_release(rig.e, "nas", &msg2), 0);
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m2), 0);
	CHECK_STR(m2, "flr bus");

	/* A method the device does not offer, which the kernel would refuse: refused before anything changes. */
	fk_log_clear(rig.k);
	CHECK_INT(engine_prepare(rig.e, bad, NULL, &msg3), ENGINE_REFUSED);
	CHECK_STR(msg3,
		  "VM nas: " NVME_A " (a): reset-method = pm, but the device does not offer it (it offers: flr bus)");
	CHECK_STR(fk_log(rig.k), "");
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m3), 0);
	CHECK_STR(m3, "flr bus");
	rig_teardown(&rig);
}

/* ---- the kernel's slow and failing steps ---- */

static void test_blocked_unbind(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	rig_setup(&rig);
	fk_inject(rig.k, NVME_A, FK_UNBIND_BLOCKS);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), -ETIMEDOUT);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the kernel did not finish unbinding it from nvme within 2000 ms; it is "
		       "stuck until the kernel lets go, then run: hookctl release two");
	/* The engine kept its deadline: the unbind is still running in the kernel. */
	CHECK(fk_blocked(rig.k, NVME_A));
	/* Nothing half-moved beyond what is reported: b was never touched, a is journaled as stuck. */
	CHECK_STR(rig_log_lines(&rig, NVME_B), "");
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	p = rig_journal(&rig, "two");
	CHECK_INT(p->phase, PHASE_FAILED);
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", -1, "state"), "stuck");
	CHECK_STR(status_of("two", 0, "state"), "stuck");

	/* The driver lets go at last; the next release finishes the way back. */
	fk_unblock(rig.k, NVME_A);
	CHECK_STR(rig_driver(&rig, NVME_A), "");
	CHECK_INT(engine_release(rig.e, "two", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	CHECK(!rig_journal_exists(&rig, "two"));
	rig_teardown(&rig);
}

/* vfio-pci's probe blocks during prepare: the device is stuck (the link the probe made is not "on vfio"),
 * the rest is untouched, and release brings it back once the probe has failed. */
static void test_probe_blocks_on_prepare(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	rig_setup(&rig);
	fk_inject(rig.k, NVME_A, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), -ETIMEDOUT);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the kernel did not finish vfio-pci's probe of it within 2000 ms; it is "
		       "stuck until the kernel lets go, then run: hookctl release two");
	CHECK(fk_blocked(rig.k, NVME_A));
	CHECK_STR(rig_log_lines(&rig, NVME_B), "");
	p = rig_journal(&rig, "two");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", 0, "state"), "stuck");

	fk_unblock(rig.k, NVME_A);
	CHECK_STR(rig_driver(&rig, NVME_A), "");
	CHECK_INT(engine_release(rig.e, "two", &msg2), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	CHECK(!rig_journal_exists(&rig, "two"));
	rig_teardown(&rig);
}

static void test_failed_probe_rolls_back(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	rig_setup(&rig);
	fk_inject(rig.k, NVME_A, FK_PROBE_FAILS);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), -EIO);
	CHECK_STR(msg, "VM nas: " NVME_A " (a): it did not bind to vfio-pci (driver now: none)");
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	p = rig_journal(&rig, "nas");
	CHECK_INT(p->phase, PHASE_FAILED);
	CHECK_INT(p->devices[0].step, DEVICE_RESTORED);
	CHECK_STR(status_of("nas", -1, "state"), "on-host");
	CHECK_INT(engine_release(rig.e, "nas", &msg2), 0);
	CHECK(!rig_journal_exists(&rig, "nas"));
	rig_teardown(&rig);
}

/* Issue 9 item 3: the driver's probe takes longer than the deadline and then fails. The driver link that
 * appears when the probe starts is not "back"; the device is stuck, then without a driver, and release
 * keeps saying so (naming the command that fixes it) until the device is really back. */
static void test_probe_blocks_then_fails_on_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	rig_setup(&rig);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	fk_inject(rig.k, NVME_A, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK(engine_release(rig.e, "nas", &msg2) < 0);
	CHECK_STR(msg2, "VM nas: " NVME_A " (a): the kernel did not finish nvme's probe of it within 2000 ms; it is "
			"stuck until the kernel lets go, then run: hookctl release nas");
	CHECK(fk_blocked(rig.k, NVME_A));
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme"); /* the link of a probe still running */
	p = rig_journal(&rig, "nas");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("nas", 0, "state"), "stuck");
	CHECK_STR(status_of("nas", -1, "state"), "stuck");

	/* The probe fails: the link goes. Status compares the live driver with the original one. */
	fk_unblock(rig.k, NVME_A);
	CHECK_STR(rig_driver(&rig, NVME_A), "");
	plan_free(p);
	p = rig_journal(&rig, "nas");
	p->devices[0].step = DEVICE_RESTORED; /* even a journal that believed it */
	CHECK_INT(journal_save(rig.run_dir, p), 0);
	CHECK_STR(status_of("nas", 0, "state"), "no-driver");
	CHECK_STR(status_of("nas", -1, "state"), "partial");
	CHECK_STR(status_of("nas", -1, "error"),
		  "VM nas: " NVME_A " (a): it has no driver (it had nvme); run: hookctl release nas, or: echo " NVME_A
		  " > /sys/bus/pci/drivers_probe");

	/* Release does not trust the journal either: it probes again, and now the device is back. */
	CHECK_INT(engine_release(rig.e, "nas", &msg3), 0);
	CHECK(msg3 == NULL);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK(!rig_journal_exists(&rig, "nas"));
	rig_teardown(&rig);
}

static void test_probe_fails_on_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	rig_setup(&rig);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	fk_inject(rig.k, NVME_A, FK_PROBE_FAILS);
	CHECK_INT(engine_release(rig.e, "nas", &msg2), -EIO);
	CHECK_STR(msg2,
		  "VM nas: " NVME_A " (a): it has no driver (it had nvme); run: hookctl release nas, or: echo " NVME_A
		  " > /sys/bus/pci/drivers_probe");
	CHECK_STR(status_of("nas", 0, "state"), "no-driver");
	CHECK(rig_journal_exists(&rig, "nas"));
	CHECK_INT(engine_release(rig.e, "nas", &msg3), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	rig_teardown(&rig);
}

static void test_vanished_device(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *nas = rig_vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	/* Surprise removal while the driver lets go, during prepare: b is never touched. */
	rig_setup(&rig);
	fk_inject(rig.k, NVME_A, FK_VANISHES_AT_UNBIND);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the device disappeared from the bus while it was being moved");
	CHECK_STR(rig_log_lines(&rig, NVME_B), "");
	p = rig_journal(&rig, "two");
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", 0, "state"), "missing");
	rig_teardown(&rig);

	/* Gone while the VM runs: release says so, keeps the journal, and gives the rest back. */
	rig_setup(&rig);
	CHECK_INT(engine_prepare(rig.e, nas, NULL, &msg2), 0);
	fk_remove_device(rig.k, NVME_A);
	CHECK_INT(engine_release(rig.e, "nas", &msg3), -ENODEV);
	CHECK_STR(msg3, "VM nas: " NVME_A " (a): the device is gone from the bus (rescan with echo 1 > "
			"/sys/bus/pci/rescan)");
	CHECK(rig_journal_exists(&rig, "nas"));
	CHECK_STR(status_of("nas", 0, "state"), "missing");
	rig_teardown(&rig);
}

/* hookd died part-way through a prepare: the journal says MOVING, the tree is half-moved. A new engine
 * reads the journal at start and release converges the device on its host driver. */
static void test_recovery(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("crashed"), *back = NULL;
	const struct kernel *kern;
	_cleanup_free_ char *msg = NULL;
	struct plan_device *d;

	rig_setup(&rig);
	kern = fk_kernel(rig.k);
	p->devices = calloc(1, sizeof(*p->devices));
	d = &p->devices[0];
	d->name = strdup("a");
	memcpy(d->address, NVME_A, 13);
	d->original_driver = strdup("nvme");
	d->iommu_group = 14;
	d->step = DEVICE_MOVING;
	p->n_devices = 1;
	p->phase = PHASE_PREPARING;
	CHECK_INT(journal_save(rig.run_dir, p), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "vfio-pci", 1000),
		  0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver/unbind", NVME_A, 1000), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "");

	engine_free(rig.e);
	rig_up(&rig); /* hookd starting again: recovery */
	back = rig_journal(&rig, "crashed");
	CHECK_INT(back->phase, PHASE_FAILED);
	CHECK_INT(engine_release(rig.e, "crashed", &msg), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	CHECK(!rig_journal_exists(&rig, "crashed"));
	rig_teardown(&rig);
}

/* The fake kernel's own semantics, as the engine relies on them. */
static void test_fake_kernel_semantics(void)
{
	const struct kernel *kern;

	fx_machine(&rig.f);
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/reset_method", "flr bus");
	rig.k = fk_new(&rig.f);
	kern = fk_kernel(rig.k);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/reset_method", "pm", 1000), -EINVAL);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/reset_method", "bus", 1000), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_B "/reset_method", "bus", 1000), -ENOENT);
	/* Unbinding from a driver that does not have the device, binding a bound one. */
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers/nvidia/unbind", NVME_A, 1000), -ENODEV);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers/nvme/bind", NVME_A, 1000), -EBUSY);
	/* An override naming a driver whose module is not loaded: the probe finds nothing, and says success. */
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "vfio-pci\n", 1000),
		  0);
	CHECK_STR(rig_override(&rig, NVME_A), "vfio-pci");
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver/unbind", NVME_A, 1000), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers_probe", NVME_A, 1000), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "");
	/* Loading vfio-pci binds what asks for it. */
	CHECK_INT(kern->ops->module_load(kern->data, "vfio-pci", 1000), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "vfio-pci");
	CHECK_INT(kern->ops->module_load(kern->data, "no_such_module", 1000), -ENOENT);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "\n", 1000), 0);
	CHECK_STR(rig_override(&rig, NVME_A), "(null)");
	/* A module with a user cannot go; without, its devices are unbound with it. */
	fk_module_set_users(rig.k, "vfio_pci", 1);
	CHECK_INT(kern->ops->module_unload(kern->data, "vfio_pci", 1000), -EBUSY);
	fk_module_set_users(rig.k, "vfio_pci", 0);
	CHECK_INT(kern->ops->module_unload(kern->data, "vfio_pci", 1000), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "");
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers_probe", NVME_A, 1000), 0);
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	fk_free(rig.k);
	fx_clear(&rig.f);
}

/* release-console on a kernel where fbcon only comes back when the boot GPU is probed again: the engine
 * re-probes it. When that re-probe blocks then fails, the GPU is stuck, then without a driver, never "back". */
static void test_console_reprobe(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("desk", "[vm]\nrelease-console = yes\n[device.igpu]\naddress = 00:02.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL, *msg4 = NULL, *msg5 = NULL;
	struct topology t;
	_cleanup_free_ char *bind = NULL, *bind2 = NULL;

	rig_setup(&rig);
	t = (struct topology){ .sysfs_root = rig.f.sys, .proc_root = rig.f.proc };
	fk_fbcon_follows_probe(rig.k, IGPU);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_STR(rig_driver(&rig, IGPU), "vfio-pci");
	CHECK_INT(engine_release(rig.e, "desk", &msg2), 0);
	CHECK_STR(rig_driver(&rig, IGPU), "i915");
	CHECK_INT(topology_read_attr(&t, "class/vtconsole/vtcon1/bind", &bind), 0);
	CHECK_STR(bind, "1");
	CHECK_STR(rig_log_lines(&rig, "fbcon"), "fbcon vtcon1");

	/* The re-probe (the GPU's second probe on the way back) blocks, then fails. */
	fk_log_clear(rig.k);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg3), 0);
	fk_inject_after(rig.k, IGPU, FK_PROBE_BLOCKS_THEN_FAILS, 1);
	CHECK(engine_release(rig.e, "desk", &msg4) < 0);
	CHECK(msg4 &&
	      strstr(msg4, "VM desk: " IGPU " (igpu): the kernel did not finish i915's probe of it within 2000 ms"));
	p = rig_journal(&rig, "desk");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("desk", 0, "state"), "stuck");
	fk_unblock(rig.k, IGPU);
	CHECK_STR(rig_driver(&rig, IGPU), "");
	CHECK_INT(engine_release(rig.e, "desk", &msg5), 0);
	CHECK_STR(rig_driver(&rig, IGPU), "i915");
	CHECK_INT(topology_read_attr(&t, "class/vtconsole/vtcon1/bind", &bind2), 0);
	CHECK_STR(bind2, "1");
	CHECK(!rig_journal_exists(&rig, "desk"));
	rig_teardown(&rig);
}

int main(void)
{
	RUN(test_managed_hostdev_refused);
	RUN(test_fake_kernel_semantics);
	RUN(test_prepare_release);
	RUN(test_whole_group_with_modules);
	RUN(test_module_in_use);
	RUN(test_reset_method);
	RUN(test_module_load_probe_blocks);
	RUN(test_blocked_unbind);
	RUN(test_probe_blocks_on_prepare);
	RUN(test_failed_probe_rolls_back);
	RUN(test_probe_blocks_then_fails_on_release);
	RUN(test_probe_fails_on_release);
	RUN(test_vanished_device);
	RUN(test_recovery);
	RUN(test_console_reprobe);
	return 0;
}

/* prepare, release, rollback and recovery end to end through the fake kernel (fake-kernel.h): devices really
 * move in the fixture tree, modules load and unload in order, and the kernel's slow or failing steps (an
 * unbind that blocks holding the device lock, a probe that blocks then fails, a device that disappears)
 * are reached on purpose. Fixture trees only, never /sys. */
#include <sys/stat.h>

#include "config.h"
#include "engine-fixture.h"
#include "engine.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "topology.h"
#include "util.h"

#define WRITE_TIMEOUT_MS 2000 /* the fake kernel keeps its own time: only the messages show it */

static struct fixture f;
static struct fake_kernel *k;
static struct engine *e;
static char run_dir[128]; /* the journals, on tmpfs when there is one: their fsyncs are what takes time */

static struct vm_config *vm(const char *name, const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	CHECK_INT(vm_config_parse_string(name, text, "test.ini", &c, &d), 0);
	return c;
}

/* A fake kernel and an engine over the fixture F already holds. */
static void setup_on_fixture(void)
{
	struct engine_options opts;

	snprintf(run_dir, sizeof(run_dir), "/dev/shm/hookd-run-XXXXXX");
	if (!mkdtemp(run_dir))
		snprintf(run_dir, sizeof(run_dir), "%s", f.run);
	k = fk_new(&f);
	opts = (struct engine_options){ .sysfs_root = f.sys,
					.proc_root = f.proc,
					.run_dir = run_dir,
					.sysfs_timeout_ms = WRITE_TIMEOUT_MS,
					.operation_timeout_ms = 60000,
					.kernel = fk_kernel(k) };
	CHECK_INT(engine_new(&opts, &e), 0);
	CHECK_INT(engine_recover(e), 0);
}

/* A fresh machine, fake kernel and engine for each test. */
static void setup(void)
{
	fx_machine(&f);
	setup_on_fixture();
}

static void teardown(void)
{
	engine_free(e);
	fk_free(k);
	if (startswith(run_dir, "/dev/shm/hookd-run-"))
		fx_rm_rf(run_dir);
	fx_clear(&f);
}

/* The driver ADDRESS is bound to now, as the tree shows it; "" for none. Static buffer. */
static const char *driver_of(const char *address)
{
	static char buf[64];
	struct topology t = { .sysfs_root = f.sys, .proc_root = f.proc };
	_cleanup_free_ char *d = NULL;

	CHECK_INT(topology_driver(&t, address, &d), 0);
	snprintf(buf, sizeof(buf), "%s", d ? d : "");
	return buf;
}

static const char *override_of(const char *address)
{
	static char buf[64];
	struct topology t = { .sysfs_root = f.sys, .proc_root = f.proc };
	_cleanup_free_ char *v = NULL;
	char rel[96];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", address);
	CHECK_INT(topology_read_attr(&t, rel, &v), 0);
	snprintf(buf, sizeof(buf), "%s", v);
	return buf;
}

/* Field FIELD of VM NAME's status, or of its device I (I >= 0). Static buffer; "" for null. */
static const char *status_of(const char *name, int i, const char *field)
{
	static char buf[512];
	json_object *st = NULL, *v;

	CHECK_INT(engine_status(e, name, &st), 0);
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

static struct plan *journal(const char *name)
{
	struct plan *p = NULL;

	CHECK_INT(journal_load(run_dir, name, &p), 0);
	return p;
}

static bool journal_exists(const char *name)
{
	_cleanup_(plan_freep) struct plan *p = NULL;

	return journal_load(run_dir, name, &p) == 0;
}

/* The lines of the fake kernel's log that mention NEEDLE, in order, joined by "|". Static buffer. */
static const char *log_lines(const char *needle)
{
	static char buf[2048];
	_cleanup_free_ char *copy = strdup(fk_log(k));
	char *save = NULL;

	buf[0] = '\0';
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strstr(l, needle))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? "|" : "", l);
	return buf;
}

/* ---- success paths ---- */

static void test_prepare_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	CHECK(!fk_module_loaded(k, "vfio_pci"));
	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	CHECK(msg == NULL);
	CHECK_STR(driver_of(NVME_A), "vfio-pci");
	CHECK_STR(override_of(NVME_A), "vfio-pci");
	CHECK(fk_module_loaded(k, "vfio_pci"));
	CHECK_STR(log_lines(NVME_A), "override " NVME_A " vfio-pci|unbind " NVME_A " nvme|bind " NVME_A " vfio-pci");
	CHECK_STR(status_of("nas", -1, "state"), "prepared");
	CHECK_STR(status_of("nas", 0, "state"), "on-vfio");
	CHECK_STR(driver_of(NVME_B), "nvme"); /* its twin is left alone */

	fk_log_clear(k);
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	CHECK_STR(log_lines(NVME_A), "unbind " NVME_A " vfio-pci|override " NVME_A " (null)|bind " NVME_A " nvme");
	CHECK(!journal_exists("nas"));
	teardown();
}

/* nvidia's stack, listed in the wrong order: unloaded holders first, the GPU moves when its driver goes,
 * and on release the driver's module comes back first and binds the GPU by itself. */
static void test_whole_group_with_modules(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[vm]\nunload-modules = nvidia nvidia_modeset nvidia_drm\n"
			    "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	const char *members[] = { GPU, GPU_AUDIO, GPU_USB, GPU_UCSI };

	setup();
	fk_add_module(k, "nvidia_modeset", true, NULL);
	fk_add_module(k, "nvidia_drm", true, NULL);
	fk_module_depends(k, "nvidia_modeset", "nvidia");
	fk_module_depends(k, "nvidia_drm", "nvidia_modeset");
	fk_module_depends(k, "nvidia_drm", "nvidia");

	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	CHECK_STR(log_lines("load "), "unload nvidia_drm|unload nvidia_modeset|unload nvidia|load vfio_pci");
	for (size_t i = 0; i < ELEMENTSOF(members); i++)
		CHECK_STR(driver_of(members[i]), "vfio-pci");
	CHECK_STR(driver_of(ROOT_PORT), "pcieport"); /* the bridge stays with the host */
	CHECK_STR(status_of("win10", -1, "state"), "prepared");

	fk_log_clear(k);
	CHECK_INT(engine_release(e, "win10", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(driver_of(GPU), "nvidia");
	CHECK_STR(driver_of(GPU_AUDIO), "snd_hda_intel");
	CHECK_STR(driver_of(GPU_USB), "xhci_hcd");
	CHECK_STR(driver_of(GPU_UCSI), "nvidia-gpu");
	for (size_t i = 0; i < ELEMENTSOF(members); i++)
		CHECK_STR(override_of(members[i]), "(null)");
	/* nvidia's own load bound the GPU; the modules that hold it come back after it. */
	CHECK_STR(log_lines("load "), "load nvidia|load nvidia_modeset|load nvidia_drm");
	CHECK_STR(log_lines("bind " GPU " nvidia"), "bind " GPU " nvidia");
	CHECK(!journal_exists("win10"));
	teardown();
}

static void test_module_in_use(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_(vm_config_freep) struct vm_config *partial =
		vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	/* A process holds the GPU open: refused before anything changes. */
	fk_module_set_users(k, "nvidia", 1);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM win10: module nvidia: it is in use (1 reference besides its holders)");
	CHECK_STR(fk_log(k), "");
	CHECK(fk_module_loaded(k, "nvidia"));

	/* A holder that is not in the list: refused too. */
	fk_module_set_users(k, "nvidia", 0);
	fk_add_module(k, "nvidia_drm", true, NULL);
	fk_module_depends(k, "nvidia_drm", "nvidia");
	CHECK_INT(engine_prepare(e, partial, NULL, &msg2), ENGINE_REFUSED);
	CHECK(strstr(msg2, "module nvidia: it is held by nvidia_drm, which is not in unload-modules"));
	CHECK_STR(fk_log(k), "");
	CHECK_STR(driver_of(GPU), "nvidia");
	teardown();
}

/* On release, loading the driver's module probes the GPU from the module's init; that probe blocks, then
 * fails. The load is bounded like a write, and the GPU is stuck, not back. */
static void test_module_load_probe_blocks(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[vm]\nunload-modules = nvidia\n[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	setup();
	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	CHECK(!fk_module_loaded(k, "nvidia"));
	fk_inject(k, GPU, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK_INT(engine_release(e, "win10", &msg2), -ETIMEDOUT);
	CHECK(strstr(msg2,
		     "VM win10: " GPU " (gpu): the kernel did not finish loading module nvidia (its init probes "
		     "the device) within 2000 ms; it is stuck until the kernel lets go, then run: hookctl release "
		     "win10"));
	CHECK(fk_blocked(k, GPU));
	CHECK_STR(driver_of(GPU_AUDIO), "snd_hda_intel"); /* the others are back */
	p = journal("win10");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("win10", -1, "state"), "stuck");

	fk_unblock(k, GPU);
	CHECK_STR(driver_of(GPU), "");
	CHECK_INT(engine_release(e, "win10", &msg3), 0);
	CHECK_STR(driver_of(GPU), "nvidia");
	CHECK(!journal_exists("win10"));
	teardown();
}

/* reset_method: the method asked for while the VM runs, and what was there before once it is released; a
 * method the device does not offer is refused by the checks, as the kernel would refuse it. */
static void test_reset_method(void)
{
	_cleanup_(vm_config_freep) struct vm_config *good =
		vm("nas", "[device.a]\naddress = 04:00.0\nreset-method = flr\n");
	_cleanup_(vm_config_freep) struct vm_config *bad =
		vm("nas", "[device.a]\naddress = 04:00.0\nreset-method = pm\n");
	struct topology t = { 0 };
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;

	fx_machine(&f);
	fx_write(&f, "sys", "bus/pci/devices/" NVME_A "/reset_method", "flr bus");
	setup_on_fixture();
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	CHECK_INT(engine_prepare(e, good, NULL, &msg), 0);
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m1), 0);
	CHECK_STR(m1, "flr");
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m2), 0);
	CHECK_STR(m2, "flr bus");

	/* A method the device does not offer, which the kernel would refuse: refused before anything changes. */
	fk_log_clear(k);
	CHECK_INT(engine_prepare(e, bad, NULL, &msg3), ENGINE_REFUSED);
	CHECK_STR(msg3,
		  "VM nas: " NVME_A " (a): reset-method = pm, but the device does not offer it (it offers: flr bus)");
	CHECK_STR(fk_log(k), "");
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	CHECK_INT(topology_read_attr(&t, "bus/pci/devices/" NVME_A "/reset_method", &m3), 0);
	CHECK_STR(m3, "flr bus");
	teardown();
}

/* ---- the kernel's slow and failing steps ---- */

static void test_blocked_unbind(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	fk_inject(k, NVME_A, FK_UNBIND_BLOCKS);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), -ETIMEDOUT);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the kernel did not finish unbinding it from nvme within 2000 ms; it is "
		       "stuck until the kernel lets go, then run: hookctl release two");
	/* The engine kept its deadline: the unbind is still running in the kernel. */
	CHECK(fk_blocked(k, NVME_A));
	/* Nothing half-moved beyond what is reported: b was never touched, a is journaled as stuck. */
	CHECK_STR(log_lines(NVME_B), "");
	CHECK_STR(driver_of(NVME_B), "nvme");
	p = journal("two");
	CHECK_INT(p->phase, PHASE_FAILED);
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", -1, "state"), "stuck");
	CHECK_STR(status_of("two", 0, "state"), "stuck");

	/* The driver lets go at last; the next release finishes the way back. */
	fk_unblock(k, NVME_A);
	CHECK_STR(driver_of(NVME_A), "");
	CHECK_INT(engine_release(e, "two", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	CHECK(!journal_exists("two"));
	teardown();
}

/* vfio-pci's probe blocks during prepare: the device is stuck (the link the probe made is not "on vfio"),
 * the rest is untouched, and release brings it back once the probe has failed. */
static void test_probe_blocks_on_prepare(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	fk_inject(k, NVME_A, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), -ETIMEDOUT);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the kernel did not finish vfio-pci's probe of it within 2000 ms; it is "
		       "stuck until the kernel lets go, then run: hookctl release two");
	CHECK(fk_blocked(k, NVME_A));
	CHECK_STR(log_lines(NVME_B), "");
	p = journal("two");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", 0, "state"), "stuck");

	fk_unblock(k, NVME_A);
	CHECK_STR(driver_of(NVME_A), "");
	CHECK_INT(engine_release(e, "two", &msg2), 0);
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	CHECK(!journal_exists("two"));
	teardown();
}

static void test_failed_probe_rolls_back(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	setup();
	fk_inject(k, NVME_A, FK_PROBE_FAILS);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), -EIO);
	CHECK_STR(msg, "VM nas: " NVME_A " (a): it did not bind to vfio-pci (driver now: none)");
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	p = journal("nas");
	CHECK_INT(p->phase, PHASE_FAILED);
	CHECK_INT(p->devices[0].step, DEVICE_RESTORED);
	CHECK_STR(status_of("nas", -1, "state"), "on-host");
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK(!journal_exists("nas"));
	teardown();
}

/* Issue 9 item 3: the driver's probe takes longer than the deadline and then fails. The driver link that
 * appears when the probe starts is not "back"; the device is stuck, then without a driver, and release
 * keeps saying so (naming the command that fixes it) until the device is really back. */
static void test_probe_blocks_then_fails_on_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	setup();
	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	fk_inject(k, NVME_A, FK_PROBE_BLOCKS_THEN_FAILS);
	CHECK(engine_release(e, "nas", &msg2) < 0);
	CHECK_STR(msg2, "VM nas: " NVME_A " (a): the kernel did not finish nvme's probe of it within 2000 ms; it is "
			"stuck until the kernel lets go, then run: hookctl release nas");
	CHECK(fk_blocked(k, NVME_A));
	CHECK_STR(driver_of(NVME_A), "nvme"); /* the link of a probe still running */
	p = journal("nas");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("nas", 0, "state"), "stuck");
	CHECK_STR(status_of("nas", -1, "state"), "stuck");

	/* The probe fails: the link goes. Status compares the live driver with the original one. */
	fk_unblock(k, NVME_A);
	CHECK_STR(driver_of(NVME_A), "");
	plan_free(p);
	p = journal("nas");
	p->devices[0].step = DEVICE_RESTORED; /* even a journal that believed it */
	CHECK_INT(journal_save(run_dir, p), 0);
	CHECK_STR(status_of("nas", 0, "state"), "no-driver");
	CHECK_STR(status_of("nas", -1, "state"), "partial");
	CHECK_STR(status_of("nas", -1, "error"),
		  "VM nas: " NVME_A " (a): it has no driver (it had nvme); run: hookctl release nas, or: echo " NVME_A
		  " > /sys/bus/pci/drivers_probe");

	/* Release does not trust the journal either: it probes again, and now the device is back. */
	CHECK_INT(engine_release(e, "nas", &msg3), 0);
	CHECK(msg3 == NULL);
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK(!journal_exists("nas"));
	teardown();
}

static void test_probe_fails_on_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	setup();
	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	fk_inject(k, NVME_A, FK_PROBE_FAILS);
	CHECK_INT(engine_release(e, "nas", &msg2), -EIO);
	CHECK_STR(msg2,
		  "VM nas: " NVME_A " (a): it has no driver (it had nvme); run: hookctl release nas, or: echo " NVME_A
		  " > /sys/bus/pci/drivers_probe");
	CHECK_STR(status_of("nas", 0, "state"), "no-driver");
	CHECK(journal_exists("nas"));
	CHECK_INT(engine_release(e, "nas", &msg3), 0);
	CHECK_STR(driver_of(NVME_A), "nvme");
	teardown();
}

static void test_vanished_device(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("two", "[device.a]\naddress = 04:00.0\n[device.b]\naddress = 05:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *nas = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	/* Surprise removal while the driver lets go, during prepare: b is never touched. */
	setup();
	fk_inject(k, NVME_A, FK_VANISHES_AT_UNBIND);
	CHECK(engine_prepare(e, c, NULL, &msg) < 0);
	CHECK_STR(msg, "VM two: " NVME_A " (a): the device disappeared from the bus while it was being moved");
	CHECK_STR(log_lines(NVME_B), "");
	p = journal("two");
	CHECK_INT(p->devices[1].step, DEVICE_PLANNED);
	CHECK_STR(status_of("two", 0, "state"), "missing");
	teardown();

	/* Gone while the VM runs: release says so, keeps the journal, and gives the rest back. */
	setup();
	CHECK_INT(engine_prepare(e, nas, NULL, &msg2), 0);
	fk_remove_device(k, NVME_A);
	CHECK_INT(engine_release(e, "nas", &msg3), -ENODEV);
	CHECK_STR(msg3, "VM nas: " NVME_A " (a): the device is gone from the bus (rescan with echo 1 > "
			"/sys/bus/pci/rescan)");
	CHECK(journal_exists("nas"));
	CHECK_STR(status_of("nas", 0, "state"), "missing");
	teardown();
}

/* hookd died part-way through a prepare: the journal says MOVING, the tree is half-moved. A new engine
 * reads the journal at start and release converges the device on its host driver. */
static void test_recovery(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("crashed"), *back = NULL;
	const struct kernel *kern;
	_cleanup_free_ char *msg = NULL;
	struct plan_device *d;

	setup();
	kern = fk_kernel(k);
	p->devices = calloc(1, sizeof(*p->devices));
	d = &p->devices[0];
	d->name = strdup("a");
	memcpy(d->address, NVME_A, 13);
	d->original_driver = strdup("nvme");
	d->iommu_group = 14;
	d->step = DEVICE_MOVING;
	p->n_devices = 1;
	p->phase = PHASE_PREPARING;
	CHECK_INT(journal_save(run_dir, p), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "vfio-pci", 1000),
		  0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver/unbind", NVME_A, 1000), 0);
	CHECK_STR(driver_of(NVME_A), "");

	engine_free(e);
	{
		struct engine_options opts = { .sysfs_root = f.sys,
					       .proc_root = f.proc,
					       .run_dir = run_dir,
					       .sysfs_timeout_ms = WRITE_TIMEOUT_MS,
					       .kernel = fk_kernel(k) };

		CHECK_INT(engine_new(&opts, &e), 0);
	}
	CHECK_INT(engine_recover(e), 0);
	back = journal("crashed");
	CHECK_INT(back->phase, PHASE_FAILED);
	CHECK_INT(engine_release(e, "crashed", &msg), 0);
	CHECK_STR(driver_of(NVME_A), "nvme");
	CHECK_STR(override_of(NVME_A), "(null)");
	CHECK(!journal_exists("crashed"));
	teardown();
}

/* The fake kernel's own semantics, as the engine relies on them. */
static void test_fake_kernel_semantics(void)
{
	const struct kernel *kern;

	fx_machine(&f);
	fx_write(&f, "sys", "bus/pci/devices/" NVME_A "/reset_method", "flr bus");
	k = fk_new(&f);
	kern = fk_kernel(k);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/reset_method", "pm", 1000), -EINVAL);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/reset_method", "bus", 1000), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_B "/reset_method", "bus", 1000), -ENOENT);
	/* Unbinding from a driver that does not have the device, binding a bound one. */
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers/nvidia/unbind", NVME_A, 1000), -ENODEV);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers/nvme/bind", NVME_A, 1000), -EBUSY);
	/* An override naming a driver whose module is not loaded: the probe finds nothing, and says success. */
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "vfio-pci\n", 1000),
		  0);
	CHECK_STR(override_of(NVME_A), "vfio-pci");
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver/unbind", NVME_A, 1000), 0);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers_probe", NVME_A, 1000), 0);
	CHECK_STR(driver_of(NVME_A), "");
	/* Loading vfio-pci binds what asks for it. */
	CHECK_INT(kern->ops->module_load(kern->data, "vfio-pci", 1000), 0);
	CHECK_STR(driver_of(NVME_A), "vfio-pci");
	CHECK_INT(kern->ops->module_load(kern->data, "no_such_module", 1000), -ENOENT);
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/devices/" NVME_A "/driver_override", "\n", 1000), 0);
	CHECK_STR(override_of(NVME_A), "(null)");
	/* A module with a user cannot go; without, its devices are unbound with it. */
	fk_module_set_users(k, "vfio_pci", 1);
	CHECK_INT(kern->ops->module_unload(kern->data, "vfio_pci", 1000), -EBUSY);
	fk_module_set_users(k, "vfio_pci", 0);
	CHECK_INT(kern->ops->module_unload(kern->data, "vfio_pci", 1000), 0);
	CHECK_STR(driver_of(NVME_A), "");
	CHECK_INT(kern->ops->sysfs_write(kern->data, "bus/pci/drivers_probe", NVME_A, 1000), 0);
	CHECK_STR(driver_of(NVME_A), "nvme");
	fk_free(k);
	fx_clear(&f);
}

/* release-console on a kernel where fbcon only comes back when the boot GPU is probed again: the engine
 * re-probes it. When that re-probe blocks then fails, the GPU is stuck, then without a driver, never "back". */
static void test_console_reprobe(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("desk", "[vm]\nrelease-console = yes\n[device.igpu]\naddress = 00:02.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL, *msg4 = NULL, *msg5 = NULL;
	struct topology t;
	_cleanup_free_ char *bind = NULL, *bind2 = NULL;

	setup();
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	fk_fbcon_follows_probe(k, IGPU);
	CHECK_INT(engine_prepare(e, c, NULL, &msg), 0);
	CHECK_STR(driver_of(IGPU), "vfio-pci");
	CHECK_INT(engine_release(e, "desk", &msg2), 0);
	CHECK_STR(driver_of(IGPU), "i915");
	CHECK_INT(topology_read_attr(&t, "class/vtconsole/vtcon1/bind", &bind), 0);
	CHECK_STR(bind, "1");
	CHECK_STR(log_lines("fbcon"), "fbcon vtcon1");

	/* The re-probe (the GPU's second probe on the way back) blocks, then fails. */
	fk_log_clear(k);
	CHECK_INT(engine_prepare(e, c, NULL, &msg3), 0);
	fk_inject_after(k, IGPU, FK_PROBE_BLOCKS_THEN_FAILS, 1);
	CHECK(engine_release(e, "desk", &msg4) < 0);
	CHECK(msg4 &&
	      strstr(msg4, "VM desk: " IGPU " (igpu): the kernel did not finish i915's probe of it within 2000 ms"));
	p = journal("desk");
	CHECK_INT(p->devices[0].step, DEVICE_STUCK);
	CHECK_STR(status_of("desk", 0, "state"), "stuck");
	fk_unblock(k, IGPU);
	CHECK_STR(driver_of(IGPU), "");
	CHECK_INT(engine_release(e, "desk", &msg5), 0);
	CHECK_STR(driver_of(IGPU), "i915");
	CHECK_INT(topology_read_attr(&t, "class/vtconsole/vtcon1/bind", &bind2), 0);
	CHECK_STR(bind2, "1");
	CHECK(!journal_exists("desk"));
	teardown();
}

int main(void)
{
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

/* Holders in the engine, end to end through the fake kernel (fake-kernel.h) on a fixture /proc: prepare
 * refuses a held device before anything is written, in one line naming the first holder; check lists every
 * holder; a holder that appears after the checks (the race) is found again just before the unbind, fails the
 * prepare naming it, and everything done is undone. Fixture trees only, never /sys or /proc. */
#include <sys/stat.h>

#include "checks.h"
#include "engine-rig.h"
#include "engine.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "proc-fixture.h"
#include "util.h"

static struct engine_rig rig;

/* The race: the kernel between the engine and the fake kernel, which starts a process holding a node of the
 * device whose driver_override is being set (after the checks, before the unbind). */
static struct kernel racing;
static struct kernel_ops racing_ops;
static const char *race_address; /* NULL: no race */
static const char *race_node;

static int racing_write(void *data, const char *relpath, const char *value, unsigned timeout_ms)
{
	char rel[96];

	if (race_address) {
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", race_address);
		if (streq(relpath, rel) && streq(value, "vfio-pci")) {
			fx_process(&rig.f, 4321, "poller", 0, "/user.slice/user-0.slice/session-3.scope");
			fx_process_fd(&rig.f, 4321, 3, race_node);
		}
	}
	return fk_kernel(rig.k)->ops->sysfs_write(data, relpath, value, timeout_ms);
}

/* engine-fixture.h's machine with the GPU's DRM and ALSA nodes, a fake kernel behind the racing one, and an
 * engine over both. */
static void setup(void)
{
	fx_machine(&rig.f);
	fx_class_node(&rig.f, GPU, "drm/card0", "drm", 226, 0, "dri/card0");
	fx_class_node(&rig.f, GPU, "drm/renderD128", "drm", 226, 128, "dri/renderD128");
	fx_class_node(&rig.f, GPU_AUDIO, "sound/card1/pcmC1D3p", "sound", 116, 11, "snd/pcmC1D3p");
	rig_start(&rig);
	racing_ops = *fk_kernel(rig.k)->ops;
	racing_ops.sysfs_write = racing_write;
	racing = (struct kernel){ .ops = &racing_ops, .data = fk_kernel(rig.k)->data };
	race_address = race_node = NULL;
	rig.kernel = &racing;
	rig_up(&rig);
}

static void desktop_processes(void)
{
	fx_process(&rig.f, 1234, "Xorg", 0, "/system.slice/display-manager.service");
	fx_process_fd(&rig.f, 1234, 11, "/dev/dri/card0");
	fx_process(&rig.f, 1300, "gnome-shell", 0, "/user.slice/user-0.slice/session-2.scope");
	fx_process_fd(&rig.f, 1300, 20, "/dev/dri/renderD128");
	fx_process_map(&rig.f, 1300, "/dev/dri/card0");
	fx_process(&rig.f, 1400, "pipewire", 0,
		   "/user.slice/user-0.slice/user@0.service/session.slice/pipewire.service");
	fx_process_fd(&rig.f, 1400, 30, "/dev/snd/pcmC1D3p");
}

#define GPU_VM "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n"

static void test_prepare_refuses_naming_the_first_holder(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", GPU_VM);
	_cleanup_free_ char *msg = NULL;
	_cleanup_strv_free_ char **journals = NULL;

	setup();
	desktop_processes();
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM win10: " GPU " (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service) and "
		       "1 more (hookctl check win10 lists them)");
	/* Refused before anything was written: nothing in the kernel, no journal. */
	CHECK_STR(fk_log(rig.k), "");
	CHECK_INT(journal_list(rig.run_dir, &journals), 0);
	CHECK(journals[0] == NULL);
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	rig_teardown(&rig);
}

static void test_check_lists_every_holder(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", GPU_VM);
	json_object *result = NULL, *list;

	setup();
	desktop_processes();
	CHECK_INT(engine_check(rig.e, c, NULL, &result), 0);
	CHECK(!json_object_get_boolean(json_object_object_get(result, "ok")));
	list = json_object_object_get(result, "problems");
	CHECK_INT(json_object_array_length(list), 2);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 1)),
		  "VM win10: " GPU_AUDIO " (gpu+group) is in use by pid 1400 (pipewire, user root, pipewire.service of "
		  "user@0.service)");
	list = json_object_object_get(result, "holders");
	CHECK_INT(json_object_array_length(list), 3);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 0)),
		  "VM win10: " GPU " (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service): "
		  "/dev/dri/card0");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 1)),
		  "VM win10: " GPU " (gpu) is in use by pid 1300 (gnome-shell, user root, session 2): "
		  "/dev/dri/renderD128, mapped /dev/dri/card0");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 2)),
		  "VM win10: " GPU_AUDIO " (gpu+group) is in use by pid 1400 (pipewire, user root, pipewire.service "
		  "of user@0.service): /dev/snd/pcmC1D3p");
	json_object_put(result);
	CHECK_STR(fk_log(rig.k), "");

	/* Nobody holds anything: check says ok and lists nobody. */
	fx_rm_rf(rig.f.proc);
	fx_mkdir_p(rig.f.proc);
	fx_write(&rig.f, "proc", "self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw");
	CHECK_INT(engine_check(rig.e, c, NULL, &result), 0);
	CHECK(json_object_get_boolean(json_object_object_get(result, "ok")));
	CHECK_INT(json_object_array_length(json_object_object_get(result, "holders")), 0);
	json_object_put(result);
	rig_teardown(&rig);
}

/* A 3-device plan, holders on two of them, one process on both, the same resource file mapped on each: the one
 * scan of /proc names each holder against the device it holds, with only what it holds of that device. */
static void test_one_scan_attributes_each_holder(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[device.gpu]\naddress = 0a:00.0\n[device.audio]\naddress = 0a:00.1\n"
				"[device.disk]\naddress = 04:00.0\n");
	json_object *result = NULL, *list;

	setup();
	fx_process(&rig.f, 1234, "Xorg", 0, "/system.slice/display-manager.service");
	fx_process_fd(&rig.f, 1234, 11, "/dev/dri/card0");
	fx_process_map(&rig.f, 1234, "/sys/bus/pci/devices/" GPU "/resource0");
	fx_process(&rig.f, 1500, "backup", 0, "/system.slice/backup.service");
	fx_process_fd(&rig.f, 1500, 4, "/dev/nvme0n1");
	fx_process_fd(&rig.f, 1500, 5, "/dev/dri/renderD128");
	fx_process_map(&rig.f, 1500, "/sys/bus/pci/devices/" NVME_A "/resource0");
	CHECK_INT(engine_check(rig.e, c, NULL, &result), 0);
	CHECK(!json_object_get_boolean(json_object_object_get(result, "ok")));
	list = json_object_object_get(result, "holders");
	CHECK_INT(json_object_array_length(list), 3);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 0)),
		  "VM win10: " GPU " (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service): "
		  "/dev/dri/card0, mapped resource0");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 1)),
		  "VM win10: " GPU
		  " (gpu) is in use by pid 1500 (backup, user root, backup.service): /dev/dri/renderD128");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 2)),
		  "VM win10: " NVME_A
		  " (disk) is in use by pid 1500 (backup, user root, backup.service): /dev/nvme0n1, "
		  "mapped resource0");
	/* The refusals: one line per held device, none for the audio function nobody holds. */
	list = json_object_object_get(result, "problems");
	CHECK_INT(json_object_array_length(list), 3);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 1)),
		  "VM win10: " GPU " (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service) and 1 more "
		  "(hookctl check win10 lists them)");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 2)),
		  "VM win10: " NVME_A " (disk) is in use by pid 1500 (backup, user root, backup.service)");
	json_object_put(result);
	CHECK_STR(fk_log(rig.k), "");
	rig_teardown(&rig);
}

/* The poller opens the GPU's node after the checks passed, as its override is set: the re-check before the
 * unbind finds it, the prepare fails naming it, and the GPU never left nvidia. */
static void test_race_before_the_first_unbind(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", GPU_VM);
	_cleanup_free_ char *msg = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	race_address = GPU;
	race_node = "/dev/dri/card0";
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	CHECK_STR(msg, "VM win10: " GPU " (gpu) is in use by pid 4321 (poller, user root, session 3)");
	CHECK(!strstr(fk_log(rig.k), "unbind " GPU));
	CHECK_STR(rig_driver(&rig, GPU), "nvidia");
	CHECK_STR(rig_override(&rig, GPU), "(null)");
	CHECK_INT(journal_load(rig.run_dir, "win10", &p), 0);
	CHECK_INT(p->phase, PHASE_FAILED);
	for (size_t i = 0; i < p->n_devices; i++)
		CHECK(p->devices[i].step == DEVICE_PLANNED || p->devices[i].step == DEVICE_RESTORED);
	rig_teardown(&rig);
}

/* The same on the second device, after the first moved: the first is given back, nothing is left half-moved. */
static void test_race_after_a_device_moved(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", GPU_VM);
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	const char *members[] = { GPU, GPU_AUDIO, GPU_USB, GPU_UCSI };
	const char *drivers[] = { "nvidia", "snd_hda_intel", "xhci_hcd", "nvidia-gpu" };

	setup();
	race_address = GPU_AUDIO;
	race_node = "/dev/snd/pcmC1D3p";
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	CHECK_STR(msg, "VM win10: " GPU_AUDIO " (gpu+group) is in use by pid 4321 (poller, user root, session 3)");
	CHECK(strstr(fk_log(rig.k), "unbind " GPU " nvidia"));
	CHECK(!strstr(fk_log(rig.k), "unbind " GPU_AUDIO));
	for (size_t i = 0; i < ELEMENTSOF(members); i++) {
		CHECK_STR(rig_driver(&rig, members[i]), drivers[i]);
		CHECK_STR(rig_override(&rig, members[i]), "(null)");
	}
	/* Once the poller is gone, the same prepare goes through. */
	fx_rm_rf(strcat(strcpy((char[256]){ 0 }, rig.f.proc), "/4321"));
	race_address = NULL;
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg2), 0);
	CHECK_STR(rig_driver(&rig, GPU), "vfio-pci");
	CHECK_STR(rig_driver(&rig, GPU_AUDIO), "vfio-pci");
	rig_teardown(&rig);
}

/* status: one scan for all the devices it asks about, each holder against the device it holds, nothing added
 * to a device nobody holds. */
static void test_status_names_holders_per_device(void)
{
	const struct topology t = { .sysfs_root = rig.f.sys, .proc_root = rig.f.proc };
	struct status_holders_query q[3] = { { GPU, -1, json_object_new_object() },
					     { GPU_AUDIO, -1, json_object_new_object() },
					     { NVME_A, -1, json_object_new_object() } };
	json_object *list;

	setup();
	fx_process(&rig.f, 1234, "Xorg", 0, "/system.slice/display-manager.service");
	fx_process_fd(&rig.f, 1234, 11, "/dev/dri/card0");
	fx_process(&rig.f, 1500, "backup", 0, "/system.slice/backup.service");
	fx_process_fd(&rig.f, 1500, 4, "/dev/nvme0n1");
	fx_process_fd(&rig.f, 1500, 5, "/dev/dri/renderD128");
	status_add_holders(&t, q, 3, 5000);
	list = json_object_object_get(q[0].device, "holders");
	CHECK_INT(json_object_array_length(list), 2);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 0)),
		  "pid 1234 (Xorg, user root, display-manager.service): /dev/dri/card0");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 1)),
		  "pid 1500 (backup, user root, backup.service): /dev/dri/renderD128");
	CHECK(!json_object_object_get_ex(q[1].device, "holders", NULL));
	CHECK(!json_object_object_get_ex(q[1].device, "holders_error", NULL));
	list = json_object_object_get(q[2].device, "holders");
	CHECK_INT(json_object_array_length(list), 1);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 0)),
		  "pid 1500 (backup, user root, backup.service): /dev/nvme0n1");
	for (size_t i = 0; i < 3; i++)
		json_object_put(q[i].device);

	/* A proc root that cannot be read: each device says so, none is shown as free. */
	const struct topology gone = { .sysfs_root = rig.f.sys, .proc_root = "/nonexistent/hookd-proc" };
	struct status_holders_query g = { GPU, -1, json_object_new_object() };

	status_add_holders(&gone, &g, 1, 5000);
	CHECK(json_object_object_get_ex(g.device, "holders_error", NULL));
	json_object_put(g.device);
	rig_teardown(&rig);
}

int main(void)
{
	RUN(test_prepare_refuses_naming_the_first_holder);
	RUN(test_check_lists_every_holder);
	RUN(test_one_scan_attributes_each_holder);
	RUN(test_status_names_holders_per_device);
	RUN(test_race_before_the_first_unbind);
	RUN(test_race_after_a_device_moved);
	return 0;
}

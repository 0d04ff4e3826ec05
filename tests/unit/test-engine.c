/* The journal (atomic replace, round trip, listing) and the engine's decisions against a fixture tree:
 * the dry run, claims between VMs, rollback after a bind that does not happen, idempotent release, status.
 * The engine writes a plain fixture here, as it writes /sys, and a plain file cannot unbind a driver: a
 * prepare here always fails when it reads the unbind's outcome back, exactly what the rollback tests need.
 * No module is changed (change_modules is false). test-engine-kernel.c drives the engine through the fake
 * kernel instead. */
#include <dirent.h>
#include <sys/stat.h>

#include "config.h"
#include "engine-fixture.h"
#include "engine.h"
#include "journal.h"
#include "plan.h"
#include "util.h"

static struct fixture f;
static struct engine *e;

static struct vm_config *vm(const char *name, const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	CHECK_INT(vm_config_parse_string(name, text, "test.ini", &c, &d), 0);
	return c;
}

static char *read_text(const char *path)
{
	FILE *in = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	if (!in)
		return NULL;
	if (getdelim(&buf, &cap, '\0', in) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(in);
	return buf;
}

static void test_journal(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("win10"), *back = NULL;
	_cleanup_strv_free_ char **names = NULL;
	char path[256];
	struct stat st;

	CHECK_INT(journal_init(f.run), 0);
	CHECK_INT(journal_load(f.run, "win10", &back), -ENOENT);
	p->phase = PHASE_PREPARING;
	CHECK_INT(journal_save(f.run, p), 0);
	snprintf(path, sizeof(path), "%s/state/win10.state.tmp", f.run);
	CHECK(stat(path, &st) < 0 && errno == ENOENT); /* the temp file was renamed away */
	{
		/* Nothing else is left behind either (write_file_atomic's temp file is hidden). */
		struct dirent **entries = NULL;
		int n;

		snprintf(path, sizeof(path), "%s/state", f.run);
		n = scandir(path, &entries, NULL, alphasort);
		CHECK_INT(n, 3);
		CHECK_STR(entries[n - 1]->d_name, "win10.state");
		for (int i = 0; i < n; i++)
			free(entries[i]);
		free(entries);
	}
	snprintf(path, sizeof(path), "%s/state/win10.state", f.run);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_INT(journal_load(f.run, "win10", &back), 0);
	CHECK_INT(back->phase, PHASE_PREPARING);
	CHECK_INT(journal_list(f.run, &names), 0);
	CHECK_INT(strv_length(names), 1);
	CHECK_STR(names[0], "win10");

	/* A journal named for another VM is not believed. */
	{
		_cleanup_(plan_freep) struct plan *other = plan_new("linux"), *wrong = NULL;
		char from[256], to[256];

		CHECK_INT(journal_save(f.run, other), 0);
		snprintf(from, sizeof(from), "%s/state/linux.state", f.run);
		snprintf(to, sizeof(to), "%s/state/impostor.state", f.run);
		CHECK(rename(from, to) == 0);
		CHECK_INT(journal_load(f.run, "impostor", &wrong), -EINVAL);
		CHECK_INT(journal_remove(f.run, "impostor"), 0);
	}
	/* A damaged journal reads as -EINVAL, not as an empty plan. */
	fx_write(&f, "run", "state/broken.state", "{\"vm\": \"broken\", \"phase\": ");
	plan_free(back);
	back = NULL;
	CHECK_INT(journal_load(f.run, "broken", &back), -EINVAL);
	CHECK_INT(journal_remove(f.run, "broken"), 0);
	CHECK_INT(journal_remove(f.run, "broken"), 0);
	CHECK_INT(journal_remove(f.run, "win10"), 0);
}

static void test_check(void)
{
	_cleanup_(vm_config_freep) struct vm_config *good =
		vm("win10", "[device.gpu]\naddress = 0a:00.0\nwhole-group = yes\n");
	_cleanup_(vm_config_freep) struct vm_config *bad = vm("win10", "[device.gpu]\naddress = 0a:00.0\n");
	json_object *o = NULL, *v;

	CHECK_INT(engine_check(e, good, NULL, &o), 0);
	CHECK(json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v));
	CHECK(json_object_object_get_ex(o, "plan", &v));
	CHECK(json_object_object_get_ex(v, "devices", &v) && json_object_array_length(v) == 4);
	json_object_put(o);

	CHECK_INT(engine_check(e, bad, NULL, &o), 0);
	CHECK(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v));
	CHECK(json_object_object_get_ex(o, "problems", &v) && json_object_array_length(v) == 1);
	CHECK(strstr(json_object_get_string(json_object_array_get_idx(v, 0)), "is not viable"));
	json_object_put(o);

	/* A dry run changes nothing, not even the journal directory's contents. */
	{
		_cleanup_strv_free_ char **names = NULL;

		CHECK_INT(journal_list(f.run, &names), 0);
		CHECK_INT(strv_length(names), 0);
	}
}

static void test_rollback(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("nas", "[device.a]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *override = NULL, *probe = NULL;
	char path[256];
	json_object *st = NULL, *v;

	/* The fixture's driver link never changes, so the unbind's outcome is not there and everything is
	 * undone. */
	CHECK_INT(engine_prepare(e, c, NULL, &msg), -EIO);
	CHECK_STR(msg, "VM nas: " NVME_A " (a): it is still bound to nvme after the unbind returned");
	snprintf(path, sizeof(path), "%s/bus/pci/devices/" NVME_A "/driver_override", f.sys);
	override = read_text(path);
	CHECK_STR(override, "\n"); /* cleared again on the way back */
	snprintf(path, sizeof(path), "%s/bus/pci/drivers_probe", f.sys);
	probe = read_text(path);
	CHECK_STR(probe, "\n"); /* no probe of a device that never left its driver */

	CHECK_INT(journal_load(f.run, "nas", &p), 0);
	CHECK_INT(p->phase, PHASE_FAILED);
	CHECK_INT(p->devices[0].step, DEVICE_RESTORED);
	CHECK_STR(p->error, msg);

	CHECK_INT(engine_status(e, "nas", &st), 0);
	v = json_object_array_get_idx(json_object_object_get(st, "vms"), 0);
	CHECK_STR(json_object_get_string(json_object_object_get(v, "state")), "on-host");
	json_object_put(st);

	/* libvirt's release after the failed start: nothing to undo, the journal goes; a second is a no-op. */
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_INT(journal_load(f.run, "nas", &p), -ENOENT);
	CHECK_INT(engine_release(e, "nas", &msg2), 0);
	CHECK_INT(engine_release(e, "never-prepared", &msg2), 0);
}

static void test_claims(void)
{
	_cleanup_(vm_config_freep) struct vm_config *thief = vm("thief", "[device.x]\naddress = 04:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *again = vm("owner", "[device.x]\naddress = 04:00.0\n");
	_cleanup_(plan_freep) struct plan *owner = plan_new("owner");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	struct plan_device *d;
	json_object *o = NULL, *v;

	/* "owner" holds the NVMe on vfio-pci (as its journal says). */
	owner->devices = calloc(1, sizeof(*owner->devices));
	d = &owner->devices[0];
	d->name = strdup("x");
	memcpy(d->address, NVME_A, 13);
	d->original_driver = strdup("nvme");
	d->iommu_group = 14;
	d->step = DEVICE_ON_VFIO;
	owner->n_devices = 1;
	owner->phase = PHASE_PREPARED;
	CHECK_INT(journal_save(f.run, owner), 0);

	CHECK_INT(engine_prepare(e, thief, NULL, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM thief: " NVME_A " (x): the device belongs to VM owner, which hookd has prepared");
	CHECK_INT(engine_check(e, thief, NULL, &o), 0);
	CHECK(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v));
	json_object_put(o);
	CHECK_INT(engine_prepare(e, again, NULL, &msg2), ENGINE_REFUSED);
	CHECK_STR(msg2, "VM owner: hookd still holds its devices (prepared); give them back first with "
			"'hookctl release owner'");

	/* Status compares the journal with sysfs: the fixture says nvme, so not "prepared". */
	CHECK_INT(engine_status(e, NULL, &o), 0);
	v = json_object_array_get_idx(json_object_object_get(o, "vms"), 0);
	CHECK_STR(json_object_get_string(json_object_object_get(v, "name")), "owner");
	CHECK_STR(json_object_get_string(json_object_object_get(v, "state")), "partial");
	json_object_put(o);
	CHECK_INT(journal_remove(f.run, "owner"), 0);
}

static void test_recover(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("crashed"), *back = NULL;

	p->phase = PHASE_PREPARING;
	CHECK_INT(journal_save(f.run, p), 0);
	CHECK_INT(engine_recover(e), 0);
	CHECK_INT(journal_load(f.run, "crashed", &back), 0);
	CHECK_INT(back->phase, PHASE_FAILED);
	CHECK(back->error && strstr(back->error, "interrupted"));
	CHECK_INT(journal_remove(f.run, "crashed"), 0);
}

static void test_bad_names(void)
{
	_cleanup_free_ char *msg = NULL;

	CHECK_INT(engine_release(e, "../etc/passwd", &msg), -EINVAL);
	CHECK(msg != NULL);
}

int main(void)
{
	struct engine_options opts;

	fx_machine(&f);
	opts = (struct engine_options){ .sysfs_root = f.sys,
					.proc_root = f.proc,
					.run_dir = f.run,
					.sysfs_timeout_ms = 2000,
					.operation_timeout_ms = 10000 };
	CHECK_INT(engine_new(&opts, &e), 0);
	RUN(test_journal);
	RUN(test_check);
	RUN(test_rollback);
	RUN(test_claims);
	RUN(test_recover);
	RUN(test_bad_names);
	engine_free(e);
	fx_clear(&f);
	return 0;
}

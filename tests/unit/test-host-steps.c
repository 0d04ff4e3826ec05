/* Host changes as plan steps, end to end through the engine, the fake kernel and the fake host bus, with the
 * CPU governor and EPP (fixture cpufreq trees: QEMU under TCG has no cpufreq): applied in plan order before the
 * devices move and journaled before each write, restored in reverse after the devices are back, undone by
 * the rollback of a failed prepare, refcounted across two VMs through their journals, refused before any
 * write, and restored after a kill -9 by recovery and release. Fixture trees only, never /sys. */
#include "engine-rig.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "util.h"

static struct engine_rig rig;

/* Four CPUs with intel_pstate's cpufreq: powersave and balance_performance, as a laptop boots. */
static void fx_cpufreq(void)
{
	fx_write(&rig.f, "sys", "devices/system/cpu/online", "0-3");
	for (int cpu = 0; cpu < 4; cpu++) {
		char rel[128];

#define CPUFREQ(attr, ...)                                                                    \
	do {                                                                                  \
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cpufreq/%s", cpu, attr); \
		fx_write(&rig.f, "sys", rel, __VA_ARGS__);                                    \
	} while (0)
		CPUFREQ("scaling_governor", "powersave");
		CPUFREQ("scaling_available_governors", "performance powersave");
		CPUFREQ("energy_performance_preference", "balance_performance");
		CPUFREQ("energy_performance_available_preferences",
			"default performance balance_performance balance_power power");
#undef CPUFREQ
	}
}

/* CPU has no cpufreq directory (no scaling driver). */
static void remove_cpufreq(int cpu)
{
	const char *attrs[] = { "scaling_governor", "scaling_available_governors", "energy_performance_preference",
				"energy_performance_available_preferences" };
	char path[512];

	for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
		snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/cpufreq/%s", rig.f.sys, cpu, attrs[i]);
		CHECK(unlink(path) == 0);
	}
	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/cpufreq", rig.f.sys, cpu);
	CHECK(rmdir(path) == 0);
}

static void setup(void)
{
	fx_machine(&rig.f);
	fx_cpufreq();
	rig_start(&rig);
	rig_up(&rig);
}

/* cpufreq attribute ATTR of CPU now. Static buffer. */
static const char *cpufreq(int cpu, const char *attr)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cpufreq/%s", cpu, attr);
	return fx_read(&rig.f, "sys", rel);
}

/* The fake kernel's log lines that mention NEEDLE, joined by "|". Static buffer. */
static const char *log_lines(const char *needle)
{
	static char buf[4096];
	_cleanup_free_ char *copy = strdup(fk_log(rig.k));
	char *save = NULL;

	buf[0] = '\0';
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strstr(l, needle)) {
			/* "write devices/system/cpu/cpu2/cpufreq/scaling_governor performance" -> "cpu2 gov performance" */
			const char *cpu = strstr(l, "/cpu/cpu"), *attr = strstr(l, "/cpufreq/");

			if (cpu && attr)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%scpu%.*s %s %s",
					 buf[0] ? "|" : "", (int)strcspn(cpu + 8, "/"), cpu + 8,
					 startswith(attr + 9, "scaling_governor") ? "gov" : "epp", strrchr(l, ' ') + 1);
			else
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? "|" : "", l);
		}
	return buf;
}

static const char *win10_ini = "[vm]\nvm-cpus = 2-3\ncpu-governor = performance\n"
			       "energy-performance-preference = performance\n[device.ssd]\naddress = 04:00.0\n";

/* Prepare sets the EPP then the governor of each of the VM's CPUs, journaled with the values found, before
 * the SSD moves; release gives the SSD back first, then the governors, then the EPPs (the governor's switch
 * back does not restore the EPP); the other CPUs are never touched. */
static void test_order_and_restore(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_STR(log_lines(" "), "cpu2 epp performance|cpu3 epp performance|cpu2 gov performance|"
				  "cpu3 gov performance|load vfio_pci|override " NVME_A " vfio-pci|unbind " NVME_A
				  " nvme|bind " NVME_A " vfio-pci");
	CHECK_STR(cpufreq(2, "scaling_governor"), "performance");
	CHECK_STR(cpufreq(3, "energy_performance_preference"), "performance");
	CHECK_STR(cpufreq(1, "scaling_governor"), "powersave");
	p = rig_journal(&rig, "win10");
	CHECK_INT(p->n_host_changes, 4);
	CHECK_STR(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->before, "powersave");
	CHECK_STR(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->applied, "performance");
	CHECK_INT(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->step, HOST_CHANGE_APPLIED);
	CHECK_STR(rig_change(p, HOST_CPU_EPP, "cpu2")->before, "balance_performance");

	fk_log_clear(rig.k);
	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	CHECK(msg2 == NULL);
	CHECK_STR(log_lines(" "), "unbind " NVME_A " vfio-pci|override " NVME_A " (null)|bind " NVME_A
				  " nvme|cpu3 gov powersave|cpu2 gov powersave|cpu3 epp balance_performance|"
				  "cpu2 epp balance_performance");
	for (int cpu = 2; cpu <= 3; cpu++) {
		CHECK_STR(cpufreq(cpu, "scaling_governor"), "powersave");
		CHECK_STR(cpufreq(cpu, "energy_performance_preference"), "balance_performance");
	}
	CHECK_STR(fhb_log(rig.bus), ""); /* the governor never needs systemd */
	rig_teardown(&rig);
}

/* The plan's order is the comment's in host_changes_plan: hugepages (the step most likely to fall short,
 * so a refusal has nothing to undo), then the governor on the VM's CPUs; release the other way round. */
static void test_hugepages_before_governor(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nvm-cpus = 2-3\ncpu-governor = performance\nhugepages = 16\n"
				"[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	size_t pages = SIZE_MAX, governor = SIZE_MAX;

	setup();
	fk_hugepages_add(rig.k, 0, 2048, 0);
	fk_hugepages_set_memory(rig.k, 0, 2048, 1000, 0);
	fx_write(&rig.f, "proc", "meminfo", "MemTotal:       32000000 kB\nHugepagesize:       2048 kB");
	fx_write(&rig.f, "proc", "sys/vm/compact_memory", "0");
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	p = rig_journal(&rig, "win10");
	for (size_t i = 0; i < p->n_host_changes; i++) {
		if (p->host_changes[i].kind == HOST_HUGEPAGES && pages == SIZE_MAX)
			pages = i;
		if (p->host_changes[i].kind == HOST_CPU_GOVERNOR && governor == SIZE_MAX)
			governor = i;
	}
	CHECK(pages != SIZE_MAX && governor != SIZE_MAX);
	CHECK(pages < governor);
	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 0);
	CHECK_STR(cpufreq(2, "scaling_governor"), "powersave");
	rig_teardown(&rig);
}

/* What is refused is refused in the check phase, before anything is written, in one line each. */
static void test_refused_before_any_write(void)
{
	_cleanup_(vm_config_freep) struct vm_config *schedutil =
		rig_vm("win10", "[vm]\nvm-cpus = 2-3\ncpu-governor = schedutil\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *offline =
		rig_vm("win10", "[vm]\nvm-cpus = 2-5\ncpu-governor = performance\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, schedutil, NULL, &msg), ENGINE_REFUSED);
	CHECK_STR(msg, "VM win10: cpu-governor cpu2: cpu2 does not offer the governor schedutil (it offers: "
		       "performance powersave)");
	CHECK_INT(engine_prepare(rig.e, offline, NULL, &msg2), ENGINE_REFUSED);
	CHECK(strstr(msg2, "VM win10: cpu-governor: ") && strstr(msg2, "not online"));
	/* A CPU without cpufreq (no scaling driver, or a VM's vCPU). */
	remove_cpufreq(3);
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg3), ENGINE_REFUSED);
	CHECK(strstr(msg3, "cpu3 has no cpufreq energy performance preferences"));
	CHECK_STR(fk_log(rig.k), "");
	CHECK_STR(cpufreq(2, "scaling_governor"), "powersave");
	rig_teardown(&rig);
}

/* A prepare that fails after the host changes were made (the SSD's driver_override cannot be written) gives
 * them back in its rollback, and the journal says so. */
static void test_rollback(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_free_ char *msg = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	setenv("HOOKD_FAULT", "fail-at:override:" NVME_A, 1);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	unsetenv("HOOKD_FAULT");
	for (int cpu = 2; cpu <= 3; cpu++) {
		CHECK_STR(cpufreq(cpu, "scaling_governor"), "powersave");
		CHECK_STR(cpufreq(cpu, "energy_performance_preference"), "balance_performance");
	}
	p = rig_journal(&rig, "win10");
	CHECK_INT(p->phase, PHASE_FAILED);
	for (size_t i = 0; i < p->n_host_changes; i++)
		CHECK_INT(p->host_changes[i].step, HOST_CHANGE_RESTORED);
	rig_teardown(&rig);

	/* A host change's own write failing: the ones before it are given back, the ones after never made. */
	setup();
	setenv("HOOKD_FAULT", "fail-at:host-apply:cpu-governor:cpu3", 1);
	free(msg);
	msg = NULL;
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	unsetenv("HOOKD_FAULT");
	CHECK_STR(msg, "VM win10: cpu-governor cpu3: Operation canceled");
	/* cpu3's governor was journaled APPLYING: whether or not its write happened, the host's value goes back. */
	CHECK_STR(log_lines("cpufreq"), "cpu2 epp performance|cpu3 epp performance|cpu2 gov performance|"
					"cpu3 gov powersave|cpu2 gov powersave|cpu3 epp balance_performance|"
					"cpu2 epp balance_performance");
	CHECK(!strstr(fk_log(rig.k), NVME_A));
	rig_teardown(&rig);
#endif
}

/* Two VMs sharing CPU 3: the second takes the host's value from the first's journal (never the first's
 * performance), the first's release keeps CPU 3 as both want it, the last release writes the host's value. */
static void test_shared_between_two_vms(void)
{
	_cleanup_(vm_config_freep) struct vm_config *a = rig_vm("win10", win10_ini);
	_cleanup_(vm_config_freep) struct vm_config *b =
		rig_vm("nas", "[vm]\nvm-cpus = 3\ncpu-governor = performance\n[device.ssd]\naddress = 05:00.0\n");
	_cleanup_(vm_config_freep) struct vm_config *conflict =
		rig_vm("lab", "[vm]\nvm-cpus = 1,3\ncpu-governor = powersave\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *m5 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, a, NULL, &m1), 0);
	fk_log_clear(rig.k);
	CHECK_INT(engine_prepare(rig.e, b, NULL, &m2), 0);
	p = rig_journal(&rig, "nas");
	CHECK_STR(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->before, "powersave");
	CHECK_STR(log_lines("cpufreq"), "cpu3 gov performance");

	CHECK_INT(engine_release(rig.e, "win10", &m4), 0);
	CHECK_STR(cpufreq(2, "scaling_governor"), "powersave");
	CHECK_STR(cpufreq(3, "scaling_governor"), "performance");		       /* nas still runs on it */
	CHECK_STR(cpufreq(3, "energy_performance_preference"), "balance_performance"); /* nas wants no EPP */

	/* A third VM wanting another governor on CPU 3 is refused before anything is written. */
	fk_log_clear(rig.k);
	CHECK_INT(engine_prepare(rig.e, conflict, NULL, &m3), ENGINE_REFUSED);
	CHECK_STR(m3, "VM lab: cpu-governor cpu3: two VMs want different values on this CPU: performance and "
		      "powersave (VM nas holds it)");
	CHECK_STR(fk_log(rig.k), "");

	CHECK_INT(engine_release(rig.e, "nas", &m5), 0);
	CHECK_STR(cpufreq(3, "scaling_governor"), "powersave");
	rig_teardown(&rig);
}

/* kill -9 between journaling a change and writing it: the journal has it APPLYING with the host's value;
 * recovery and release restore the host exactly. The prepare runs in a child that the fault point kills. */
static void test_kill_between_journal_and_write(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL;

	setup();
	rig_prepare_killed(&rig, c, "crash-at:host-apply:cpu-governor:cpu3", NULL);
	p = rig_journal(&rig, "win10");
	CHECK_INT(p->phase, PHASE_PREPARING);
	CHECK_INT(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->step, HOST_CHANGE_APPLYING);
	CHECK_STR(rig_change(p, HOST_CPU_GOVERNOR, "cpu3")->before, "powersave");
	CHECK_INT(rig_change(p, HOST_CPU_GOVERNOR, "cpu2")->step, HOST_CHANGE_APPLIED);
	CHECK_STR(cpufreq(2, "scaling_governor"), "performance");
	CHECK_STR(cpufreq(3, "scaling_governor"), "powersave"); /* killed before the write */

	rig_up(&rig); /* recovery */
	CHECK_INT(engine_release(rig.e, "win10", &msg), 0);
	for (int cpu = 2; cpu <= 3; cpu++) {
		CHECK_STR(cpufreq(cpu, "scaling_governor"), "powersave");
		CHECK_STR(cpufreq(cpu, "energy_performance_preference"), "balance_performance");
	}
	{
		_cleanup_(plan_freep) struct plan *gone = NULL;

		CHECK_INT(journal_load(rig.run_dir, "win10", &gone), -ENOENT);
	}
	rig_teardown(&rig);
#endif
}

/* FIELD of the host change KIND/TARGET in the array CHANGES, "" for null; SHARED_WITH joined by ",". */
static const char *field(json_object *changes, const char *kind, const char *target, const char *key)
{
	static char buf[256];

	for (size_t i = 0; i < json_object_array_length(changes); i++) {
		json_object *c = json_object_array_get_idx(changes, i), *v = NULL;

		if (!streq(json_object_get_string(json_object_object_get(c, "kind")), kind) ||
		    !streq(json_object_get_string(json_object_object_get(c, "target")), target))
			continue;
		buf[0] = '\0';
		CHECK(json_object_object_get_ex(c, key, &v));
		if (v && json_object_is_type(v, json_type_array))
			for (size_t j = 0; j < json_object_array_length(v); j++)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", j ? "," : "",
					 json_object_get_string(json_object_array_get_idx(v, j)));
		else if (v)
			snprintf(buf, sizeof(buf), "%s", json_object_get_string(v));
		return buf;
	}
	CHECK(!"no such host change");
	return NULL;
}

/* Status says what is applied for each VM, the host's value and who shares it; check shows the value the host
 * has now and the VMs a new one would share a change with. */
static void test_status_and_check(void)
{
	_cleanup_(vm_config_freep) struct vm_config *a = rig_vm("win10", win10_ini);
	_cleanup_(vm_config_freep) struct vm_config *b =
		rig_vm("nas", "[vm]\nvm-cpus = 3\ncpu-governor = performance\n[device.ssd]\naddress = 05:00.0\n");
	_cleanup_free_ char *m1 = NULL, *m2 = NULL;
	json_object *st = NULL, *check = NULL, *changes;

	setup();
	CHECK_INT(engine_prepare(rig.e, a, NULL, &m1), 0);
	CHECK_INT(engine_check(rig.e, b, NULL, &check), 0);
	CHECK(json_object_get_boolean(json_object_object_get(check, "ok")));
	changes = json_object_object_get(check, "host_changes");
	CHECK_INT(json_object_array_length(changes), 1);
	CHECK_STR(field(changes, "cpu-governor", "cpu3", "now"), "performance");
	CHECK_STR(field(changes, "cpu-governor", "cpu3", "wanted"), "performance");
	CHECK_STR(field(changes, "cpu-governor", "cpu3", "shared_with"), "win10");
	CHECK_STR(field(changes, "cpu-governor", "cpu3", "step"), "planned");
	json_object_put(check);

	CHECK_INT(engine_status(rig.e, "win10", &st), 0);
	changes =
		json_object_object_get(json_object_array_get_idx(json_object_object_get(st, "vms"), 0), "host_changes");
	CHECK_INT(json_object_array_length(changes), 4);
	CHECK_STR(field(changes, "cpu-governor", "cpu2", "before"), "powersave");
	CHECK_STR(field(changes, "cpu-governor", "cpu2", "applied"), "performance");
	CHECK_STR(field(changes, "cpu-governor", "cpu2", "step"), "applied");
	CHECK_STR(field(changes, "cpu-governor", "cpu2", "shared_with"), "");
	CHECK_STR(field(changes, "cpu-epp", "cpu3", "before"), "balance_performance");
	json_object_put(st);

	CHECK_INT(engine_prepare(rig.e, b, NULL, &m2), 0);
	CHECK_INT(engine_status(rig.e, NULL, &st), 0);
	for (size_t i = 0; i < 2; i++) {
		json_object *v = json_object_array_get_idx(json_object_object_get(st, "vms"), i);
		bool is_nas = streq(json_object_get_string(json_object_object_get(v, "name")), "nas");

		changes = json_object_object_get(v, "host_changes");
		CHECK_STR(field(changes, "cpu-governor", "cpu3", "shared_with"), is_nas ? "win10" : "nas");
		CHECK_STR(field(changes, "cpu-governor", "cpu3", "before"), "powersave");
	}
	json_object_put(st);
	rig_teardown(&rig);
}

int main(void)
{
	RUN(test_order_and_restore);
	RUN(test_hugepages_before_governor);
	RUN(test_refused_before_any_write);
	RUN(test_rollback);
	RUN(test_shared_between_two_vms);
	RUN(test_kill_between_journal_and_write);
	RUN(test_status_and_check);
	return 0;
}
